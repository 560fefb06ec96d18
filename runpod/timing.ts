// The provider's own waits: retry backoff, the pauses before looking for a pod an ambiguous create may
// have made, and status polling. RUNPOD_PROVIDER_DELAY_SCALE (default 1) shrinks all of them at once so
// the fault soak can run hundreds of retries in seconds; Retry-After and user deadlines are never scaled.

export function delayScale(): number {
  const scale = Number(process.env.RUNPOD_PROVIDER_DELAY_SCALE);
  return Number.isFinite(scale) && scale > 0 && scale <= 1 ? scale : 1;
}

/** `ms` of the provider's own waiting, scaled. */
export function scaledMs(ms: number): number {
  return Math.max(1, Math.round(ms * delayScale()));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
