// pod.*: where and how the RunPod pod runs (GPU, cloud, data centres, disks and volumes, ports, env, cost
// cap, SSH key). pod.env and pod.volumeMountPath shape the local container too.
import { z } from "zod";
import { unsupportedGpuReason } from "../gpuSupport";
import { COMFYUI_PORT } from "../pod";
import { publicKeyProblem } from "../sshPublicKey";
import { checkItems, intText, listText, numberText, token } from "./codecs";
import { checkEnv, splitEnv } from "./envItems";
import { field, issue, type ListFix } from "./keyInfo";

export const DEFAULT_GPU_TYPES = ["NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation", "NVIDIA A100 80GB PCIe"];
const DEFAULT_PORTS = [`${COMFYUI_PORT}/http`, "22/tcp"];
/** Pod volume size used when neither pod.volumeGb nor pod.networkVolumeId is set. */
export const DEFAULT_VOLUME_GB = 100;

function portProblem(port: string): string | undefined {
  const match = /^(\d{1,5})\/(http|tcp)$/.exec(port);
  if (!match) return "is not <port>/http or <port>/tcp";
  const n = Number(match[1]);
  return n >= 1 && n <= 65535 ? undefined : "has a port outside 1-65535";
}

/** The RunPod GPU type ids a list key holds: most preferred first, none the image cannot run. */
export function gpuTypeList(defaults: string[]) {
  return listText()
    .superRefine((items, ctx) =>
      checkItems(items, ctx, { nonEmpty: "the list is empty", item: (s) => (s.trim() ? unsupportedGpuReason(s) : "is blank") }),
    )
    .default(() => [...defaults]);
}

/** Data centre ids such as EU-RO-1 (empty = any). */
export function dataCenterList() {
  return listText()
    .superRefine((items, ctx) =>
      checkItems(items, ctx, { item: (s) => (/^\S+$/.test(s) ? undefined : "is blank or has whitespace") }),
    )
    .default(() => []);
}

export function podFields(listFix: ListFix) {
  return {
    "pod.gpuTypes": field(
      {
        type: "array",
        expected: "a non-empty list of RunPod GPU type ids, most preferred first, without repeats",
        fix: listFix("pod.gpuTypes", DEFAULT_GPU_TYPES),
      },
      gpuTypeList(DEFAULT_GPU_TYPES),
    ),
    "pod.gpuCount": field(
      { type: "integer", expected: "an integer from 1 to 8 (GPUs per pod)", fix: "pulumi config set pod.gpuCount 1" },
      intText(1, 8).default(1),
    ),
    "pod.cloud": field(
      { type: "string", expected: "SECURE or COMMUNITY", fix: "pulumi config set pod.cloud SECURE" },
      z.enum(["SECURE", "COMMUNITY"], "unknown cloud type").default("SECURE"),
    ),
    "pod.dataCenters": field(
      {
        type: "array",
        expected: "a list of RunPod data center ids such as EU-RO-1 (empty = any)",
        fix: listFix("pod.dataCenters", ["EU-RO-1", "US-KS-2"]),
      },
      dataCenterList(),
    ),
    "pod.containerDiskGb": field(
      { type: "integer", expected: "an integer from 20 to 4096 (GB)", fix: "pulumi config set pod.containerDiskGb 60" },
      intText(20, 4096).default(60),
    ),
    "pod.volumeGb": field(
      {
        type: "integer",
        expected: `an integer from 10 to 4096 (GB; unset = ${DEFAULT_VOLUME_GB} GB unless pod.networkVolumeId is set)`,
        fix: `pulumi config set pod.volumeGb ${DEFAULT_VOLUME_GB}`,
        optional: true,
      },
      intText(10, 4096).optional(),
    ),
    "pod.networkVolumeId": field(
      {
        type: "string",
        expected: "a RunPod network volume id (SECURE cloud only; excludes pod.volumeGb)",
        fix: "pulumi config set pod.networkVolumeId <volume-id>",
        optional: true,
      },
      token("the id").optional(),
    ),
    "pod.modelsVolumeGb": field(
      {
        type: "integer",
        expected:
          "an integer from 10 to 4096 (GB of a RunPod network volume the stack creates and keeps for the models; pins the pod to its data centre; SECURE cloud only; excludes pod.volumeGb and pod.networkVolumeId)",
        fix: "pulumi config set pod.modelsVolumeGb 150 (or pulumi config rm pod.modelsVolumeGb)",
        optional: true,
      },
      intText(10, 4096).optional(),
    ),
    "pod.modelsVolumeDataCenter": field(
      {
        type: "string",
        expected: "the data centre id of the models volume, such as EU-RO-1 (unset = the first of pod.dataCenters)",
        fix: "pulumi config set pod.modelsVolumeDataCenter EU-RO-1",
        optional: true,
      },
      token("the data centre id").optional(),
    ),
    "pod.volumeMountPath": field(
      {
        type: "string",
        expected: "an absolute path such as /workspace",
        fix: "pulumi config set pod.volumeMountPath /workspace",
      },
      token("the path")
        .refine((p) => p.startsWith("/") && p.length > 1, "is not an absolute path below /")
        .default("/workspace"),
    ),
    "pod.ports": field(
      {
        type: "array",
        expected: `a list of "<1-65535>/http" or "<1-65535>/tcp", including ${COMFYUI_PORT}/http`,
        fix: listFix("pod.ports", DEFAULT_PORTS),
      },
      listText()
        .superRefine((items, ctx) => {
          // A port number may be declared once, whatever its protocol.
          checkItems(items, ctx, { item: portProblem, sameKey: (p) => `port ${p.split("/")[0] ?? p}` });
          if (!items.includes(`${COMFYUI_PORT}/http`)) {
            issue(ctx, `${COMFYUI_PORT}/http is missing: ComfyUI is reached through it`);
          }
        })
        .default(() => [...DEFAULT_PORTS]),
    ),
    "pod.env": field(
      {
        type: "array",
        expected:
          "a list of KEY=VALUE strings with distinct, valid names (not HF_TOKEN, STEADYDANCER_VARIANT or COMFYUI_AUTH*); " +
          "stored as a secret (pulumi config set --secret) when any value is a credential",
        fix: listFix("pod.env", ["COMFYUI_ARGS=--lowvram"]),
      },
      listText()
        .superRefine(checkEnv)
        .transform((items) => Object.fromEntries(items.map(splitEnv)))
        .default(() => ({})),
    ),
    "pod.maxCostPerHour": field(
      {
        type: "number",
        expected:
          "a number of USD per hour for the whole pod, 0.01 to 1000 (GPU types whose list price × pod.gpuCount is higher are skipped; a pod billed higher is terminated)",
        fix: "pulumi config set pod.maxCostPerHour 1.5 (or pulumi config rm pod.maxCostPerHour for no cap)",
        optional: true,
      },
      numberText(0.01, 1000).optional(),
    ),
    "pod.publicKey": field(
      {
        type: "string",
        expected: "an OpenSSH public key line (the contents of ~/.ssh/id_ed25519.pub), for root over SSH",
        fix: 'pulumi config set pod.publicKey "$(cat ~/.ssh/id_ed25519.pub)"',
        optional: true,
      },
      z
        .string()
        .superRefine((text, ctx) => {
          const problem = publicKeyProblem(text);
          if (problem) issue(ctx, problem);
        })
        .transform((text) => text.trim())
        .optional(),
    ),
  };
}
