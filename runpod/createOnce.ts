// Creating a template or serverless endpoint once, as podCreate.ts does for pods: a POST is never
// retried blind. After an ambiguous answer (5xx, no answer, a 2xx body without a usable resource) the
// resource is looked for by its name among those that did not exist before the POST, and adopted; the
// POST is sent again only after a complete listing showed none, and never after an accepted (2xx)
// answer. Whatever else such a create made under the name is deleted by `sweepStrays`.
import { isRunPodError, runPodError, type RunPodError } from "./errors";
import { scaledMs, sleep } from "./timing";

export interface Named {
  id: string;
  name: string;
  createdAt?: string;
}

export interface CreateOnceOptions<T extends Named> {
  /** "template" or "serverless endpoint", for messages. */
  what: string;
  /** The create path, e.g. "/serverless". */
  path: string;
  name: string;
  /** Where the user can look for and delete one by hand. */
  consoleUrl: string;
  post(): Promise<T>;
  list(): Promise<T[]>;
  get(id: string): Promise<T | null>;
  remove(id: string): Promise<unknown>;
  /** Ids that carried the name before the first POST: never adopted, never swept. */
  preexisting: ReadonlySet<string>;
  log(message: string): void;
}

/** Lookups after a 5xx: the server answered, so what it made is listed within seconds. */
const ANSWERED_LOOKUPS_MS = [1000, 2000, 4000];
/** Lookups after no answer, or an accepted but unreadable one: the server may still be working. */
const UNANSWERED_LOOKUPS_MS = [1000, 2000, 4000, 8000, 16000];
const MAX_POSTS = 3;

function isOurs<T extends Named>(opts: CreateOnceOptions<T>, item: T): boolean {
  return item.name === opts.name && item.id !== "" && !opts.preexisting.has(item.id);
}

async function lookFor<T extends Named>(opts: CreateOnceOptions<T>, error: RunPodError, scheduleMs: number[]): Promise<{ found?: T; listed: boolean }> {
  let listed = false;
  for (const waitMs of scheduleMs) {
    await sleep(scaledMs(waitMs));
    try {
      if (error.createdId) {
        const byId = await opts.get(error.createdId);
        if (byId && isOurs(opts, byId)) return { found: byId, listed };
      }
      const ours = (await opts.list()).filter((item) => isOurs(opts, item));
      listed = true;
      const newest = ours.sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? ""))[0];
      if (newest) return { found: newest, listed };
    } catch (lookupError) {
      opts.log(`looking for the ${opts.what} failed (${isRunPodError(lookupError) ? lookupError.kind : "error"}); looking again`);
    }
  }
  return { listed };
}

/** The create; `ambiguous` tells the caller to sweep strays once the outcome is known. */
export async function createOnce<T extends Named>(opts: CreateOnceOptions<T>): Promise<{ created: T; ambiguous: boolean }> {
  let ambiguous = false;
  for (let attempt = 1; ; attempt += 1) {
    let error: RunPodError;
    try {
      const created = await opts.post();
      if (created.id !== "") return { created, ambiguous };
      error = runPodError({ kind: "unexpected", message: `RunPod POST ${opts.path} answered without an id.`, method: "POST", path: opts.path, ambiguous: true });
    } catch (caught) {
      if (!isRunPodError(caught) || !caught.ambiguous) throw caught;
      error = caught;
    }
    ambiguous = true;
    const accepted = error.kind === "unexpected";
    opts.log(`create got no usable answer (${error.status ?? error.kind}); looking for the ${opts.what} before doing anything else`);
    const lookup = await lookFor(opts, error, error.kind === "server" ? ANSWERED_LOOKUPS_MS : UNANSWERED_LOOKUPS_MS);
    if (lookup.found) {
      opts.log(`found ${opts.what} ${lookup.found.id} made by that request; adopting it instead of creating another`);
      return { created: lookup.found, ambiguous };
    }
    if (accepted) {
      let removed = false;
      if (error.createdId) removed = await opts.remove(error.createdId).then(() => true, () => false);
      throw runPodError({
        kind: "unexpected",
        message:
          `RunPod accepted the create of ${opts.what} "${opts.name}" but its answer could not be read, and it could not be found since. ` +
          (removed
            ? `The ${opts.what} ${error.createdId} it made was deleted; retry \`pulumi up\`.`
            : `Look for "${opts.name}" at ${opts.consoleUrl} and delete it if it is there, then run \`pulumi up\` again.`) +
          `\n(${error.message})`,
        method: "POST",
        path: opts.path,
      });
    }
    if (!lookup.listed) {
      throw runPodError({
        kind: error.kind,
        message:
          `${error.message}\nThe list could not be read afterwards either, so whether ${opts.what} "${opts.name}" was created is unknown; ` +
          `look for it at ${opts.consoleUrl} and delete it if it is there, then run \`pulumi up\` again.`,
        method: "POST",
        path: opts.path,
      });
    }
    if (attempt >= MAX_POSTS) throw error;
    opts.log(`no ${opts.what} was created; sending the create again (attempt ${attempt + 1} of ${MAX_POSTS})`);
  }
}

/** Deletes every item with our name made by this create except `keepId`. Best effort: logs what it cannot. */
export async function sweepStrays<T extends Named>(opts: CreateOnceOptions<T>, keepId: string | undefined): Promise<void> {
  let items: T[] | undefined;
  for (let attempt = 1; attempt <= 3 && !items; attempt += 1) {
    try {
      items = await opts.list();
    } catch {
      await sleep(scaledMs(1000 * attempt));
    }
  }
  if (!items) {
    opts.log(`could not list to check for strays named ${opts.name}; check ${opts.consoleUrl}`);
    return;
  }
  for (const stray of items.filter((i) => isOurs(opts, i) && i.id !== keepId)) {
    try {
      await opts.remove(stray.id);
      opts.log(`deleted stray ${opts.what} ${stray.id} left by an ambiguous create`);
    } catch {
      opts.log(`could not delete stray ${opts.what} ${stray.id}; delete it at ${opts.consoleUrl}`);
    }
  }
}
