// The /v2/templates and /v2/serverless routes over the shared client (auth, timeouts, retries, errors).
import type { RunPodClient } from "./client";
import { endpointListSchema, endpointSchema, templateListSchema, templateSchema, type ApiEndpoint, type ApiTemplate } from "./serverlessSchemas";
import { runPodError } from "./errors";

const enc = encodeURIComponent;

function required<T>(value: T | null, method: string, path: string): T {
  if (value !== null) return value;
  throw runPodError({ kind: "unexpected", message: `RunPod ${method} ${path} answered without a body.`, method, path, ambiguous: method !== "GET" });
}

export const templatesApi = {
  async list(client: RunPodClient): Promise<ApiTemplate[]> {
    return required(await client.call("GET", "/templates", templateListSchema()), "GET", "/templates").templates;
  },
  get(client: RunPodClient, id: string): Promise<ApiTemplate | null> {
    return client.call("GET", `/templates/${enc(id)}`, templateSchema(), { allowNotFound: true });
  },
  async create(client: RunPodClient, body: Record<string, unknown>): Promise<ApiTemplate> {
    return required(await client.call("POST", "/templates", templateSchema(), { body }), "POST", "/templates");
  },
  async update(client: RunPodClient, id: string, body: Record<string, unknown>): Promise<ApiTemplate> {
    const path = `/templates/${enc(id)}`;
    return required(await client.call("PATCH", path, templateSchema(), { body }), "PATCH", path);
  },
  /** 204 and 404 both leave no template. */
  async remove(client: RunPodClient, id: string): Promise<void> {
    await client.call("DELETE", `/templates/${enc(id)}`, templateSchema(), { allowNotFound: true });
  },
};

export const endpointsApi = {
  /** Follows `pagination.nextCursor` when the API pages the list (the spec's list has none yet). */
  async list(client: RunPodClient): Promise<ApiEndpoint[]> {
    const endpoints: ApiEndpoint[] = [];
    let cursor: string | null | undefined;
    for (let page = 0; page < 100; page += 1) {
      const path = cursor ? `/serverless?cursor=${enc(cursor)}` : "/serverless";
      const list = required(await client.call("GET", path, endpointListSchema()), "GET", path);
      endpoints.push(...list.endpoints);
      cursor = list.pagination?.nextCursor;
      if (!cursor || list.pagination?.hasNextPage === false) break;
    }
    return endpoints;
  },
  get(client: RunPodClient, id: string): Promise<ApiEndpoint | null> {
    return client.call("GET", `/serverless/${enc(id)}`, endpointSchema(), { allowNotFound: true });
  },
  async create(client: RunPodClient, body: Record<string, unknown>): Promise<ApiEndpoint> {
    return required(await client.call("POST", "/serverless", endpointSchema(), { body }), "POST", "/serverless");
  },
  async update(client: RunPodClient, id: string, body: Record<string, unknown>): Promise<ApiEndpoint> {
    const path = `/serverless/${enc(id)}`;
    return required(await client.call("PATCH", path, endpointSchema(), { body }), "PATCH", path);
  },
  /** 204 and 404 both leave no endpoint. */
  async remove(client: RunPodClient, id: string): Promise<void> {
    await client.call("DELETE", `/serverless/${enc(id)}`, endpointSchema(), { allowNotFound: true });
  },
};
