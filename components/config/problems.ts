// How a problem is shown: the known key an unknown one most likely meant, and a value as the user wrote it
// with credentials masked.
import { shownItem } from "./envItems";

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

/** The known key an unknown one most likely meant, if any is close. */
export function closestKey(unknown: string, known: string[]): string | undefined {
  const lower = unknown.toLowerCase();
  const last = (k: string) => k.toLowerCase().split(/[.:]/).pop() ?? k;
  const exact = known.find((k) => k.toLowerCase() === lower) ?? known.find((k) => last(k) === last(unknown));
  if (exact) return exact;
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = editDistance(lower, key.toLowerCase());
    if (!best || distance < best.distance) best = { key, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(unknown.length / 4)) ? best.key : undefined;
}

/** A value as the user wrote it: lists as their JSON text (credential items masked), anything else quoted. */
export function shown(value: string): string {
  let masked = value;
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed) && parsed.every((item): item is string => typeof item === "string")) {
      masked = `[${parsed.map(shownItem).join(",")}]`;
    }
  } catch {
    // not a JSON list: shown as written, redaction still applies
  }
  const text = masked.length > 200 ? `${masked.slice(0, 200)}…` : masked;
  return /^\[.*\]$/s.test(masked) ? text : JSON.stringify(text);
}
