// Ctrl-C reaches every process in the terminal's process group, this provider's host included, whose
// default is to exit on the spot: a pod being created would then keep running with no state naming it.
// While a create or update is in flight we catch the signal instead and wind the operation down.

export interface InterruptWatch {
  /** The signal received, once one was. */
  readonly signal: string | undefined;
  /** Calls `listener` when a signal arrives (at once if one already did). */
  onInterrupt(listener: () => void): void;
  dispose(): void;
}

const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

export function watchInterrupts(log: (message: string) => void): InterruptWatch {
  let received: string | undefined;
  const listeners: Array<() => void> = [];
  const handler = (signal: NodeJS.Signals): void => {
    if (received) return;
    received = signal;
    log(`${signal} received: cleaning up before stopping (do not interrupt again)`);
    for (const listener of listeners.splice(0)) listener();
  };
  for (const signal of SIGNALS) process.on(signal, handler);
  return {
    get signal() {
      return received;
    },
    onInterrupt(listener) {
      if (received) listener();
      else listeners.push(listener);
    },
    dispose() {
      for (const signal of SIGNALS) process.off(signal, handler);
    },
  };
}
