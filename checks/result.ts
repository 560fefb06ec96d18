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

// The checks over a Serverless endpoint's job API (runpod/jobChecksCli.ts). `url` is the endpoint's job API
// base; the counts and times are RunPod's own, so checks/ stays free of RunPod code.
const count = z.number().int().nonnegative();

export const endpointHealthResultSchema = z.object({
  check: z.literal("endpointHealth"),
  ...common,
  /** The endpoint's /health job counts, null when it never answered. */
  jobs: z.object({ completed: count, failed: count, inProgress: count, inQueue: count, retried: count }).nullable(),
  /** Workers by state; states the answer did not name are left out. */
  workers: z.record(z.string(), count).nullable(),
});

export const endpointGenerateResultSchema = z.object({
  check: z.literal("endpointGenerate"),
  ...common,
  workflow: z.string(),
  jobId: z.string().nullable(),
  /** The job's last state (COMPLETED, FAILED, TIMED_OUT, CANCELLED, or IN_QUEUE/IN_PROGRESS at the deadline). */
  jobStatus: z.string().nullable(),
  workerId: z.string().nullable(),
  /** RunPod's delayTime: the queue wait, the worker's cold start included. */
  coldStartSeconds: z.number().nonnegative().nullable(),
  /** RunPod's executionTime: the handler's run on the worker. */
  runSeconds: z.number().nonnegative().nullable(),
  frames: z.number().int().nonnegative().nullable(),
  width: z.number().int().nonnegative().nullable(),
  height: z.number().int().nonnegative().nullable(),
  fileBytes: z.number().int().nonnegative().nullable(),
  videoPath: z.string().nullable(),
});

export const checkResultSchema = z.discriminatedUnion("check", [
  healthResultSchema,
  vramResultSchema,
  generateResultSchema,
  endpointHealthResultSchema,
  endpointGenerateResultSchema,
]);

export type HealthResult = z.infer<typeof healthResultSchema>;
export type VramResult = z.infer<typeof vramResultSchema>;
export type GenerateResult = z.infer<typeof generateResultSchema>;
export type EndpointHealthResult = z.infer<typeof endpointHealthResultSchema>;
export type EndpointGenerateResult = z.infer<typeof endpointGenerateResultSchema>;
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
