// The ComfyUI emulator's public face for the tests and benchmarks.
export { ComfyUIEmulator } from "./emulator";
export { modelsOfVariant } from "./options";
export type { ComfyEmulatorOptions, ComfyMode, EmulatedDevice, InstalledModels, RecordedRequest, SentEvent } from "./options";
