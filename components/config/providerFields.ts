// The RunPod provider's settings (namespace runpod): the API key and the API base. The key is checked here but
// never passed on: it must not become a resource input.
import { z } from "zod";
import { isHttpUrl } from "./codecs";
import { field } from "./keyInfo";

export const API_KEY = "runpod:apiKey";
export const API_URL = "runpod:apiUrl";
export const JOB_API_URL = "runpod:jobApiUrl";

export function providerFields() {
  return {
    [API_KEY]: field(
      {
        type: "string",
        expected: "a secret: the RunPod API key (config runpod:apiKey or env RUNPOD_API_KEY)",
        fix: "pulumi config set --secret runpod:apiKey <key> (or export RUNPOD_API_KEY)",
        secret: true,
      },
      // Required by the runpod target only, and not by `pulumi preview`; checked with the other cross-key rules.
      z.string().optional(),
    ),
    [API_URL]: field(
      {
        type: "string",
        expected: "an http(s) URL (default https://api.runpod.io/v2)",
        fix: "pulumi config rm runpod:apiUrl (or pulumi config set runpod:apiUrl https://api.runpod.io/v2)",
        optional: true,
      },
      z.string().refine(isHttpUrl, "is not an http(s) URL").optional(),
    ),
    [JOB_API_URL]: field(
      {
        type: "string",
        expected: "an http(s) URL (the serverless job API base; default https://api.runpod.ai/v2)",
        fix: "pulumi config rm runpod:jobApiUrl (or pulumi config set runpod:jobApiUrl https://api.runpod.ai/v2)",
        optional: true,
      },
      z.string().refine(isHttpUrl, "is not an http(s) URL").optional(),
    ),
  };
}
