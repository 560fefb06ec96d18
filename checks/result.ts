// The verdict every check prints as the last line of stdout: one JSON object that the CLI writes and
// DeploymentChecks parses into typed stack outputs.
import { z } from "zod";

export const CHECK_NAMES = ["health", "vram", "generate"] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

export const deviceSchema = z.object({
  name: z.string(),
  type: z.string(),
  index: z.number().int().nullable(),
  vramTotalBytes: z.number().nonnegative(),
  vramFreeBytes: z.number().nonnegative(),
});
export type Device = z.infer<typeof deviceSchema>;

const common = {
  ok: z.boolean(),
  /** One sentence a person can act on: what passed, or what failed and how to fix it. */
  message: z.string(),
  url: z.string(),
  durationMs: z.number().nonnegative(),
};

export const healthResultSchema = z.object({
  check: z.literal("health"),
  ...common,
  comfyuiVersion: z.string().nullable(),
  pythonVersion: z.string().nullable(),
  pytorchVersion: z.string().nullable(),
  devices: z.array(deviceSchema),
});

export const vramResultSchema = z.object({
  check: z.literal("vram"),
  ...common,
  minVramGb: z.number().positive(),
  /** The primary device's name, null when none was reported. */
  gpu: z.string().nullable(),
  vramTotalGb: z.number().nullable(),
  vramFreeGb: z.number().nullable(),
  devices: z.array(deviceSchema),
});

export const generateResultSchema = z.object({
  check: z.literal("generate"),
  ...common,
  workflow: z.string(),
  promptId: z.string().nullable(),
  /** From POST /prompt until the job started executing. */
  queueMs: z.number().nonnegative().nullable(),
  /** From execution start until ComfyUI reported the job done. */
  executionMs: z.number().nonnegative().nullable(),
  frames: z.number().int().nonnegative().nullable(),
  width: z.number().int().nonnegative().nullable(),
  height: z.number().int().nonnegative().nullable(),
  fileBytes: z.number().int().nonnegative().nullable(),
  /** Where the video was saved on the machine that ran the check. */
  videoPath: z.string().nullable(),
});

export const checkResultSchema = z.discriminatedUnion("check", [
  healthResultSchema,
  vramResultSchema,
  generateResultSchema,
]);

export type HealthResult = z.infer<typeof healthResultSchema>;
export type VramResult = z.infer<typeof vramResultSchema>;
export type GenerateResult = z.infer<typeof generateResultSchema>;
export type CheckResult = z.infer<typeof checkResultSchema>;

/** The verdict from a check's stdout: its last non-empty line, parsed and validated. */
export function parseCheckOutput(stdout: string): CheckResult {
  const lines = stdout.split("\n").map((line) => line.trim()).filter((line) => line.length > 0);
  const last = lines.at(-1);
  if (last === undefined) throw new Error("the check printed nothing on stdout (expected one JSON verdict line)");
  let json: unknown;
  try {
    json = JSON.parse(last);
  } catch {
    throw new Error(`the check's last stdout line is not JSON: ${last.slice(0, 200)}`);
  }
  const parsed = checkResultSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`the check's verdict has an unexpected shape: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}
