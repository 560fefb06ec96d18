// POST /prompt validates literal inputs against the declarations object_info serves, as execution.py's
// validate_inputs does: INT/FLOAT limits, combo options, conversions, required inputs and link types.
import assert from "node:assert/strict";
import { ComfyUIEmulator } from "./comfyui";

type Body = { error: { type: string; details: string }; node_errors: Record<string, { errors: Array<{ type: string; message: string; details: string; extra_info: Record<string, unknown> }>; dependent_outputs: string[]; class_type: string }> };

const combine = (images: unknown, extra: Record<string, unknown> = {}): unknown => ({
  class_type: "VHS_VideoCombine",
  inputs: { images, frame_rate: 8, loop_count: 0, filename_prefix: "v/v", format: "video/h264-mp4", pingpong: false, save_output: true, ...extra },
});
const empty = (extra: Record<string, unknown> = {}): unknown => ({ class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 4, color: 0, ...extra } });

describe("ComfyUI emulator: input validation", () => {
  let emu: ComfyUIEmulator;
  before(async () => {
    emu = await ComfyUIEmulator.start({ jobMs: 20, historyDelayMs: 1 });
  });
  after(async () => emu.close());

  async function post(prompt: unknown): Promise<{ status: number; body: Body }> {
    const res = await fetch(`${emu.url}/prompt`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ prompt }) });
    return { status: res.status, body: (await res.json()) as Body };
  }

  async function reasons(prompt: unknown, node: string): Promise<Array<{ type: string; message: string; details: string; extra_info: Record<string, unknown> }>> {
    const { status, body } = await post(prompt);
    assert.equal(status, 400, JSON.stringify(body));
    return body.node_errors[node]?.errors ?? [];
  }

  it("refuses numbers outside the declared min and max, printing them as Python does", async () => {
    const [tooMany] = await reasons({ "1": empty({ batch_size: 5000 }), "2": combine(["1", 0]) }, "1");
    assert.deepEqual(tooMany, {
      type: "value_bigger_than_max", message: "Value 5000 bigger than max of 4096", details: "batch_size",
      extra_info: { input_name: "batch_size", input_config: ["INT", { default: 1, min: 1, max: 4096 }], received_value: 5000 },
    });
    const [slow] = await reasons({ "1": empty(), "2": combine(["1", 0], { frame_rate: 0 }) }, "2");
    assert.equal(slow?.message, "Value 0.0 smaller than min of 1");
  });

  it("refuses a combo value that is not an option, listing short option lists", async () => {
    const [format] = await reasons({ "1": empty(), "2": combine(["1", 0], { format: "video/mkv" }) }, "2");
    assert.equal(format?.type, "value_not_in_list");
    assert.match(format?.details ?? "", /^format: 'video\/mkv' not in \['image\/gif', 'image\/webp', 'video\/ProRes', .*'video\/16bit-png'\]$/);
    assert.ok(Array.isArray(format?.extra_info.input_config));
  });

  it("converts values like int() and float(), and names what it cannot convert", async () => {
    const accepted = await post({ "1": empty({ width: "64", height: 64.9 }), "2": combine(["1", 0]) });
    assert.equal(accepted.status, 200);
    const [notANumber] = await reasons({ "1": empty({ width: "wide" }), "2": combine(["1", 0]) }, "1");
    assert.equal(notANumber?.type, "invalid_input_type");
    assert.equal(notANumber?.message, "Failed to convert an input value to a INT value");
  });

  it("names missing required inputs and links of the wrong type", async () => {
    const missing = await reasons({ "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, color: 0 } }, "2": combine(["1", 0]) }, "1");
    assert.deepEqual(missing, [{ type: "required_input_missing", message: "Required input is missing", details: "batch_size", extra_info: { input_name: "batch_size" } }]);
    const load = { class_type: "LoadImage", inputs: { image: "example.png" } };
    const [mask] = await reasons({ "1": load, "2": combine(["1", 1]) }, "2");
    assert.equal(mask?.type, "return_type_mismatch");
    assert.equal(mask?.details, "images, MASK != IMAGE");
  });

  it("runs the outputs that validate and reports the others in a 200's node_errors", async () => {
    const { status, body } = await post({ "1": empty({ width: 0 }), "2": combine(["1", 0]), "3": empty(), "4": combine(["3", 0]) });
    assert.equal(status, 200);
    assert.deepEqual(Object.keys(body.node_errors), ["1"]);
    assert.deepEqual(body.node_errors["1"]?.dependent_outputs, ["2"]);
  });
});
