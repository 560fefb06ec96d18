// The CLI's contract for callers that build its command line (DeploymentChecks): exit codes and flags.
import type { CheckName } from "./result";

export const EXIT_PASS = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Environment variable carrying the optional `Name: value` header for a ComfyUI behind an auth proxy. */
export const AUTH_HEADER_ENV = "COMFYUI_AUTH_HEADER";

export interface CheckCliFlags {
  url: string;
  timeoutSeconds?: number;
  /** vram only. */
  minVramGb?: number;
  /** generate only: smoke, steadydancer or a workflow file. */
  workflow?: string;
  frames?: number;
  width?: number;
  height?: number;
  assets?: string;
  out?: string;
}

/** `[check, --url, …]` for `checks/cli.ts`, with only the flags that check reads. No secrets go here. */
export function checkCliArgs(check: CheckName, flags: CheckCliFlags): string[] {
  const args: string[] = [check, "--url", flags.url];
  const add = (name: string, value: string | number | undefined): void => {
    if (value !== undefined) args.push(`--${name}`, String(value));
  };
  add("timeout", flags.timeoutSeconds);
  if (check === "vram") add("min-vram-gb", flags.minVramGb);
  if (check === "generate") {
    add("workflow", flags.workflow);
    add("frames", flags.frames);
    add("width", flags.width);
    add("height", flags.height);
    add("assets", flags.assets);
    add("out", flags.out);
  }
  return args;
}
