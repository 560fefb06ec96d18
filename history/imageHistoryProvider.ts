// The `deploy:ImageHistory` dynamic provider: remembers, in Pulumi state, the image digest deployed before the
// current one, so a rollback needs no digging through `pulumi stack history`. It talks to nothing but state.
import type * as pulumi from "@pulumi/pulumi";

export interface ImageHistoryInputs {
  /** The digest reference (repo@sha256:…) this deployment runs. */
  imageRef: string;
}

export interface ImageHistoryState {
  imageRef: string;
  /** The digest reference the deployment ran before `imageRef`; empty until the image changes once. */
  previousImageRef: string;
}

/** The value Pulumi hands a dynamic provider for an input not known yet (a preview before the build). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** The history after deploying `imageRef` on top of `olds`: the old digest moves to previous only when it changes. */
export function nextImageHistory(olds: Partial<ImageHistoryState>, imageRef: string): ImageHistoryState {
  const current = typeof olds.imageRef === "string" ? olds.imageRef : "";
  if (current === imageRef) {
    return { imageRef, previousImageRef: typeof olds.previousImageRef === "string" ? olds.previousImageRef : "" };
  }
  return { imageRef, previousImageRef: current };
}

function imageRefOf(inputs: Record<string, unknown>): string {
  const ref = inputs.imageRef;
  if (typeof ref !== "string" || ref === "") throw new Error("ImageHistory: imageRef must be a non-empty image reference");
  return ref;
}

// Plain functions only, nothing captured from module scope but the helpers above: the object is serialized into state.
export const imageHistoryProvider: pulumi.dynamic.ResourceProvider<Record<string, unknown>, ImageHistoryState> = {
  // eslint-disable-next-line @typescript-eslint/require-await
  async check(_olds, news) {
    const ref = news.imageRef;
    const ok = ref === UNKNOWN || (typeof ref === "string" && ref !== "");
    return { inputs: news, failures: ok ? [] : [{ property: "imageRef", reason: "must be a non-empty image reference" }] };
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async diff(_id, olds, news) {
    // Never a replacement: replacing would create a fresh history and forget the previous digest.
    return { changes: olds.imageRef !== news.imageRef, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs) {
    const { randomUUID } = await import("crypto");
    return { id: `image-history-${randomUUID()}`, outs: nextImageHistory({}, imageRefOf(inputs)) };
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async update(_id, olds, news) {
    return { outs: nextImageHistory(olds, imageRefOf(news)) };
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async read(id, props) {
    // State is the only source of truth: a refresh keeps what was recorded.
    return { id, props };
  },

  async delete() {
    // Nothing exists outside Pulumi state.
  },
};
