// The files of a Docker build context that reach the builder, decided by its .dockerignore the way Docker
// decides (moby patternmatcher): patterns are cleaned paths relative to the context, `*`, `?`, `[…]` and `**`
// wildcards, a pattern matching a parent directory matches everything below it, `!` re-includes, and the last
// matching pattern wins. The Dockerfile is always sent. These are also the files whose change makes
// docker-build rebuild the image (its contextHash reads the same .dockerignore with Docker's own matcher);
// the tests use this to show what does and does not rebuild.
import * as fs from "fs";
import * as path from "path";

interface IgnorePattern {
  exception: boolean;
  re: RegExp;
}

/** One glob segment sequence as a regular expression over `/`-separated paths. */
function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] ?? "";
    if (ch === "*" && pattern[i + 1] === "*") {
      // `**` spans any number of directories, including none (`**/x` matches `x`).
      re += ".*";
      i++;
      if (pattern[i + 1] === "/") i++;
    } else if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else if (ch === "\\" && i + 1 < pattern.length) {
      i++;
      re += (pattern[i] ?? "").replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
    } else if (ch === "[" && pattern.indexOf("]", i + 2) > 0) {
      const end = pattern.indexOf("]", i + 2);
      const body = pattern.slice(i + 1, end);
      const negated = body.startsWith("^");
      const ranges = (negated ? body.slice(1) : body).replace(/[\\\]]/g, "\\$&");
      // Like filepath.Match, a class never matches the separator.
      re += negated ? `[^/${ranges}]` : `(?!/)[${ranges}]`;
      i = end;
    } else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

function parseDockerignore(text: string): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  for (const raw of text.split(/\r?\n/).map((l) => l.trim())) {
    if (!raw || raw.startsWith("#")) continue;
    const exception = raw.startsWith("!");
    // filepath.Clean, then relative to the context root: "/output/", "./output" and "output" are one pattern.
    const cleaned = path.posix.normalize((exception ? raw.slice(1).trim() : raw).replace(/^\/+/, "")).replace(/\/+$/, "");
    if (cleaned === "" || cleaned === ".") continue;
    patterns.push({ exception, re: globToRegExp(cleaned) });
  }
  return patterns;
}

function admitted(patterns: IgnorePattern[], file: string): boolean {
  let included = true;
  const parents = file.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/"));
  for (const p of patterns) {
    if (parents.some((dir) => p.re.test(dir))) included = p.exception;
  }
  return included;
}

/** Whether `file` (relative to the context, `/`-separated) is sent to the builder under this .dockerignore text. */
export function inBuildContext(dockerignore: string, file: string): boolean {
  return admitted(parseDockerignore(dockerignore), file);
}

/** The context's files the builder receives, sorted, as `/`-separated paths relative to `dir`. */
export function buildContextFiles(dir: string, dockerfile = "Dockerfile"): string[] {
  const ignoreFile = path.join(dir, ".dockerignore");
  const patterns = fs.existsSync(ignoreFile) ? parseDockerignore(fs.readFileSync(ignoreFile, "utf8")) : [];
  const canReinclude = patterns.some((p) => p.exception);
  const files: string[] = [];
  const walk = (rel: string) => {
    const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        // As Docker does: an excluded folder is skipped unless some `!` pattern could bring files back.
        if (canReinclude || admitted(patterns, child)) walk(child);
      } else if (entry.isFile() && (child === dockerfile || admitted(patterns, child))) {
        files.push(child);
      }
    }
  };
  walk("");
  return files;
}
