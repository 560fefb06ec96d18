// Codecs from Pulumi's config text to typed values, and checks of list items. Each reports its own reason;
// the key's KeyInfo adds the expected form and the fix.
import { z } from "zod";
import { issue, type RefineCtx } from "./keyInfo";

export function intText(min: number, max: number) {
  return z.string().transform((text, ctx) => {
    if (!/^[+-]?\d+$/.test(text.trim())) {
      issue(ctx, "not a whole number");
      return z.NEVER;
    }
    const n = Number(text);
    if (n < min || n > max) {
      issue(ctx, `${n} is out of range`);
      return z.NEVER;
    }
    return n;
  });
}

export function boolText() {
  return z.string().transform((text, ctx) => {
    if (text === "true" || text === "false") return text === "true";
    issue(ctx, "not true or false");
    return z.NEVER;
  });
}

export function numberText(min: number, max: number) {
  return z.string().transform((text, ctx) => {
    const n = Number(text.trim());
    if (text.trim() === "" || !Number.isFinite(n)) {
      issue(ctx, "not a number");
      return z.NEVER;
    }
    if (n < min || n > max) {
      issue(ctx, `${n} is out of range`);
      return z.NEVER;
    }
    return n;
  });
}

export function listText() {
  return z.string().transform((text, ctx): string[] => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || !parsed.every((item): item is string => typeof item === "string")) {
      issue(ctx, "not a list of strings");
      return z.NEVER;
    }
    return parsed;
  });
}

/** A string without whitespace (ids, names, paths). */
export function token(what: string) {
  return z.string().refine((s) => s.length > 0 && !/\s/.test(s), `${what} must be non-empty without whitespace`);
}

export function duplicates(items: string[]): string[] {
  return [...new Set(items.filter((item, i) => items.indexOf(item) !== i))];
}

export function checkItems(
  items: string[],
  ctx: RefineCtx,
  opts: { nonEmpty?: string; item: (s: string) => string | undefined; sameKey?: (s: string) => string },
): void {
  if (opts.nonEmpty && items.length === 0) issue(ctx, opts.nonEmpty);
  for (const item of items) {
    const reason = opts.item(item);
    if (reason) issue(ctx, `item ${JSON.stringify(item)} ${reason}`);
  }
  for (const dup of duplicates(items.map(opts.sameKey ?? ((s) => s)))) {
    issue(ctx, `${JSON.stringify(dup)} is listed more than once`);
  }
}

export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.host.length > 0;
  } catch {
    return false;
  }
}
