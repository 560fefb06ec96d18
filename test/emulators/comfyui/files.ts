// ComfyUI's input/output/temp folders in memory: what output nodes write (VHS_VideoCombine, SaveVideo,
// SaveImage), GET /view with server.py's path rules and aiohttp's FileResponse headers (Etag, Last-Modified,
// Accept-Ranges, single ranges), and POST /upload/image.
import type http from "node:http";
import path from "node:path";
import { parseMultipart } from "./multipart";

interface StoredFile {
  bytes: Buffer;
  mtimeMs: number;
}

const key = (type: string, subfolder: string, filename: string): string => `${type}/${subfolder}/${filename}`;

export class FileStore {
  private readonly files = new Map<string, StoredFile>();

  constructor() {
    // ComfyUI's input folder ships with example.png (LoadImage lists it in the capture).
    this.put("input", "", "example.png", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  }

  put(type: string, subfolder: string, filename: string, bytes: Buffer): void {
    this.files.set(key(type, subfolder, filename), { bytes, mtimeMs: Date.now() });
  }

  get(type: string, subfolder: string, filename: string): Buffer | undefined {
    return this.files.get(key(type, subfolder, filename))?.bytes;
  }

  /** Names in the input folder, with their subfolder (`sub/x.png`). */
  inputFiles(): string[] {
    return [...this.files.keys()].filter((k) => k.startsWith("input/")).map((k) => k.replace(/^input\/\/?/, ""));
  }

  /** `<base>_00001<suffix>`, the first counter not taken in that folder. */
  nextName(type: string, subfolder: string, base: string, suffix: string): string {
    for (let counter = 1; ; counter += 1) {
      const name = `${base}_${String(counter).padStart(5, "0")}${suffix}`;
      if (!this.files.has(key(type, subfolder, name))) return name;
    }
  }

  /** GET /view. `later` schedules the pieces of a slowed-down body. */
  view(query: URLSearchParams, headers: http.IncomingHttpHeaders, res: http.ServerResponse, spreadMs: number, later: (ms: number, fn: () => void) => void): void {
    if (!query.has("filename")) return void res.writeHead(404).end();
    let filename = query.get("filename") ?? "";
    let type = query.get("type") ?? "output";
    const annotated = /^(.*) \[(input|output|temp)\]$/.exec(filename);
    if (annotated) {
      filename = annotated[1] ?? "";
      type = annotated[2] ?? type;
    }
    if (!filename || filename.startsWith("/") || filename.includes("..")) return void res.writeHead(400).end();
    if (!["input", "output", "temp"].includes(type)) return void res.writeHead(400).end();
    let subfolder = "";
    if (query.has("subfolder")) {
      const root = `/comfy/${type}`;
      const full = path.posix.resolve(root, query.get("subfolder") ?? "");
      if (full !== root && !full.startsWith(`${root}/`)) return void res.writeHead(403).end();
      subfolder = path.posix.relative(root, full);
    }
    const name = path.posix.basename(filename);
    const file = this.files.get(key(type, subfolder, name));
    if (!file) return void res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("404: Not Found");
    const contentType = name.endsWith(".mp4") ? "video/mp4" : name.endsWith(".png") ? "image/png" : name.endsWith(".gif") ? "image/gif" : "application/octet-stream";
    // aiohttp: Etag "<mtime_ns hex>-<size hex>", Last-Modified from the file's mtime.
    const etag = `"${(BigInt(Math.round(file.mtimeMs)) * 1_000_000n).toString(16)}-${file.bytes.length.toString(16)}"`;
    const common = { "Content-Disposition": `filename="${name}"`, "Content-Type": contentType, Etag: etag, "Last-Modified": new Date(file.mtimeMs).toUTCString(), "Accept-Ranges": "bytes" };
    if (headers["if-none-match"] === etag) return void res.writeHead(304, { Etag: etag }).end();
    let body = file.bytes;
    const range = /^bytes=(\d*)-(\d*)$/.exec(String(headers.range ?? ""));
    if (range && (range[1] || range[2])) {
      const size = file.bytes.length;
      const start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
      const end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size || start > end) return void res.writeHead(416, { "Content-Range": `bytes */${size}` }).end();
      body = file.bytes.subarray(start, end + 1);
      res.writeHead(206, { ...common, "Content-Range": `bytes ${start}-${end}/${size}`, "Content-Length": body.length });
    } else {
      res.writeHead(200, { ...common, "Content-Length": body.length });
    }
    if (spreadMs <= 0) return void res.end(body);
    const parts = 10;
    const size = Math.ceil(body.length / parts);
    for (let i = 0; i < parts; i += 1) {
      later((spreadMs * (i + 1)) / parts, () => {
        if (res.destroyed) return;
        const chunk = body.subarray(i * size, (i + 1) * size);
        if (i === parts - 1) res.end(chunk);
        else res.write(chunk);
      });
    }
  }

  /** POST /upload/image: `{name, subfolder, type}`; the same bytes under a taken name are reused, others renamed. */
  upload(body: Buffer, headers: http.IncomingHttpHeaders): { status: number; json?: unknown } {
    const parts = parseMultipart(body, headers["content-type"] ?? "");
    const image = parts?.find((p) => p.name === "image" && p.filename !== undefined);
    if (!parts || !image?.filename) return { status: 400 };
    const field = (name: string): string | undefined => parts.find((p) => p.name === name && p.filename === undefined)?.data.toString("utf8");
    const type = field("type") ?? "input";
    if (!["input", "output", "temp"].includes(type)) return { status: 400 };
    const subfolder = field("subfolder") ?? "";
    const normalised = path.posix.normalize(subfolder || ".");
    if (normalised.startsWith("..") || path.posix.isAbsolute(normalised) || image.filename.includes("/")) return { status: 400 };
    const folder = normalised === "." ? "" : normalised;
    const overwrite = field("overwrite");
    let name = image.filename;
    if (overwrite !== "true" && overwrite !== "1") {
      const ext = path.posix.extname(name);
      const stem = name.slice(0, name.length - ext.length);
      for (let i = 1; this.files.has(key(type, folder, name)); i += 1) {
        if (this.get(type, folder, name)?.equals(image.data)) break; // same content: reuse
        name = `${stem} (${i})${ext}`;
      }
    }
    this.put(type, folder, name, Buffer.from(image.data));
    return { status: 200, json: { name, subfolder, type } };
  }
}
