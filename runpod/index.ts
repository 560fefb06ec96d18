// Public face of runpod/: nothing outside this folder imports deeper than this file.
export { podProvider } from "./podProvider";
export { registryProvider } from "./registryProvider";
export { Pod, type PodArgs } from "./podResource";
export { Registry, type RegistryArgs } from "./registryResource";
export type { PodInputs, PodOutputs, PortMapping, RegistryInputs, RegistryOutputs } from "./schemas";
export { DEFAULT_API_URL } from "./schemas";
/** Pod inputs whose in-place change recreates the container. */
export { RESETTING_FIELDS as CONTAINER_RESETTING_FIELDS } from "./podLogic";
export { GpuCatalogCheck, type GpuCatalogCheckArgs } from "./catalogCheckResource";
export { catalogCheckProvider, type CatalogCheckOutputs } from "./catalogCheckProvider";
export { NetworkVolume, type NetworkVolumeArgs } from "./networkVolumeResource";
export { networkVolumeProvider, type NetworkVolumeOutputs } from "./networkVolumeProvider";
export { ServerlessTemplate, type ServerlessTemplateArgs } from "./templateResource";
export { templateProvider } from "./templateProvider";
export { QueueEndpoint, type QueueEndpointArgs } from "./endpointResource";
export { endpointProvider } from "./endpointProvider";
export type { TemplateOutputs, EndpointOutputs } from "./serverlessSchemas";
export { DEFAULT_JOB_API_URL } from "./serverlessSchemas";
export { JobClient, type JobClientSettings, type RunOptions } from "./jobClient";
export type { EndpointHealth, JobRef, JobStatus } from "./jobSchemas";
