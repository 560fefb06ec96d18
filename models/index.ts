// The public face of models/: the schema and reader of docker/models/manifest.json, the one list of model
// files, shared by the stack config (VRAM minimum), the checks (variant names) and `npm run models:pin`.
export * from "./manifest";
