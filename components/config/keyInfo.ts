// What every config key is made of: its help (KeyInfo), its schema, and the way a check reports a problem
// about it. The section modules (imageFields.ts, podFields.ts, …) are built from these.
import { z } from "zod";

export const PROJECT_NAME = "steadydancer-runpod";

/** "number" keys are optional only: Pulumi.yaml cannot declare that type. */
export type ConfigType = "string" | "integer" | "number" | "boolean" | "array";

export interface KeyInfo {
  type: ConfigType;
  /** The form of a valid value, shown with every problem about the key. */
  expected: string;
  /** A command (or file edit) that sets a valid value. */
  fix: string;
  secret?: boolean;
  /** May be left unset. Pulumi.yaml cannot declare such a key: it treats a declared key without default as required. */
  optional?: boolean;
}

export interface Field<S extends z.ZodType> {
  info: KeyInfo;
  schema: S;
}

export const field = <S extends z.ZodType>(info: KeyInfo, schema: S): Field<S> => ({ info, schema });

export type RefineCtx = z.RefinementCtx;

export function issue(ctx: RefineCtx, message: string, path?: string, fix?: string): void {
  ctx.addIssue({ code: "custom", message, ...(path ? { path: [path] } : {}), ...(fix ? { params: { fix } } : {}) });
}

export type FieldSet = Record<string, Field<z.ZodType>>;
export type ShapeOf<F extends FieldSet> = { [K in keyof F]: F[K]["schema"] };

export function shapeOf<F extends FieldSet>(fields: F): ShapeOf<F> {
  return Object.fromEntries(Object.entries(fields).map(([key, f]) => [key, f.schema])) as ShapeOf<F>;
}

/** The typed values of a set of fields once they all parsed (what the schema's transform sees). */
export type ValuesOf<F extends FieldSet> = z.output<z.ZodObject<ShapeOf<F>>>;

/**
 * The values as superRefine sees them: it runs even when single keys failed, so a failed key is present but
 * holds no usable value. Cross-key rules test presence, and types before use.
 */
export type LooseValues = Readonly<Record<string, unknown>>;

/** The fix for a list key: lists are edited in the stack file. */
export type ListFix = (key: string, example: string[]) => string;

export function listFixFor(project: string): ListFix {
  return (key, example) => `edit Pulumi.<stack>.yaml: ${project}:${key}: ${JSON.stringify(example)}`;
}

/** Whether a key already has a problem in this pass (its own, or one a cross-key rule gave it). */
export function failed(ctx: RefineCtx, key: string): boolean {
  return ctx.issues.some((i) => i.path?.[0] === key);
}
