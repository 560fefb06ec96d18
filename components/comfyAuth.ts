// The token in front of ComfyUI, shared by every target that runs the image: docker/scripts/start.sh starts its
// authenticating front (auth-proxy.py) with COMFYUI_AUTH_TOKEN, or serves ComfyUI unchecked with COMFYUI_AUTH=off.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export const AUTH_TOKEN_ENV = "COMFYUI_AUTH_TOKEN";
export const AUTH_MODE_ENV = "COMFYUI_AUTH";

export interface ComfyAuth {
  /** The token the front asks for (a secret), or undefined when authentication is off. */
  token: pulumi.Output<string | undefined>;
  /** The container env that tells the image which way to run. */
  env: Record<string, pulumi.Input<string>>;
}

/** Generated once per stack and kept in state as a secret; it changes only if its resource is replaced. */
export function comfyAuth(name: string, enabled: boolean, parent: pulumi.Resource): ComfyAuth {
  if (!enabled) return { token: pulumi.output(undefined), env: { [AUTH_MODE_ENV]: "off" } };
  const token = pulumi.secret(
    new random.RandomPassword(`${name}-comfy-token`, { length: 48, special: false }, { parent }).result,
  );
  return { token, env: { [AUTH_TOKEN_ENV]: token } };
}

/** The header line the checks send to the front: `Authorization: Bearer <token>`, a secret. */
export function bearerHeader(token: pulumi.Input<string | undefined>): pulumi.Output<string> {
  return pulumi.secret(
    pulumi.output(token).apply((t) => {
      if (!t) throw new Error("ComfyUI's token is missing: comfy.auth is true but the target generated none");
      return `Authorization: Bearer ${t}`;
    }),
  );
}
