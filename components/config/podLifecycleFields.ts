// pod.* keys of the pod's life: how long to wait for it, what to do with one that failed, how it is
// replaced, and when it stops itself (the watchdog).
import { z } from "zod";
import { boolText, intText } from "./codecs";
import { field } from "./keyInfo";

export function podLifecycleFields() {
  return {
    "pod.readyTimeoutMinutes": field(
      {
        type: "integer",
        expected: "an integer from 1 to 240 (minutes)",
        fix: "pulumi config set pod.readyTimeoutMinutes 20",
      },
      intText(1, 240).default(20),
    ),
    "pod.deleteOnFailure": field(
      {
        type: "boolean",
        expected: "true or false (false keeps a pod that failed to start, for debugging)",
        fix: "pulumi config set pod.deleteOnFailure true",
      },
      boolText().default(true),
    ),
    "pod.createBeforeDelete": field(
      {
        type: "boolean",
        expected: "true or false (true starts the new pod before deleting the old one: briefly two GPUs)",
        fix: "pulumi config set pod.createBeforeDelete false",
      },
      boolText().default(false),
    ),
    "pod.idleStopMinutes": field(
      {
        type: "integer",
        expected: "an integer from 0 to 10080 (minutes without a queued or running prompt before the pod stops itself; 0 = never)",
        fix: "pulumi config set pod.idleStopMinutes 30",
      },
      intText(0, 10080).default(0),
    ),
    "pod.maxLifetimeHours": field(
      {
        type: "integer",
        expected: "an integer from 0 to 720 (hours after its start the pod stops itself, busy or not; 0 = never)",
        fix: "pulumi config set pod.maxLifetimeHours 8",
      },
      intText(0, 720).default(0),
    ),
    "pod.lifetimeAction": field(
      {
        type: "string",
        expected: "stop (keeps the volume; the next pulumi up starts it) or terminate (deletes the pod and its pod volume)",
        fix: "pulumi config set pod.lifetimeAction stop",
      },
      z.enum(["stop", "terminate"], "unknown action").default("stop"),
    ),
  };
}
