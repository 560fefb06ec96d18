// The emulator, started as the captured server (build 0.3.64, no models, ComfyUI in /tmp/rc/ComfyUI), gets the
// requests of test/fixtures/comfyui-real-0.3.64 in the order they were made there, and must answer what the
// real ComfyUI answered: statuses, JSON bodies, the websocket sequence of the smoke run, /view's headers.
// Only ids, timestamps and the client id of the checks' own run differ, and are normalised on both sides.
import assert from "node:assert/strict";
import fs from "node:fs";
import { WebSocket } from "ws";
import { Progress, loadWorkflow, runGenerateCheck } from "../../checks";
import { scratchDir } from "../checks/helpers";
import { ComfyUIEmulator } from "./comfyui";
import { capturedObjectInfo, capturedResponse, capturedWebsocket } from "./comfyui/capture";

/** Ids and timestamps replaced by placeholders, in keys and values alike. */
function normalise(value: unknown, names: Map<string, string>): unknown {
  const name = (text: string): string => names.get(text) ?? text;
  if (typeof value === "string") return name(value);
  if (Array.isArray(value)) return value.map((v) => normalise(v, names));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [name(k), k === "timestamp" || k === "create_time" ? 0 : normalise(v, names)]));
  }
  return value;
}

describe("ComfyUI emulator against the capture of a real ComfyUI 0.3.64", function () {
  this.timeout(20_000);
  let emu: ComfyUIEmulator;
  let out: string;
  const ours = new Map<string, string>();
  const theirs = new Map<string, string>();

  before(async () => {
    emu = await ComfyUIEmulator.start({ build: "0.3.64", installedModels: [], comfyRoot: "/tmp/rc/ComfyUI", jobMs: 60, historyDelayMs: 5 });
    out = scratchDir("capture");
  });
  after(async () => {
    await emu.close();
    fs.rmSync(out, { recursive: true, force: true });
  });

  async function request(name: string): Promise<{ status: number; headers: Headers; json: unknown }> {
    const captured = capturedResponse(name);
    // The captured URL names the real server's prompt id; ask for ours.
    let href = captured.url;
    for (const [real, placeholder] of theirs) {
      const mine = [...ours].find(([, p]) => p === placeholder)?.[0];
      if (mine) href = href.replaceAll(real, mine);
    }
    const url = new URL(href);
    const body = captured.request_body === undefined ? undefined : JSON.stringify(captured.request_body);
    const res = await fetch(`${emu.url}${url.pathname}${url.search}`, { method: captured.method, ...(body ? { body, headers: { "Content-Type": "application/json" } } : {}) });
    const type = res.headers.get("content-type") ?? "";
    const json: unknown = type.startsWith("application/json") ? await res.json() : (await res.arrayBuffer(), null);
    return { status: res.status, headers: res.headers, json };
  }

  /** Sends the captured request (unless its answer is given) and compares the answer with the captured one. */
  async function sameAs(name: string, given?: Awaited<ReturnType<typeof request>>): Promise<void> {
    const captured = capturedResponse(name);
    const answer = given ?? (await request(name));
    assert.equal(answer.status, captured.status, name);
    assert.equal(answer.headers.get("content-type"), captured.headers["Content-Type"], name);
    assert.deepEqual(normalise(answer.json, ours), normalise(captured.json, theirs), name);
  }

  it("answers system_stats, features, the empty queue and history, and object_info as captured", async () => {
    for (const name of ["system_stats", "api_system_stats", "features", "queue_before", "prompt_get_before", "history_before", "object_info_VHS_VideoCombine", "object_info_EmptyImage", "object_info_unknown_class"]) {
      await sameAs(name);
    }
    assert.equal((await request("index_html")).status, 200);
    const all = (await request("object_info_all")).json as Record<string, unknown>;
    const real = capturedObjectInfo();
    assert.equal(Object.keys(real).length, 417);
    for (const [className, entry] of Object.entries(real)) assert.deepEqual(all[className], entry, className);
  });

  it("gives the hand-written classes the capture lacks the shape of a captured custom node", async () => {
    const all = (await request("object_info_all")).json as Record<string, Record<string, unknown>>;
    const real = capturedObjectInfo() as Record<string, Record<string, unknown>>;
    const keys = Object.keys(real.VHS_VideoCombine ?? {}).sort();
    const handWritten = Object.keys(all).filter((name) => !(name in real));
    assert.ok(handWritten.includes("WanVideoModelLoader") && handWritten.includes("OnnxDetectionModelLoader"), handWritten.join(", "));
    for (const name of handWritten) {
      const entry = all[name] ?? {};
      assert.deepEqual(Object.keys(entry).sort(), keys, name);
      const input = entry.input as Record<string, unknown>;
      const order = entry.input_order as Record<string, unknown>;
      assert.deepEqual(Object.keys(order).sort(), Object.keys(input).sort(), `${name}: input_order names the same groups`);
      assert.ok(!("optional" in input) || Object.keys(input.optional as object).length > 0, `${name}: an empty optional group`);
    }
  });

  it("runs the checks' smoke generation, then the captured run with the same websocket sequence", async () => {
    const result = await runGenerateCheck({ url: emu.url, timeoutSeconds: 10, workflow: loadWorkflow({ workflow: "smoke" }), outDir: out, progress: new Progress(Date.now(), () => undefined) });
    assert.ok(result.ok, result.message);
    const queuedFirst = (capturedResponse("history_all_after").json as Record<string, { prompt: [number, string, unknown, { client_id: string }] }>);
    const [first] = Object.values(queuedFirst);
    ours.set(result.promptId ?? "", "<checks prompt>");
    theirs.set(first?.prompt[1] ?? "", "<checks prompt>");
    const ourHistory = (await (await fetch(`${emu.url}/history/${result.promptId ?? ""}`)).json()) as Record<string, { prompt: [number, string, unknown, { client_id: string }] }>;
    ours.set(Object.values(ourHistory)[0]?.prompt[3].client_id ?? "", "<checks client>");
    theirs.set(first?.prompt[3].client_id ?? "", "<checks client>");

    const { meta, messages } = capturedWebsocket();
    const ws = new WebSocket(`${emu.url.replace("http", "ws")}/ws?clientId=${meta.client_id}`);
    const received: unknown[] = [];
    let binary = 0;
    ws.on("message", (data: Buffer, isBinary) => (isBinary ? (binary += 1) : received.push(JSON.parse(data.toString()))));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const posted = await request("prompt_post_ok");
    const promptId = (posted.json as { prompt_id: string }).prompt_id;
    ours.set(promptId, "<prompt>");
    theirs.set(meta.prompt_id, "<prompt>");
    await sameAs("prompt_post_ok", posted);
    for (let waited = 0; !received.some((m) => JSON.stringify(m) === JSON.stringify({ type: "executing", data: { node: null, prompt_id: promptId } })); waited += 10) {
      assert.ok(waited < 5000, "no executing {node: null}");
      await new Promise((r) => setTimeout(r, 10));
    }
    ws.terminate();
    assert.equal(binary, 0);
    assert.deepEqual(received.map((m) => normalise(m, ours)), messages.map((m) => normalise(m.json, theirs)));
  });

  it("keeps the history entry and serves the video with the captured headers", async () => {
    await sameAs("history_entry");
    const captured = capturedResponse("view_gifs");
    const answer = await request("view_gifs");
    assert.equal(answer.status, 200);
    const names = (headers: Iterable<string>): string[] => [...headers].map((h) => h.toLowerCase()).filter((h) => !["date", "server", "connection", "keep-alive"].includes(h)).sort();
    assert.deepEqual(names(answer.headers.keys()), names(Object.keys(captured.headers)));
    for (const header of ["Content-Type", "Content-Disposition", "Accept-Ranges"]) assert.equal(answer.headers.get(header), captured.headers[header], header);
    assert.match(answer.headers.get("etag") ?? "", /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.ok(Number.isFinite(Date.parse(answer.headers.get("last-modified") ?? "")));
  });

  it("refuses an unknown node class and an out-of-range input with the captured 400 bodies", async () => {
    await sameAs("prompt_post_missing_node");
    await sameAs("prompt_post_invalid_value");
  });

  it("ends with the captured queue and history", async () => {
    await sameAs("queue_after");
    await sameAs("history_all_after");
  });
});
