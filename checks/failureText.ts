// Turns ComfyUI's error bodies and events into sentences a person can act on.
import type { ExecutionError, ExecutionInterrupted, PromptErrorDetail, PromptRejected } from "./comfyApi";

function detailText(detail: PromptErrorDetail): string {
  const details = typeof detail.details === "string" && detail.details.trim() ? `: ${detail.details.trim()}` : "";
  return `${detail.message || detail.type}${details}`;
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

export function describeRejection(rejection: PromptRejected): string {
  const error = rejection.error;
  if (typeof error === "string") return `ComfyUI rejected the workflow: ${error}.`;
  if (error.type === "missing_node_type") {
    const info = error.extra_info ?? {};
    const classType = typeof info.class_type === "string" ? info.class_type : null;
    const nodeId = typeof info.node_id === "string" ? info.node_id : null;
    const title = typeof info.node_title === "string" ? info.node_title : null;
    if (classType) {
      return (
        `ComfyUI rejected the workflow: node ${nodeId ?? "?"}${title && title !== classType ? ` ("${title}")` : ""} uses the node class ${classType}, ` +
        "which is not installed: the custom node that provides it is missing from the image or failed to import (look for 'IMPORT FAILED' in the ComfyUI log)."
      );
    }
    return `ComfyUI rejected the workflow: ${error.message} (${typeof error.details === "string" ? error.details : "a node has no class_type"}).`;
  }
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
