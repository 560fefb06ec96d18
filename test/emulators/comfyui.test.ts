// The ComfyUI emulator follows server.py where a client could notice: routes under /api, error bodies,
// /view and /upload rules, websocket routing, binary frames, and history written after execution_success.
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { ComfyUIEmulator, type ComfyEmulatorOptions } from "./comfyui";

const SMOKE = {
  "1": { class_type: "EmptyImage", inputs: { width: 64, height: 48, batch_size: 4, color: 0 } },
  "2": { class_type: "VHS_VideoCombine", inputs: { images: ["1", 0], frame_rate: 8, loop_count: 0, filename_prefix: "t/clip", format: "video/h264-mp4", pingpong: false, save_output: true } },
};

interface Frame { type: string; data: Record<string, unknown> }

class Listener {
  readonly frames: Frame[] = [];
  readonly binary: Buffer[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer, isBinary) => {
      if (isBinary) this.binary.push(Buffer.from(data));
      else this.frames.push(JSON.parse(data.toString()) as Frame);
    });
  }

  static open(url: string, clientId: string): Promise<Listener> {
    const ws = new WebSocket(`${url.replace("http", "ws")}/ws?clientId=${clientId}`);
    const listener = new Listener(ws);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(listener));
      ws.once("error", reject);
    });
  }

  async until(predicate: (f: Frame) => boolean, ms = 3000): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no such frame; got ${this.frames.map((f) => f.type).join(",")}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe("ComfyUI emulator", function () {
  this.timeout(5000);
  let emu: ComfyUIEmulator;
  const sockets: WebSocket[] = [];

  async function start(options: ComfyEmulatorOptions = {}): Promise<ComfyUIEmulator> {
    emu = await ComfyUIEmulator.start({ jobMs: 100, ...options });
    return emu;
  }

  async function listen(clientId: string): Promise<Listener> {
    const listener = await Listener.open(emu.url, clientId);
    sockets.push(listener.ws);
    return listener;
  }

  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    await emu.close();
  });

  it("answers every route with and without the /api prefix", async () => {
    await start();
    for (const route of ["/system_stats", "/api/system_stats", "/queue", "/api/queue", "/prompt", "/api/object_info/EmptyImage"]) {
      assert.equal((await fetch(emu.url + route)).status, 200, route);
    }
    assert.equal((await fetch(`${emu.url}/api/nope`)).status, 404);
    assert.equal((await fetch(`${emu.url}/api/system_stats`, { method: "POST" })).status, 405);
    assert.deepEqual(await (await fetch(`${emu.url}/api/history/unknown-id`)).json(), {});
    assert.deepEqual(await (await fetch(`${emu.url}/api/prompt`)).json(), { exec_info: { queue_remaining: 0 } });
  });

  it("writes the history after execution_success and announces it with executing {node: null}", async () => {
    await start();
    const client = await listen("me");
    const status = await client.until((f) => f.type === "status");
    assert.equal(status.data.sid, "me");
    const queued = await post(`${emu.url}/prompt`, { prompt: SMOKE, client_id: "me" });
    assert.equal(queued.status, 200);
    assert.deepEqual(Object.keys(queued.json).sort(), ["node_errors", "number", "prompt_id"]);
    const promptId = String(queued.json.prompt_id);
    await client.until((f) => f.type === "execution_success" && f.data.prompt_id === promptId);
    // A client that fetches history now sees nothing yet (the race real clients must avoid).
    assert.deepEqual(await (await fetch(`${emu.url}/history/${promptId}`)).json(), {});
    await client.until((f) => f.type === "executing" && f.data.node === null && f.data.prompt_id === promptId);
    const history = (await (await fetch(`${emu.url}/history/${promptId}`)).json()) as Record<string, { outputs: Record<string, { gifs: Array<Record<string, unknown>> }>; status: { status_str: string; messages: Array<[string]> } }>;
    const entry = history[promptId];
    assert.equal(entry?.status.status_str, "success");
    assert.deepEqual(entry?.status.messages.map((m) => m[0]), ["execution_start", "execution_cached", "execution_success"]);
    const gif = entry?.outputs["2"]?.gifs[0];
    assert.deepEqual([gif?.filename, gif?.subfolder, gif?.type, gif?.format], ["clip_00001.mp4", "t", "output", "video/h264-mp4"]);
    const order = client.frames.filter((f) => f.data.prompt_id === promptId).map((f) => f.type);
    assert.deepEqual([order[0], order[1], order.at(-2), order.at(-1)], ["execution_start", "execution_cached", "execution_success", "executing"]);
    // VHS reports one progress per frame; like the real run, no binary previews for this workflow.
    assert.equal(order.filter((t) => t === "progress").length, 4);
    assert.ok(order.includes("progress_state") && order.includes("executed"));
    assert.equal(client.binary.length, 0);
  });

  it("sends binary previews between a sampler's progress events when previews are on", async () => {
    await start({ previews: true, progressSteps: 3 });
    const client = await listen("me");
    const sampled = { "1": SMOKE["1"], "9": { class_type: "WanVideoSampler", inputs: { image: ["1", 0] } }, "2": { ...SMOKE["2"], inputs: { ...SMOKE["2"].inputs, images: ["9", 0] } } };
    const { json } = await post(`${emu.url}/prompt`, { prompt: sampled, client_id: "me" });
    await client.until((f) => f.type === "executing" && f.data.node === null && f.data.prompt_id === json.prompt_id);
    // 4-byte big-endian event type, then (for PREVIEW_IMAGE) a 4-byte image format: 1 = JPEG.
    const previews = client.binary.filter((b) => b.readUInt32BE(0) === 1);
    assert.equal(previews.length, 3);
    assert.ok(previews.every((b) => b.readUInt32BE(4) === 1 && b[8] === 0xff && b[9] === 0xd8));
  });

  it("sends a prompt's events only to its client, but broadcasts execution_interrupted", async () => {
    await start({ mode: "neverFinishes" });
    const me = await listen("me");
    const other = await listen("other");
    const { json } = await post(`${emu.url}/prompt`, { prompt: SMOKE, client_id: "me" });
    const promptId = String(json.prompt_id);
    await me.until((f) => f.type === "progress");
    const queue = (await (await fetch(`${emu.url}/queue`)).json()) as { queue_running: unknown[][]; queue_pending: unknown[] };
    assert.equal(queue.queue_running[0]?.[1], promptId);
    assert.equal(queue.queue_running[0]?.length, 5);
    // A targeted interrupt for another prompt is ignored.
    await post(`${emu.url}/interrupt`, { prompt_id: "someone-else" });
    await new Promise((r) => setTimeout(r, 60));
    assert.ok(!me.frames.some((f) => f.type === "execution_interrupted"));
    await post(`${emu.url}/interrupt`, { prompt_id: promptId });
    await other.until((f) => f.type === "execution_interrupted" && f.data.prompt_id === promptId);
    await me.until((f) => f.type === "executing" && f.data.node === null);
    assert.ok(!other.frames.some((f) => ["executing", "progress", "execution_start"].includes(f.type)), "other client saw our events");
    const history = (await (await fetch(`${emu.url}/history/${promptId}`)).json()) as Record<string, { status: { status_str: string; completed: boolean } }>;
    assert.deepEqual(history[promptId]?.status.status_str, "error");
  });

  it("re-sends the running node to a client that reconnects with the same id", async () => {
    await start({ mode: "neverFinishes" });
    const first = await listen("me");
    await post(`${emu.url}/prompt`, { prompt: SMOKE, client_id: "me" });
    await first.until((f) => f.type === "progress");
    first.ws.terminate();
    const again = await listen("me");
    const executing = await again.until((f) => f.type === "executing");
    assert.deepEqual(executing.data, { node: "2" });
  });

  it("rejects bad prompts with ComfyUI's 400 bodies", async () => {
    await start({ mode: "missingNode", missingClass: "VHS_VideoCombine" });
    const noPrompt = await post(`${emu.url}/prompt`, { client_id: "x" });
    assert.equal(noPrompt.status, 400);
    assert.deepEqual(noPrompt.json, { error: { type: "no_prompt", message: "No prompt provided", details: "No prompt provided", extra_info: {} }, node_errors: {} });
    const badId = await post(`${emu.url}/prompt`, { prompt: SMOKE, prompt_id: "NOT-A-UUID" });
    assert.equal((badId.json.error as { type: string }).type, "invalid_prompt_id");
    // As the pinned v0.8.1 (and the captured 0.3.64) answers; missing_node_type came later (ComfyUI PR #12194).
    const missing = await post(`${emu.url}/prompt`, { prompt: SMOKE });
    assert.deepEqual(missing, {
      status: 400,
      json: { error: { type: "invalid_prompt", message: "Cannot execute because node VHS_VideoCombine does not exist.", details: "Node ID '#2'", extra_info: {} }, node_errors: {} },
    });
    const noClass = await post(`${emu.url}/prompt`, { prompt: { "1": { inputs: {} } } });
    assert.deepEqual(noClass.json.error, { type: "invalid_prompt", message: "Cannot execute because a node is missing the class_type property.", details: "Node ID '#1'", extra_info: {} });
    emu.setOptions({ unknownNodeError: "missing_node_type" });
    const newer = await post(`${emu.url}/prompt`, { prompt: SMOKE });
    assert.deepEqual((newer.json.error as { type: string; extra_info: unknown }).extra_info, { node_id: "2", class_type: "VHS_VideoCombine", node_title: "VHS_VideoCombine" });
    assert.equal((newer.json.error as { type: string }).type, "missing_node_type");
    await emu.setMode("success");
    const noOutputs = await post(`${emu.url}/prompt`, { prompt: { "1": SMOKE["1"] } });
    assert.equal((noOutputs.json.error as { type: string }).type, "prompt_no_outputs");
    const chosen = "0b1e4a3e-8f0a-4c1b-9d7e-3a2b1c0d9e8f";
    assert.equal((await post(`${emu.url}/prompt`, { prompt: SMOKE, prompt_id: chosen })).json.prompt_id, chosen);
  });

  it("answers the 2024 build's shapes", async () => {
    await start({ build: "2024" });
    assert.deepEqual(await post(`${emu.url}/prompt`, {}), { status: 400, json: { error: "no prompt", node_errors: [] } });
    const stats = (await (await fetch(`${emu.url}/system_stats`)).json()) as { system: Record<string, unknown> };
    assert.equal(stats.system.os, "posix");
    assert.equal(stats.system.comfyui_version, "unknown");
  });

  it("follows /view's path rules", async () => {
    await start();
    const status = async (query: string): Promise<number> => (await fetch(`${emu.url}/view?${query}`)).status;
    assert.equal(await status("filename=../x.mp4&type=output"), 400);
    assert.equal(await status("filename=/etc/passwd"), 400);
    assert.equal(await status("filename=x.mp4&type=models"), 400);
    assert.equal(await status("filename=x.mp4&type=output&subfolder=../../etc"), 403);
    assert.equal(await status("filename=x.mp4&type=output"), 404);
    assert.equal(await status("type=output"), 404);
    const upload = new FormData();
    upload.append("image", new Blob(["abc"]), "ref.png");
    await fetch(`${emu.url}/upload/image`, { method: "POST", body: upload });
    assert.equal(await status(`filename=${encodeURIComponent("ref.png [input]")}`), 200);
  });

  it("serves /view with aiohttp's file headers, single byte ranges and If-None-Match", async () => {
    await start();
    const client = await listen("me");
    const { json } = await post(`${emu.url}/prompt`, { prompt: SMOKE, client_id: "me" });
    await client.until((f) => f.type === "executing" && f.data.node === null && f.data.prompt_id === json.prompt_id);
    const url = `${emu.url}/view?filename=clip_00001.mp4&subfolder=t&type=output`;
    const whole = await fetch(url);
    const bytes = Buffer.from(await whole.arrayBuffer());
    assert.equal(whole.headers.get("accept-ranges"), "bytes");
    assert.equal(whole.headers.get("content-disposition"), 'filename="clip_00001.mp4"');
    const etag = whole.headers.get("etag") ?? "";
    assert.match(etag, new RegExp(`^"[0-9a-f]+-${bytes.length.toString(16)}"$`));
    const part = await fetch(url, { headers: { Range: "bytes=4-11" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes 4-11/${bytes.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(4, 12));
    assert.equal((await fetch(url, { headers: { "If-None-Match": etag } })).status, 304);
  });

  it("renames uploads of a different file under a taken name unless overwrite is set", async () => {
    await start();
    const upload = async (content: string, overwrite?: string): Promise<unknown> => {
      const form = new FormData();
      form.append("image", new Blob([content]), "ref.png");
      if (overwrite) form.append("overwrite", overwrite);
      return (await fetch(`${emu.url}/api/upload/image`, { method: "POST", body: form })).json();
    };
    assert.deepEqual(await upload("one"), { name: "ref.png", subfolder: "", type: "input" });
    assert.deepEqual(await upload("one"), { name: "ref.png", subfolder: "", type: "input" }); // same bytes: reused
    assert.deepEqual(await upload("two"), { name: "ref (1).png", subfolder: "", type: "input" });
    assert.deepEqual(await upload("three", "true"), { name: "ref.png", subfolder: "", type: "input" });
    assert.equal((await fetch(`${emu.url}/upload/image`, { method: "POST", body: new FormData() })).status, 400);
  });

  it("boots like a pod: refused, then 502, then up", async () => {
    await start({ mode: "slowStart", refusedMs: 150, proxy502Ms: 150 });
    await assert.rejects(fetch(`${emu.url}/system_stats`));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await fetch(`${emu.url}/system_stats`)).status, 502);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await fetch(`${emu.url}/system_stats`)).status, 200);
  });

  it("dies mid-job and comes back with an empty queue and history", async () => {
    await start({ mode: "dies", restartDownMs: 150 });
    const client = await listen("me");
    const closed = new Promise((resolve) => client.ws.once("close", resolve));
    await post(`${emu.url}/prompt`, { prompt: SMOKE, client_id: "me" });
    await closed;
    await assert.rejects(fetch(`${emu.url}/queue`));
    await new Promise((r) => setTimeout(r, 250));
    assert.deepEqual(await (await fetch(`${emu.url}/queue`)).json(), { queue_running: [], queue_pending: [] });
    assert.deepEqual(await (await fetch(`${emu.url}/history`)).json(), {});
  });

  it("reports an OOM like execution.py, then stores the error in the history", async () => {
    await start({ mode: "oom" });
    const client = await listen("me");
    const { json } = await post(`${emu.url}/prompt`, { prompt: SMOKE, client_id: "me" });
    const error = await client.until((f) => f.type === "execution_error");
    assert.equal(error.data.exception_type, "torch.OutOfMemoryError");
    assert.match(String(error.data.exception_message), /This error means you ran out of memory on your GPU/);
    await client.until((f) => f.type === "executing" && f.data.node === null);
    const history = (await (await fetch(`${emu.url}/history/${String(json.prompt_id)}`)).json()) as Record<string, { status: { completed: boolean } }>;
    assert.equal(history[String(json.prompt_id)]?.status.completed, false);
  });
});
