// Public face of dockerhost/: what the local target asks of the user's Docker host before it runs a container.
export {
  MEASURE_SCRIPT,
  NVIDIA_RUNTIME,
  bytesStillNeeded,
  modelFilePaths,
  nvidiaRuntimeProblem,
  parseMeasure,
  runPreflight,
  type PreflightOptions,
  type PreflightVerdict,
} from "./preflight";
