// What the job API shows of a job and of an endpoint: /status (send-requests.mdx: id, status, delayTime,
// executionTime, output; error on FAILED; the worker's progress as output while IN_PROGRESS) and /health.
import type { EmulatedJob, EmulatedWorker, JobEndpoint } from "./runpodJobEndpoint";

export function statusView(job: EmulatedJob): Record<string, unknown> {
  const view: Record<string, unknown> = { id: job.id, status: job.status };
  if (job.startedAt === null) return view;
  view.delayTime = job.startedAt - job.createdAt;
  if (job.workerId) view.workerId = job.workerId;
  if (job.status === "IN_PROGRESS") {
    if (job.progress !== undefined) view.output = job.progress;
    return view;
  }
  view.executionTime = (job.finishedAt ?? Date.now()) - job.startedAt;
  if (job.output !== undefined) view.output = job.output;
  if (job.error !== undefined) view.error = job.error;
  return view;
}

export function healthView(endpoint: JobEndpoint): Record<string, unknown> {
  const workers = [...endpoint.workers.values()];
  const count = (state: EmulatedWorker["state"]): number => workers.filter((w) => w.state === state).length;
  return {
    jobs: { completed: endpoint.counts.completed, failed: endpoint.counts.failed, inProgress: endpoint.inProgress(), inQueue: endpoint.inQueue(), retried: endpoint.counts.retried },
    workers: { idle: count("idle"), initializing: count("initializing"), ready: count("idle") + count("running"), running: count("running"), throttled: 0, unhealthy: count("unhealthy") },
  };
}
