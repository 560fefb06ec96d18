// registry.*: credentials for a private image, both or neither.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { token } from "./codecs";
import { field, issue, type LooseValues, type RefineCtx, type ValuesOf } from "./keyInfo";

export function registryFields() {
  return {
    "registry.username": field(
      {
        type: "string",
        expected: "the container registry user, together with registry.password",
        fix: "pulumi config set registry.username <user>",
        optional: true,
      },
      token("the user name").optional(),
    ),
    "registry.password": field(
      {
        type: "string",
        expected: "a secret: the registry password or token, together with registry.username",
        fix: "pulumi config set --secret registry.password <password>",
        secret: true,
        optional: true,
      },
      z.string().optional(),
    ),
  };
}

export function checkRegistry(v: LooseValues, ctx: RefineCtx): void {
  const user = v["registry.username"] !== undefined;
  const password = v["registry.password"] !== undefined;
  if (user && !password) {
    const message = "registry.username is set, so registry.password is needed too (both or neither)";
    issue(ctx, message, "registry.password");
  }
  if (password && !user) {
    const message = "registry.password is set, so registry.username is needed too (both or neither)";
    issue(ctx, message, "registry.username");
  }
}

export function registrySection(v: ValuesOf<ReturnType<typeof registryFields>>, isSecret: (key: string) => boolean) {
  return v["registry.username"] !== undefined && v["registry.password"] !== undefined
    ? {
        username: isSecret("registry.username") ? pulumi.secret(v["registry.username"]) : v["registry.username"],
        password: pulumi.secret(v["registry.password"]),
      }
    : undefined;
}
