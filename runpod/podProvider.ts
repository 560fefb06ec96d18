// STUB: replaced by the real provider (being written now). Keeps the tree compiling.
import * as pulumi from "@pulumi/pulumi";
export const podProvider: pulumi.dynamic.ResourceProvider = {
  async create() { throw new Error("not implemented"); },
};
