// A PATCH sets absolute values, so sending it again is harmless; after an ambiguous answer (5xx, no
// answer, unreadable body) the resource is still read first and the PATCH re-sent only when the read
// does not show it applied. Shared by the pod, template and endpoint providers.
import { isRunPodError } from "./errors";
import { scaledMs, sleep } from "./timing";

export async function patchIdempotently<T>(
  send: () => Promise<T>,
  read: () => Promise<T | null>,
  applied: (current: T) => boolean,
  log: (message: string) => void,
  what: string,
): Promise<T> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    try {
      return await send();
    } catch (error) {
      if (!isRunPodError(error) || !error.ambiguous) throw error;
      lastError = error;
      log(`update got no usable answer (${error.status ?? error.kind}); reading the ${what} to see whether it was applied`);
    }
    await sleep(scaledMs(1000 * attempt));
    try {
      const current = await read();
      if (current && applied(current)) return current;
    } catch {
      // Unknown whether it applied; the PATCH is safe to send again.
    }
  }
  throw lastError;
}
