// The build args a Dockerfile declares. Read with dockerfile-ast (a runtime dependency for this reason): it
// knows line continuations, the escape directive, multi-name ARG lines and comments, which a line regex does not.
import * as fs from "fs";
import { Arg, DockerfileParser } from "dockerfile-ast";

/**
 * Args every build accepts without an ARG line. Docker leaves these proxy settings out of the image history
 * unless the Dockerfile declares them.
 */
export const PREDEFINED_BUILD_ARGS = [
  "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
] as const;

/** Every name an ARG instruction declares, in any stage or before the first FROM. */
export function declaredBuildArgs(dockerfile: string): Set<string> {
  const parsed = DockerfileParser.parse(fs.readFileSync(dockerfile, "utf8"));
  const names = parsed
    .getInstructions()
    .filter((instruction): instruction is Arg => instruction instanceof Arg)
    .flatMap((arg) => arg.getProperties().map((property) => property.getName()));
  return new Set(names);
}
