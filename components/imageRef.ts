// Docker image references: checked, split, and the registry each one lives in.

export interface ImageRef {
  /** The reference as given. */
  text: string;
  /** [registry/]path without tag or digest. */
  name: string;
  tag?: string;
  /** sha256:<64 hex> */
  digest?: string;
}

// [registry[:port]/]path[:tag][@sha256:digest], path components lowercase (Docker's reference grammar).
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_REF = new RegExp(
  `^(?<name>(?:[A-Za-z0-9.-]+(?::\\d+)?/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)` +
    "(?::(?<tag>\\w[\\w.-]{0,127}))?(?:@(?<digest>sha256:[a-f0-9]{64}))?$",
);

/** Why `ref` is not an image reference, or undefined when it is one. */
export function imageRefProblem(ref: string): string | undefined {
  if (ref.length === 0) return "is empty";
  if (/\s/.test(ref)) return "contains whitespace";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) return "is a URL; give the image reference without a scheme";
  const at = ref.indexOf("@");
  if (at >= 0 && !/^sha256:[a-f0-9]{64}$/.test(ref.slice(at + 1))) return "has a malformed digest";
  return IMAGE_REF.test(ref) ? undefined : "is not an image reference";
}

/** Splits [registry[:port]/]path[:tag][@sha256:digest]; throws on anything else. */
export function parseImageRef(text: string): ImageRef {
  const groups = IMAGE_REF.exec(text)?.groups;
  const name = groups?.name;
  if (!groups || name === undefined) throw new Error(`image reference ${JSON.stringify(text)} ${imageRefProblem(text) ?? "is not an image reference"}`);
  return {
    text,
    name,
    ...(groups.tag !== undefined ? { tag: groups.tag } : {}),
    ...(groups.digest !== undefined ? { digest: groups.digest } : {}),
  };
}

/** The registry host of an image name, as `docker login` names it; Docker Hub for names without one. */
export function registryServer(name: string): string {
  const first = name.split("/")[0] ?? name;
  const hasHost = name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  return hasHost ? first : "docker.io";
}

/** The name with its registry spelled out (`docker.io/` for Docker Hub), as buildx wants tags and cache refs. */
export function qualifiedName(name: string): string {
  return registryServer(name) === "docker.io" && !name.startsWith("docker.io/") ? `docker.io/${name}` : name;
}
