// The whole-check deadline: one AbortSignal that fires when time is up or the caller cancels, and the
// arithmetic every wait needs (remaining time, per-request timeouts capped by it).

export class Deadline {
  readonly startedAt = Date.now();
  readonly endsAt: number;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private reason: "timeout" | "cancelled" | null = null;

  constructor(timeoutMs: number, parent?: AbortSignal) {
    this.endsAt = this.startedAt + timeoutMs;
    this.timer = setTimeout(() => this.stop("timeout"), timeoutMs);
    this.timer.unref();
    if (parent) {
      if (parent.aborted) this.stop("cancelled");
      else parent.addEventListener("abort", () => this.stop("cancelled"), { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Why the signal fired, or null while it has not. */
  get stoppedBecause(): "timeout" | "cancelled" | null {
    return this.reason;
  }

  get timeoutSeconds(): number {
    return (this.endsAt - this.startedAt) / 1000;
  }

  remainingMs(): number {
    return Math.max(0, this.endsAt - Date.now());
  }

  elapsedMs(): number {
    return Date.now() - this.startedAt;
  }

  expired(): boolean {
    return this.reason !== null || this.remainingMs() === 0;
  }

  /** A request timeout that never outlives the deadline (at least 1 ms so axios applies it). */
  cap(ms: number): number {
    return Math.max(1, Math.min(ms, this.remainingMs()));
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  private stop(reason: "timeout" | "cancelled"): void {
    if (this.reason) return;
    this.reason = reason;
    clearTimeout(this.timer);
    this.controller.abort();
  }
}
