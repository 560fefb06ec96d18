// local.*: target local, a container on this machine's Docker GPU host.
import { z } from "zod";
import { COMFYUI_PORT } from "../pod";
import { intText } from "./codecs";
import { field, type ValuesOf } from "./keyInfo";

export function localFields() {
  return {
    "local.port": field(
      {
        type: "integer",
        expected: "an integer from 1 to 65535 (the port on 127.0.0.1 where the local container publishes ComfyUI)",
        fix: `pulumi config set local.port ${COMFYUI_PORT}`,
      },
      intText(1, 65535).default(COMFYUI_PORT),
    ),
    "local.volumeName": field(
      {
        type: "string",
        expected: `a Docker volume name (letters, digits, _ . -) for the local container's pod.volumeMountPath; unset = steadydancer-<stack>-workspace`,
        fix: "pulumi config set local.volumeName steadydancer-workspace (or pulumi config rm local.volumeName)",
        optional: true,
      },
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]+$/, "is not a Docker volume name").optional(),
    ),
    "local.readyTimeoutMinutes": field(
      {
        type: "integer",
        expected: "an integer from 1 to 240 (minutes the local container may take to report healthy, first model download included)",
        fix: "pulumi config set local.readyTimeoutMinutes 45",
      },
      intText(1, 240).default(45),
    ),
  };
}

export function localSection(v: ValuesOf<ReturnType<typeof localFields>>) {
  return {
    port: v["local.port"],
    volumeName: v["local.volumeName"],
    readyTimeoutMinutes: v["local.readyTimeoutMinutes"],
  };
}
