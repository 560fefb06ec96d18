// The answers of a real ComfyUI 0.3.64 (with VideoHelperSuite at our pin), recorded on an H200 and committed
// under test/fixtures/comfyui-real-0.3.64/ (see its README). The emulator serves object_info from it, and the
// tests compare the emulator's answers and replay the real ones through the checks client.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";

const CAPTURE = path.join("test", "fixtures", "comfyui-real-0.3.64");

/** The capture folder, found above this file (it runs from dist/ too). */
export function captureDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, CAPTURE);
    if (fs.existsSync(path.join(candidate, "responses.json"))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`cannot find ${CAPTURE} above ${__dirname}`);
  }
}

const responseSchema = z.object({
  method: z.string(),
  url: z.string(),
  status: z.number(),
  content_type: z.string().nullable().optional(),
  headers: z.record(z.string(), z.string()),
  bytes: z.number(),
  raw: z.string().optional(),
  json: z.unknown().optional(),
  request_body: z.unknown().optional(),
  first_bytes_hex: z.string().optional(),
});
export type CapturedResponse = z.infer<typeof responseSchema>;

const wsMessageSchema = z.object({ t: z.number(), kind: z.string(), raw: z.string(), json: z.unknown() });
export type CapturedMessage = z.infer<typeof wsMessageSchema>;
const wsMetaSchema = z.object({ client_id: z.string(), prompt_id: z.string(), done: z.boolean(), url: z.string() });

let objectInfo: Readonly<Record<string, unknown>> | undefined;
let responses: Readonly<Record<string, CapturedResponse>> | undefined;

/** GET /object_info of the real server, parsed once; callers clone before changing anything. */
export function capturedObjectInfo(): Readonly<Record<string, unknown>> {
  objectInfo ??= z.record(z.string(), z.unknown()).parse(JSON.parse(fs.readFileSync(path.join(captureDir(), "object_info_all.json"), "utf8")));
  return objectInfo;
}

/** Every captured request and answer, by name (system_stats, prompt_post_ok, view_gifs…). */
export function capturedResponses(): Readonly<Record<string, CapturedResponse>> {
  responses ??= z.record(z.string(), responseSchema).parse(JSON.parse(fs.readFileSync(path.join(captureDir(), "responses.json"), "utf8")));
  return responses;
}

export function capturedResponse(name: string): CapturedResponse {
  const found = capturedResponses()[name];
  if (!found) throw new Error(`the capture has no response "${name}"`);
  return found;
}

/** The websocket messages of one smoke run, in order, with the client and prompt ids they belong to. */
export function capturedWebsocket(): { meta: z.infer<typeof wsMetaSchema>; messages: CapturedMessage[] } {
  const lines = fs.readFileSync(path.join(captureDir(), "ws.jsonl"), "utf8").split("\n").filter((l) => l.trim());
  const [first, ...rest] = lines;
  return { meta: wsMetaSchema.parse(JSON.parse(first ?? "{}")), messages: rest.map((l) => wsMessageSchema.parse(JSON.parse(l))) };
}
