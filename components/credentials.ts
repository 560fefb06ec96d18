// What looks like a credential, by its name or by the shape of its value, and how to hide it in a message.
// Used where config values are echoed (problem lines), refused (build args, which persist in the image's
// history) or must not sit in plaintext config (pod.env).

/** Name words that mark a credential wherever they appear in a name (HF_TOKEN, MYSECRET, DB_PASSWORD). */
const CREDENTIAL_WORDS = /TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|APIKEY|PRIVATE|COOKIE|SESSION/i;
/** Shorter words that mark a credential only as a whole `_`/`-`/`.`-separated part (API_KEY, GITHUB_PAT, HF_AUTH). */
const CREDENTIAL_PARTS = new Set(["KEY", "PAT", "AUTH", "PASS", "PWD", "CRED", "CREDS", "JWT", "BEARER", "SIGNATURE", "CERT", "DSN"]);

/** Whether an env / build-arg / header name says it holds a credential. */
export function isCredentialName(name: string): boolean {
  if (CREDENTIAL_WORDS.test(name)) return true;
  return name
    .toUpperCase()
    .split(/[_.-]+/)
    .some((part) => CREDENTIAL_PARTS.has(part));
}

/** Known token formats; each as it appears inside a longer text. */
const TOKEN_SHAPES: { what: string; re: RegExp }[] = [
  { what: "a Hugging Face token", re: /\bhf_[A-Za-z0-9_]{16,}/g },
  { what: "a GitHub token", re: /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g },
  { what: "a RunPod API key", re: /\brpa_[A-Za-z0-9_]{16,}/g },
  { what: "a GitLab token", re: /\bglpat-[A-Za-z0-9_-]{16,}/g },
  { what: "a Docker Hub token", re: /\bdckr_pat_[A-Za-z0-9_-]{16,}/g },
  { what: "an OpenAI-style secret key", re: /\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}/g },
  { what: "a Slack token", re: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g },
  { what: "an AWS access key id", re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { what: "a Google API key", re: /\bAIza[0-9A-Za-z_-]{35}/g },
  { what: "a Stripe key", re: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}/g },
  { what: "a JSON web token", re: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g },
  { what: "a private key", re: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g },
];
/** The password of a URL's user info (`https://user:password@host`). */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s@/]+)(@)/gi;
/** An `Authorization`-style scheme and its credential. */
const AUTH_SCHEME = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/g;

/** What kind of credential the text holds by its shape, if any ("a Hugging Face token"). */
export function credentialShapeIn(text: string): string | undefined {
  for (const { what, re } of TOKEN_SHAPES) {
    re.lastIndex = 0;
    if (re.test(text)) return what;
  }
  URL_PASSWORD.lastIndex = 0;
  if (URL_PASSWORD.test(text)) return "a password in a URL";
  return undefined;
}

/** Values that switch something rather than hold it (HF_HUB_DISABLE_TOKEN=1, COMFYUI_AUTH=off). */
const FLAG_VALUE = /^(?:|true|false|yes|no|on|off|enabled?|disabled?|none|-?\d{1,6})$/i;

/** A `NAME=value` item (env, build arg) that holds a credential by its name or its value's shape. */
export function isCredentialItem(name: string, value: string): boolean {
  return (isCredentialName(name) && !FLAG_VALUE.test(value.trim())) || credentialShapeIn(value) !== undefined;
}

export const REDACTED = "[secret]";

/**
 * Hides credentials in a message: every known secret value wherever it occurs, then anything shaped like a
 * token, a URL password or an Authorization credential.
 */
export function redactCredentials(text: string, knownSecrets: Iterable<string> = []): string {
  // Longest first, so a secret that contains another is hidden whole. Very short strings would mangle the
  // message: real secrets are longer, and short credential values are masked where they are shown.
  const known = [...new Set(knownSecrets)].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  let out = known.reduce((acc, secret) => acc.split(secret).join(REDACTED), text);
  for (const { re } of TOKEN_SHAPES) out = out.replace(re, REDACTED);
  out = out.replace(URL_PASSWORD, `$1${REDACTED}$3`);
  out = out.replace(AUTH_SCHEME, `$1 ${REDACTED}`);
  return out;
}
