// The stack configuration: every key the program reads, validated once with zod before anything is
// created, reporting every problem at once with the key, the bad value and a command that fixes it.
// This is the folder's public face; nothing outside components/config imports deeper.
export { PROJECT_NAME, type ConfigType, type KeyInfo } from "./keyInfo";
export { TARGETS, type Target } from "./targets";
export { stackFields, type FieldContext } from "./fields";
export { stackConfigSchema, type SchemaContext, type ServerlessConfig, type StackConfig } from "./schema";
export { closestKey } from "./problems";
export type { RawStackConfig } from "./rawConfig";
export { parseStackConfig, type ParseResult } from "./parse";
export { loadStackConfig } from "./load";
