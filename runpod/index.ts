// Public face of runpod/: nothing outside this folder imports deeper than this file.
export { podProvider } from "./podProvider";
export { registryProvider } from "./registryProvider";
export { Pod, type PodArgs } from "./podResource";
export { Registry, type RegistryArgs } from "./registryResource";
export type { PodInputs, PodOutputs, PortMapping, RegistryInputs, RegistryOutputs } from "./schemas";
export { DEFAULT_API_URL } from "./schemas";
