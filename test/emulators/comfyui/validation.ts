// POST /prompt's validation, after ComfyUI's execution.py (validate_prompt, validate_inputs) at the pinned v0.8.1:
// unknown classes first, then the outputs; each output is validated with the nodes it links to, from the
// declarations object_info serves. Outputs whose graph has an invalid node are dropped; none left → 400, some
// left → 200 with node_errors, and only those run.
import { UNDECLARED_INPUTS } from "./notCaptured";
import { FILE_INPUTS } from "./objectInfo";
import type { Json, Workflow } from "./options";

export type Validation = { ok: true; outputs: string[]; nodeErrors: Json } | { ok: false; body: Json };

export interface ValidationContext {
  classes: Record<string, Json>;
  inputFiles: readonly string[];
  unknownNodeError: "invalid_prompt" | "missing_node_type";
}

interface NodeInfo {
  input?: { required?: Record<string, unknown[]>; optional?: Record<string, unknown[]> };
  output?: unknown[];
  output_node?: boolean;
}

type Reason = { type: string; message: string; details: string; extra_info: Json };
interface Checked { valid: boolean; errors: Reason[] }

/** Python's repr of a str, as str() of a list prints each option. */
function pyRepr(text: string): string {
  if (text.includes("'") && !text.includes('"')) return `"${text}"`;
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** str() of a value as Python formats it in messages (floats keep their ".0"). */
function pyStr(value: unknown, float = false): string {
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number" && float && Number.isInteger(value)) return `${value}.0`;
  return String(value);
}

function rejectUnknown(id: string, node: Workflow[string], context: ValidationContext): Json | null {
  const title = typeof node._meta?.title === "string" ? node._meta.title : undefined;
  const classType = node.class_type;
  const known = typeof classType === "string" && classType in context.classes;
  if (known) return null;
  const details = `Node ID '#${id}'`;
  if (context.unknownNodeError === "missing_node_type") {
    if (typeof classType !== "string") {
      return { type: "missing_node_type", message: `Node '${title ?? `ID #${id}`}' has no class_type. The workflow may be corrupted or a custom node is missing.`, details, extra_info: { node_id: id, class_type: null, node_title: title ?? null } };
    }
    const shown = title ?? classType;
    return { type: "missing_node_type", message: `Node '${shown}' not found. The custom node may not be installed.`, details, extra_info: { node_id: id, class_type: classType, node_title: shown } };
  }
  if (classType === undefined) return { type: "invalid_prompt", message: "Cannot execute because a node is missing the class_type property.", details, extra_info: {} };
  return { type: "invalid_prompt", message: `Cannot execute because node ${pyStr(classType)} does not exist.`, details, extra_info: {} };
}

/** validate_node_input: "*" matches anything; comma-separated types match when they overlap. */
function typesMatch(received: unknown, wanted: unknown): boolean {
  if (typeof received !== "string" || typeof wanted !== "string") return true;
  if (received === "*" || wanted === "*" || received === wanted) return true;
  const a = received.split(",").map((t) => t.trim());
  return wanted.split(",").some((t) => a.includes(t.trim()));
}

/** The value as validate_inputs converts it for the declared type, or the reason it cannot. */
function coerce(value: unknown, type: unknown): { value: unknown } | { error: string } {
  if (type === "INT" || type === "FLOAT") {
    const n = typeof value === "boolean" ? Number(value) : typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
    if (!Number.isFinite(n) || (type === "INT" && typeof value === "string" && !Number.isInteger(n))) {
      return { error: type === "INT" ? `invalid literal for int() with base 10: ${pyRepr(String(value))}` : `could not convert string to float: ${pyRepr(String(value))}` };
    }
    return { value: type === "INT" ? Math.trunc(n) : n };
  }
  if (type === "STRING") return { value: typeof value === "string" ? value : JSON.stringify(value) };
  if (type === "BOOLEAN") return { value: Boolean(value) };
  return { value };
}

class Validator {
  private readonly checked = new Map<string, Checked>();

  constructor(private readonly prompt: Workflow, private readonly context: ValidationContext) {}

  get results(): ReadonlyMap<string, Checked> {
    return this.checked;
  }

  node(id: string): Checked {
    const done = this.checked.get(id);
    if (done) return done;
    const node = this.prompt[id] ?? {};
    const classType = String(node.class_type);
    const info = (this.context.classes[classType] ?? {}) as NodeInfo;
    const inputs = node.inputs ?? {};
    const fileInput = FILE_INPUTS[classType];
    const errors: Reason[] = [];
    let valid = true;
    const declared = [
      ...Object.entries(info.input?.required ?? {}).map(([name, spec]) => ({ name, spec, required: true })),
      ...Object.entries(info.input?.optional ?? {}).map(([name, spec]) => ({ name, spec, required: false })),
    ];
    if (UNDECLARED_INPUTS.has(classType)) {
      for (const [name, value] of Object.entries(inputs)) if (Array.isArray(value)) declared.push({ name, spec: ["*"], required: false });
    }
    for (const { name, spec, required } of declared) {
      const type = spec[0];
      const extra = (spec[1] as Json | undefined) ?? {};
      const config = [type, extra];
      if (!(name in inputs)) {
        if (required) errors.push({ type: "required_input_missing", message: "Required input is missing", details: name, extra_info: { input_name: name } });
        continue;
      }
      let value = inputs[name];
      if (Array.isArray(value)) {
        if (value.length !== 2) {
          errors.push({ type: "bad_linked_input", message: "Bad linked input, must be a length-2 list of [node_id, slot_index]", details: name, extra_info: { input_name: name, input_config: config, received_value: value } });
          continue;
        }
        const from = String(value[0]);
        const source = this.context.classes[String(this.prompt[from]?.class_type)] as NodeInfo | undefined;
        const received = source?.output?.[Number(value[1])];
        if (!typesMatch(received, type)) {
          errors.push({
            type: "return_type_mismatch", message: "Return type mismatch between linked nodes", details: `${name}, ${String(received)} != ${String(type)}`,
            extra_info: { input_name: name, input_config: config, received_type: received, linked_node: value },
          });
          continue;
        }
        if (this.prompt[from] && !this.node(from).valid) valid = false;
        continue;
      }
      const coerced = coerce(value, type);
      if ("error" in coerced) {
        errors.push({
          type: "invalid_input_type", message: `Failed to convert an input value to a ${String(type)} value`, details: `${name}, ${pyStr(value)}, ${coerced.error}`,
          extra_info: { input_name: name, input_config: config, received_value: value, exception_message: coerced.error },
        });
        continue;
      }
      value = coerced.value;
      if (name === fileInput?.input) continue; // the node's VALIDATE_INPUTS takes this input over
      const float = type === "FLOAT";
      if (typeof extra.min === "number" && typeof value === "number" && value < extra.min) {
        errors.push({ type: "value_smaller_than_min", message: `Value ${pyStr(value, float)} smaller than min of ${pyStr(extra.min)}`, details: name, extra_info: { input_name: name, input_config: config, received_value: value } });
        continue;
      }
      if (typeof extra.max === "number" && typeof value === "number" && value > extra.max) {
        errors.push({ type: "value_bigger_than_max", message: `Value ${pyStr(value, float)} bigger than max of ${pyStr(extra.max)}`, details: name, extra_info: { input_name: name, input_config: config, received_value: value } });
        continue;
      }
      const options = Array.isArray(type) ? type : type === "COMBO" && Array.isArray(extra.options) ? (extra.options as unknown[]) : null;
      if (options && !options.includes(value)) {
        const long = options.length > 20;
        errors.push({
          type: "value_not_in_list", message: "Value not in list",
          details: `${name}: '${pyStr(value)}' not in ${long ? `(list of length ${options.length})` : `[${options.map((o) => (typeof o === "string" ? pyRepr(o) : pyStr(o))).join(", ")}]`}`,
          extra_info: { input_name: name, input_config: long ? null : config, received_value: value },
        });
      }
    }
    if (fileInput) {
      const value = inputs[fileInput.input];
      if (!(typeof value === "string" && this.context.inputFiles.includes(value.replace(/ \[input\]$/, "")))) {
        errors.push({ type: "custom_validation_failed", message: "Custom validation failed for node", details: `${fileInput.input} - ${fileInput.invalid}: ${pyStr(value)}`, extra_info: { input_name: fileInput.input } });
      }
    }
    const result = { valid: valid && errors.length === 0, errors };
    this.checked.set(id, result);
    return result;
  }
}

export function validatePrompt(prompt: Workflow, context: ValidationContext): Validation {
  for (const [id, node] of Object.entries(prompt)) {
    const error = rejectUnknown(id, node, context);
    if (error) return { ok: false, body: { error, node_errors: {} } };
  }
  const outputs = Object.entries(prompt).filter(([, n]) => (context.classes[String(n.class_type)] as NodeInfo).output_node === true).map(([id]) => id);
  if (outputs.length === 0) {
    return { ok: false, body: { error: { type: "prompt_no_outputs", message: "Prompt has no outputs", details: "", extra_info: {} }, node_errors: {} } };
  }
  const validator = new Validator(prompt, context);
  const good: string[] = [];
  const failed: Array<[string, Reason[]]> = [];
  const nodeErrors: Record<string, { errors: Reason[]; dependent_outputs: string[]; class_type: unknown }> = {};
  for (const out of outputs) {
    const result = validator.node(out);
    if (result.valid) {
      good.push(out);
      continue;
    }
    failed.push([out, result.errors]);
    // Like execution.py: every invalid node validated so far names this output, not only those upstream of it.
    for (const [id, checked] of validator.results) {
      if (checked.valid || checked.errors.length === 0) continue;
      nodeErrors[id] ??= { errors: checked.errors, dependent_outputs: [], class_type: prompt[id]?.class_type };
      nodeErrors[id].dependent_outputs.push(out);
    }
  }
  if (good.length === 0) {
    // details joins the reasons of the output nodes themselves (not of the nodes upstream).
    const details = failed.flatMap(([, reasons]) => reasons.map((r) => `${r.message}: ${r.details}`)).join("\n");
    return { ok: false, body: { error: { type: "prompt_outputs_failed_validation", message: "Prompt outputs failed validation", details, extra_info: {} }, node_errors: nodeErrors } };
  }
  return { ok: true, outputs: good, nodeErrors };
}
