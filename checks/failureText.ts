// Turns ComfyUI's error bodies and events into sentences a person can act on.
import type { ApiWorkflow, ExecutionError, ExecutionInterrupted, PromptErrorDetail, PromptRejected } from "./comfyApi";

function detailText(detail: PromptErrorDetail): string {
  const details = typeof detail.details === "string" && detail.details.trim() ? `: ${detail.details.trim()}` : "";
  const message = detail.message || detail.type;
  return `${details ? message.replace(/\.$/, "") : message}${details}`;
}

/** One line per node for an HTTP 400 from POST /prompt. */
export function rejectionLines(rejection: PromptRejected): string[] {
  const nodeErrors = rejection.node_errors;
  if (!nodeErrors || Array.isArray(nodeErrors)) return [];
  return Object.entries(nodeErrors).map(([nodeId, node]) => {
    const reasons = node.errors.map(detailText).join("; ") || "invalid";
    return `node ${nodeId} (${node.class_type ?? "?"}): ${reasons}`;
  });
}

interface UnknownNode {
  nodeId: string | null;
  /** null: the node has no class_type at all. */
  classType: string | null;
  title: string | null;
}

/**
 * A node whose class ComfyUI does not know, in either form: `invalid_prompt` "Cannot execute because node X does
 * not exist." / "…a node is missing the class_type property." (up to v0.8.1, the pinned version), or
 * `missing_node_type` with extra_info {node_id, class_type, node_title} (builds after ComfyUI PR #12194).
 */
function unknownNode(error: PromptErrorDetail): UnknownNode | null {
  const nodeId = typeof error.details === "string" ? (/Node ID '#([^']*)'/.exec(error.details)?.[1] ?? null) : null;
  if (error.type === "missing_node_type") {
    const info = error.extra_info ?? {};
    return {
      nodeId: typeof info.node_id === "string" ? info.node_id : nodeId,
      classType: typeof info.class_type === "string" ? info.class_type : null,
      title: typeof info.node_title === "string" ? info.node_title : null,
    };
  }
  if (error.type !== "invalid_prompt") return null;
  const missing = /^Cannot execute because node (.+) does not exist\.?$/.exec(error.message.trim());
  if (missing?.[1]) return { nodeId, classType: missing[1], title: null };
  if (/missing the class_type property/.test(error.message)) return { nodeId, classType: null, title: null };
  return null;
}

function describeUnknownNode(node: UnknownNode, workflow: ApiWorkflow | undefined): string {
  const id = node.nodeId ?? "?";
  const sent = node.nodeId !== null ? workflow?.[node.nodeId] : undefined;
  if (node.classType === null) {
    return (
      `ComfyUI rejected the workflow: node ${id} has no class_type, so ComfyUI cannot tell which node it is: ` +
      "the workflow file is damaged or not in API format (export it with \"Save (API)\")."
    );
  }
  const title = node.title ?? (typeof sent?._meta?.title === "string" ? sent._meta.title : null);
  return (
    `ComfyUI rejected the workflow: node ${id}${title && title !== node.classType ? ` ("${title}")` : ""} uses the node class ${node.classType}, ` +
    "which is not installed: the custom node that provides it is missing from the image or failed to import (look for 'IMPORT FAILED' in the ComfyUI log)."
  );
}

/** A 400 from POST /prompt as a sentence; `workflow` (what was sent) names a node the error gives only by id. */
export function describeRejection(rejection: PromptRejected, workflow?: ApiWorkflow): string {
  const error = rejection.error;
  if (typeof error === "string") return `ComfyUI rejected the workflow: ${error}.`;
  const unknown = unknownNode(error);
  if (unknown) return describeUnknownNode(unknown, workflow);
  const lines = rejectionLines(rejection);
  const missingModel = lines.some((l) => /value_not_in_list|not in list/i.test(l) && /\.(safetensors|gguf|pth|pt|ckpt|onnx|bin)\b/i.test(l));
  const hint = missingModel ? " A model file the workflow names is not on the pod: check the model download step and the file names." : "";
  const perNode = lines.length ? ` ${lines.join("; ")}.` : "";
  return `ComfyUI rejected the workflow (${error.type}): ${detailText(error)}.${perNode}${hint}`;
}

export function isOutOfMemory(error: Pick<ExecutionError, "exception_type" | "exception_message">): boolean {
  return /OutOfMemoryError|out of memory|CUBLAS_STATUS_ALLOC_FAILED/i.test(`${error.exception_type} ${error.exception_message}`);
}

function firstLine(text: string): string {
  return text.split("\n").map((l) => l.trim()).find((l) => l.length > 0) ?? "";
}

export function describeExecutionError(error: ExecutionError): string {
  const where = `node ${error.node_id ?? "?"} (${error.node_type ?? "?"})`;
  const what = `${error.exception_type || "an exception"}: ${firstLine(error.exception_message)}`;
  if (isOutOfMemory(error)) {
    return (
      `ComfyUI ran out of GPU memory in ${where}: ${what}. ` +
      "Use a GPU with more VRAM, use the fp8 model variant, or swap more blocks to the CPU (WanVideoBlockSwap)."
    );
  }
  return `The job failed in ${where} with ${what}. The ComfyUI log on the pod has the full traceback.`;
}

export function describeInterrupted(event: ExecutionInterrupted): string {
  const where = event.node_id ? ` at node ${event.node_id} (${event.node_type ?? "?"})` : "";
  return `ComfyUI interrupted the job${where}: someone cancelled it (the UI's Cancel, or POST /interrupt). Run the check again.`;
}
