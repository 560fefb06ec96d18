// The ComfyUI emulator as a process of its own, for tests outside mocha (the worker's pytest suite):
//   node dist/test/emulators/comfyuiStandalone.js ['<ComfyEmulatorOptions as JSON>']
// prints "comfyui-emulator listening on http://127.0.0.1:<port>" once it answers, then reads one JSON object a
// line on stdin: {"requests": true} answers the requests recorded so far (method, path, JSON body) as one JSON
// line; any other object is applied with setOptions (a "mode" member through setMode) and answered "ok" (or
// "error: ..."). It exits when stdin closes, so a test run that dies leaves no emulator behind.
import * as readline from "node:readline";
import { ComfyUIEmulator, type ComfyEmulatorOptions, type ComfyMode } from "./comfyui";

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? "{}") as ComfyEmulatorOptions;
  const emulator = await ComfyUIEmulator.start(options);
  console.log(`comfyui-emulator listening on ${emulator.url}`);
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      const { mode, requests, ...rest } = JSON.parse(line) as Partial<ComfyEmulatorOptions> & { mode?: ComfyMode; requests?: boolean };
      if (requests) {
        console.log(JSON.stringify(emulator.requests.map(({ method, path, body }) => ({ method, path, body: body ?? null }))));
        continue;
      }
      emulator.setOptions(rest);
      if (mode) await emulator.setMode(mode);
      console.log("ok");
    } catch (error) {
      console.log(`error: ${String(error)}`);
    }
  }
  await emulator.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
