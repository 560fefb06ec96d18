// Zod schemas for the parts of ComfyUI's HTTP and websocket API the checks read (server.py, execution.py).
// Shapes differ between builds (late 2024 vs 2026), so fields that came and went are optional.
import { z } from "zod";

// ---------------------------------------------------------------- GET /system_stats
export const systemDeviceSchema = z.object({
  name: z.string(),
  type: z.string(),
  index: z.number().int().nullable().optional(),
  vram_total: z.number().nonnegative(),
  vram_free: z.number().nonnegative(),
  torch_vram_total: z.number().nonnegative().optional(),
  torch_vram_free: z.number().nonnegative().optional(),
});
export type SystemDevice = z.infer<typeof systemDeviceSchema>;

export const systemStatsSchema = z.object({
  system: z.object({
    os: z.string().optional(),
    // 2024 builds had no version field, or "unknown" when ComfyUI was not a git checkout.
    comfyui_version: z.string().optional(),
    python_version: z.string().optional(),
    pytorch_version: z.string().optional(),
    ram_total: z.number().optional(),
    ram_free: z.number().optional(),
    embedded_python: z.boolean().optional(),
    argv: z.array(z.string()).optional(),
  }),
  devices: z.array(systemDeviceSchema),
});
export type SystemStats = z.infer<typeof systemStatsSchema>;

// ---------------------------------------------------------------- POST /prompt
export const promptQueuedSchema = z.object({
  prompt_id: z.string().min(1),
  number: z.number(),
  node_errors: z.unknown().optional(),
});
export type PromptQueued = z.infer<typeof promptQueuedSchema>;

const errorDetailSchema = z.object({
  type: z.string(),
  message: z.string().optional().default(""),
  details: z.unknown().optional(),
  extra_info: z.record(z.string(), z.unknown()).optional(),
});
export type PromptErrorDetail = z.infer<typeof errorDetailSchema>;

export const nodeErrorSchema = z.object({
  errors: z.array(errorDetailSchema).default([]),
  dependent_outputs: z.array(z.unknown()).optional(),
  class_type: z.string().optional(),
});
/** node_errors of a 400, and of a 200 when ComfyUI queued only the outputs that validated. */
export const nodeErrorsSchema = z.record(z.string(), nodeErrorSchema);

/** 400 body. The 2024 build answered `{"error": "no prompt", "node_errors": []}` for a missing prompt. */
export const promptRejectedSchema = z.object({
  error: z.union([errorDetailSchema, z.string()]),
  node_errors: z.union([z.record(z.string(), nodeErrorSchema), z.array(z.unknown())]).optional(),
});
export type PromptRejected = z.infer<typeof promptRejectedSchema>;

// ---------------------------------------------------------------- GET /queue
/** Queue items are `[number, prompt_id, prompt, extra_data, outputs_to_execute]`. */
const queueItemSchema = z.array(z.unknown()).min(2);
export const queueSchema = z.object({
  queue_running: z.array(queueItemSchema),
  queue_pending: z.array(queueItemSchema),
});
export type QueueState = z.infer<typeof queueSchema>;

export function queuedPromptIds(items: unknown[][]): string[] {
  return items.map((item) => item[1]).filter((id): id is string => typeof id === "string");
}

// ---------------------------------------------------------------- GET /history/{id}
export const fileRefSchema = z.object({
  filename: z.string().min(1),
  subfolder: z.string().default(""),
  type: z.string().default("output"),
  format: z.string().optional(),
});
export type FileRef = z.infer<typeof fileRefSchema>;

export const nodeOutputSchema = z
  .object({
    images: z.array(fileRefSchema).optional(),
    gifs: z.array(fileRefSchema).optional(),
    animated: z.array(z.boolean()).optional(),
  })
  .loose();
export type NodeOutput = z.infer<typeof nodeOutputSchema>;

export const historyMessageSchema = z.tuple([z.string(), z.record(z.string(), z.unknown())]);

