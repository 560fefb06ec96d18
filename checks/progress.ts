// Human-readable progress on stderr, stamped with the seconds since the check started. Progress that
// changes often (sampling percent) is printed at most once per `minIntervalMs`.

export type ProgressSink = (line: string) => void;

export class Progress {
  private lastThrottled = 0;
  private lastText = "";

  constructor(
    private readonly startedAt: number = Date.now(),
    private readonly sink: ProgressSink = (line) => process.stderr.write(`${line}\n`),
    private readonly minIntervalMs = 1000,
  ) {}

  elapsedSeconds(): number {
    return (Date.now() - this.startedAt) / 1000;
  }

  /** Always printed. */
  info(text: string): void {
    this.sink(`[${this.elapsedSeconds().toFixed(1).padStart(6)}s] ${text}`);
  }

  /** Printed when it changed and the last throttled line is at least `minIntervalMs` old. */
  throttled(text: string): void {
    const now = Date.now();
    if (text === this.lastText || now - this.lastThrottled < this.minIntervalMs) return;
    this.lastThrottled = now;
    this.lastText = text;
    this.info(text);
  }
}
