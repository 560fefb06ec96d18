// KEY=VALUE list items (pod.env, image.buildArgs): splitting, showing them with credentials hidden, and the
// rules for the container env.
import { REDACTED, isCredentialItem } from "../credentials";
import { issue, type RefineCtx } from "./keyInfo";
import { duplicates } from "./codecs";

/** Env names that must not be set through pod.env: they come from secrets, or must never reach the pod. */
const RESERVED_ENV: Record<string, string> = {
  HF_TOKEN: "comes from the hfToken secret (pulumi config set --secret hfToken <token>)",
  RUNPOD_API_KEY: "the RunPod API key never goes into the pod",
  COMFYUI_AUTH_TOKEN: "the stack generates it (stack output comfyToken); comfy.auth false switches the check off",
  COMFYUI_AUTH: "comes from comfy.auth (pulumi config set comfy.auth false)",
  STEADYDANCER_VARIANT: "comes from model.variant (pulumi config set model.variant fp16)",
  PUBLIC_KEY: "comes from pod.publicKey (pulumi config set pod.publicKey \"$(cat ~/.ssh/id_ed25519.pub)\")",
  IDLE_STOP_MINUTES: "comes from pod.idleStopMinutes",
  MAX_LIFETIME_HOURS: "comes from pod.maxLifetimeHours",
  LIFETIME_ACTION: "comes from pod.lifetimeAction",
};

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function splitEnv(item: string): [string, string] {
  const eq = item.indexOf("=");
  return eq < 0 ? [item, ""] : [item.slice(0, eq), item.slice(eq + 1)];
}

/** A KEY=VALUE item as a message may show it: a credential's value (or a whole item that looks like one) hidden. */
export function shownItem(item: string): string {
  const [name, value] = splitEnv(item);
  if (!item.includes("=")) return JSON.stringify(isCredentialItem("", item) ? REDACTED : item);
  return JSON.stringify(isCredentialItem(name, value) ? `${name}=${REDACTED}` : item);
}

export function checkEnv(items: string[], ctx: RefineCtx): void {
  const names: string[] = [];
  for (const item of items) {
    const [name] = splitEnv(item);
    if (!item.includes("=")) issue(ctx, `item ${shownItem(item)} is not KEY=VALUE`);
    else if (!ENV_NAME.test(name)) issue(ctx, `${JSON.stringify(name)} is not a valid env name (letters, digits, _)`);
    else if (RESERVED_ENV[name]) issue(ctx, `${name} is reserved: ${RESERVED_ENV[name]}`);
    names.push(name);
  }
  for (const dup of duplicates(names)) issue(ctx, `${dup} is set more than once`);
}

/** Credentials in a pod.env stored in plaintext, and the RunPod API key in any pod.env. */
export function checkEnvValues(env: Record<string, string>, secret: boolean, apiKey: string | undefined, ctx: RefineCtx): void {
  const plaintextCredentials: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (apiKey && value === apiKey) {
      issue(ctx, `${name} carries the RunPod API key, which must never reach the pod`, "pod.env");
    } else if (!secret && isCredentialItem(name, value)) plaintextCredentials.push(name);
  }
  if (plaintextCredentials.length > 0) {
    issue(
      ctx,
      `${plaintextCredentials.join(", ")} look${plaintextCredentials.length === 1 ? "s" : ""} like a credential, and pod.env is ` +
        "stored in plaintext (in Pulumi.<stack>.yaml, and so in the pod's inputs and state)",
      "pod.env",
      `pulumi config set --secret pod.env '["NAME=value", …]' (the whole list becomes secret, every value stays secret)`,
    );
  }
}

/** Values of credential-like KEY=VALUE items in a list key's text, hidden from every problem line like secrets. */
export function credentialItemValues(text: string | undefined): string[] {
  if (text === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed
    .filter((item): item is string => typeof item === "string")
    .flatMap((item) => {
      const [name, value] = splitEnv(item);
      if (!item.includes("=")) return isCredentialItem("", item) ? [item] : [];
      return isCredentialItem(name, value) ? [value] : [];
    });
}
