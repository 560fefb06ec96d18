// The public face of checks/: what components and tests may import.
export * from "./result";
export { DEFAULT_MIN_VRAM_GB, DEFAULT_TIMEOUT_SECONDS, type CheckOptions } from "./common";
export { ComfyClient, ComfyRequestError, PromptRejectedError, parseAuthHeader, type AuthHeader, type ComfyClientOptions } from "./comfyClient";
export { runHealthCheck, type HealthOptions } from "./health";
export { runVramCheck, judgeVram, VRAM_ALLOWANCE, type VramOptions } from "./vram";
export { expectationMismatches, runGenerateCheck, videoOutputs, type GenerateOptions } from "./generate";
export { inspectMp4, type Mp4Info, type Mp4Verdict } from "./mp4";
export { Progress } from "./progress";
export {
  BUILTIN_WORKFLOWS,
  UsageError,
  findWorkflowsDir,
  isBuiltinWorkflow,
  loadWorkflow,
  type BuiltinWorkflowName,
  type LoadedWorkflow,
  type VideoExpectation,
} from "./workflows";
export { parseCheckArgv, type ParsedCheckArgv } from "./argv";
export { AUTH_HEADER_ENV, EXIT_FAILED, EXIT_PASS, EXIT_USAGE, checkCliArgs, type CheckCliFlags } from "./cliArgs";
export { MODEL_FILE_INPUTS, preflightModels, type ModelSubstitution, type PreflightOutcome } from "./modelPreflight";
