// Every key the program reads, section by section, with its schema and the help shown when it is wrong.
import { checksFields } from "./checksFields";
import { comfyFields } from "./comfyFields";
import { imageFields } from "./imageFields";
import { PROJECT_NAME, listFixFor, type FieldSet } from "./keyInfo";
import { localFields } from "./localFields";
import { modelFields } from "./modelFields";
import { podFields } from "./podFields";
import { podLifecycleFields } from "./podLifecycleFields";
import { providerFields } from "./providerFields";
import { registryFields } from "./registryFields";
import { serverlessFields } from "./serverlessFields";
import { targetFields } from "./targets";

/** What single keys' checks need beyond their value. */
export interface FieldContext {
  /** Flat keys (`pod.env`, `runpod:apiKey`) whose values are stored as secrets. */
  secretKeys?: ReadonlySet<string>;
  /** The Dockerfile whose ARGs image.buildArgs may set; default docker/Dockerfile of this checkout. */
  dockerfile?: string;
}

export function stackFields(project: string = PROJECT_NAME, cwd: string = process.cwd(), context: FieldContext = {}) {
  const listFix = listFixFor(project);
  return {
    ...targetFields(),
    ...imageFields(listFix, context.dockerfile),
    ...modelFields(),
    ...podFields(listFix),
    ...podLifecycleFields(),
    ...localFields(),
    ...serverlessFields(listFix),
    ...registryFields(),
    ...checksFields(cwd),
    ...comfyFields(),
    ...providerFields(),
  };
}

/** Each key's value when it is not set (undefined for optional keys), as its schema gives it. */
export function defaultValues(fields: FieldSet): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fields).map(([key, f]) => {
      const parsed = f.schema.safeParse(undefined);
      return [key, JSON.stringify(parsed.success ? parsed.data : undefined) ?? ""];
    }),
  );
}
