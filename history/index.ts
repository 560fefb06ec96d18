// Public face of history/: what the stack remembers between deployments (the image deployed before the current one).
export { ImageHistory, type ImageHistoryArgs } from "./imageHistory";
export { imageHistoryProvider, nextImageHistory, type ImageHistoryInputs, type ImageHistoryState } from "./imageHistoryProvider";