export const historyEntrySchema = z.object({
  outputs: z.record(z.string(), nodeOutputSchema).default({}),
  status: z
    .object({
      status_str: z.string(),
      completed: z.boolean(),
      messages: z.array(historyMessageSchema).default([]),
    })
    .optional(),
});
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

/** `{prompt_id: entry}`, or `{}` while the prompt is unknown or not finished. */
export const historySchema = z.record(z.string(), z.unknown());

// ---------------------------------------------------------------- POST /upload/image
export const uploadedSchema = z.object({
  name: z.string().min(1),
  subfolder: z.string().default(""),
  type: z.string().default("input"),
});
export type Uploaded = z.infer<typeof uploadedSchema>;

// ---------------------------------------------------------------- websocket events
export const wsEnvelopeSchema = z.object({ type: z.string(), data: z.unknown() });

const promptScoped = { prompt_id: z.string().optional() };
export const executingSchema = z.object({ node: z.string().nullable(), display_node: z.string().nullable().optional(), ...promptScoped });
export const progressSchema = z.object({ value: z.number(), max: z.number(), node: z.string().nullable().optional(), ...promptScoped });
export const progressStateSchema = z.object({
  ...promptScoped,
  nodes: z.record(
    z.string(),
    z.object({ value: z.number(), max: z.number(), state: z.string(), node_id: z.string().optional() }).loose(),
  ),
});
export const executionStartSchema = z.object({ ...promptScoped, timestamp: z.number().optional() });
export const executionErrorSchema = z.object({
  ...promptScoped,
  node_id: z.string().nullable().optional(),
  node_type: z.string().nullable().optional(),
  exception_message: z.string().default(""),
  exception_type: z.string().default(""),
  traceback: z.array(z.string()).optional(),
  timestamp: z.number().optional(),
});
export type ExecutionError = z.infer<typeof executionErrorSchema>;
export const executionInterruptedSchema = z.object({
  ...promptScoped,
  node_id: z.string().nullable().optional(),
  node_type: z.string().nullable().optional(),
  timestamp: z.number().optional(),
});
export type ExecutionInterrupted = z.infer<typeof executionInterruptedSchema>;

/** An API-format workflow: `{node_id: {class_type, inputs, _meta?}}`. */
export const apiWorkflowSchema = z.record(
  z.string(),
  z.object({
    class_type: z.string().min(1),
    inputs: z.record(z.string(), z.unknown()),
    _meta: z.object({ title: z.string().optional() }).loose().optional(),
  }).loose(),
);
export type ApiWorkflow = z.infer<typeof apiWorkflowSchema>;

// ---------------------------------------------------------------- GET /object_info/{class}
/**
 * One node class as object_info describes it; only the declared inputs are read. An unknown class answers
 * `{}` (server.py), so the class may be absent from the record.
 */
export const nodeInfoSchema = z
  .object({
    input: z
      .object({
        required: z.record(z.string(), z.unknown()).optional(),
        optional: z.record(z.string(), z.unknown()).optional(),
      })
      .loose(),
  })
  .loose();
export type NodeInfo = z.infer<typeof nodeInfoSchema>;
export const objectInfoSchema = z.record(z.string(), nodeInfoSchema);

const comboValueSchema = z.union([z.string(), z.number(), z.boolean()]);
/** V1 nodes declare a combo as `[[option, ...], {...}?]`; V3 nodes and newer builds as `["COMBO", {options: [...]}]`. */
const listComboSchema = z.tuple([z.array(comboValueSchema)], z.unknown());
const v3ComboSchema = z.tuple([z.literal("COMBO"), z.object({ options: z.array(comboValueSchema).default([]) }).loose()], z.unknown());

/** The options of a combo input declaration, or null when the input is not a combo (INT, STRING, a link type…). */
export function comboOptions(declaration: unknown): string[] | null {
  const list = listComboSchema.safeParse(declaration);
  if (list.success) return list.data[0].map(String);
  const v3 = v3ComboSchema.safeParse(declaration);
  if (v3.success) return v3.data[1].options.map(String);
  return null;
}
