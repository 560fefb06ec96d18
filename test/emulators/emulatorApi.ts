// A bare HTTP caller for the emulator tests: the key and a real User-Agent, the JSON body, the answer's
// status, content type and parsed body.
import type { RunPodEmulator } from "./runpod";

export type EmulatorApi = (method: string, path: string, body?: unknown) => Promise<{ status: number; type: string; json: Record<string, unknown> }>;

export function emulatorApi(emulator: () => RunPodEmulator): EmulatorApi {
  return async (method, path, body) => {
    const emu = emulator();
    const response = await fetch(`${emu.baseUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${emu.apiKey}`, "User-Agent": "emulator-test/1", ...(body ? { "Content-Type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, type: response.headers.get("content-type") ?? "", json: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
  };
}
