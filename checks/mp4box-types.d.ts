// The subset of mp4box we use. The package's own declarations are reachable only through its `exports`
// map, which this project's `moduleResolution: node` does not read; what it hands back is checked with
// zod in mp4.ts, so these declarations stay deliberately loose.
declare module "mp4box" {
  export class MP4BoxBuffer extends ArrayBuffer {
    fileStart: number;
    static fromArrayBuffer(buffer: ArrayBufferLike, fileStart: number): MP4BoxBuffer;
  }
  export interface Mp4File {
    onReady?: (info: unknown) => void;
    onError?: (module: string, message: string) => void;
    appendBuffer(buffer: MP4BoxBuffer, last?: boolean): number;
    flush(): void;
    getTrackSamplesInfo(trackId: number): unknown[];
  }
  export function createFile(): Mp4File;
  export const Log: { setLogLevel(level: unknown): void; error: unknown };
}
