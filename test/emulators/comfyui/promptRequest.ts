// POST /prompt's request handling in server.py: the queue number, the missing prompt, a client-chosen
// prompt_id (canonical UUID only), validation, and the job that goes into the queue.
import { randomUUID } from "node:crypto";
import type { Job, Json, ResolvedOptions, Workflow } from "./options";
import { validatePrompt, type ValidationContext } from "./validation";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type PromptAnswer = { status: 400; body: unknown } | { status: 200; body: Json; job: Job };

/** `number` is the server's counter, already counted for this request (server.py counts rejected prompts too). */
export function acceptPrompt(data: Json | null, number: number, options: Pick<ResolvedOptions, "build" | "unknownNodeError">, context: Omit<ValidationContext, "unknownNodeError">): PromptAnswer {
  if (!data || typeof data !== "object" || !("prompt" in data)) {
    if (options.build === "2024") return { status: 400, body: { error: "no prompt", node_errors: [] } };
    return { status: 400, body: { error: { type: "no_prompt", message: "No prompt provided", details: "No prompt provided", extra_info: {} }, node_errors: {} } };
  }
  let promptId: string = randomUUID();
  if (options.build !== "2024" && data.prompt_id !== undefined && data.prompt_id !== null) {
    if (typeof data.prompt_id !== "string" || !UUID_RE.test(data.prompt_id)) {
      return {
        status: 400,
        body: {
          error: { type: "invalid_prompt_id", message: "prompt_id must be a valid UUID", details: "prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one", extra_info: {} },
          node_errors: {},
        },
      };
    }
    promptId = data.prompt_id;
  }
  const prompt = (data.prompt ?? {}) as Workflow;
  const validation = validatePrompt(prompt, { ...context, unknownNodeError: options.unknownNodeError });
  if (!validation.ok) return { status: 400, body: validation.body };
  const extraData: Json = { ...((data.extra_data as Json | undefined) ?? {}) };
  if (typeof data.client_id === "string") extraData.client_id = data.client_id;
  if (options.build === "2026") extraData.create_time = Date.now();
  const job: Job = {
    number, promptId, prompt, extraData, outputs: validation.outputs,
    clientId: typeof data.client_id === "string" ? data.client_id : null, interrupted: false,
  };
  return { status: 200, body: { prompt_id: promptId, number, node_errors: validation.nodeErrors }, job };
}
