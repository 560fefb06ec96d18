// comfy.*: how ComfyUI itself is guarded.
import { boolText } from "./codecs";
import { field } from "./keyInfo";

export function comfyFields() {
  return {
    "comfy.auth": field(
      {
        type: "boolean",
        expected:
          "true or false (true: ComfyUI answers only requests carrying the stack's token, stack output comfyToken; " +
          "false: anyone with the URL can use it, for a ComfyUI behind an authenticating proxy of your own)",
        fix: "pulumi config set comfy.auth true",
      },
      boolText().default(true),
    ),
  };
}
