// Capped exponential backoff for destinations that reconnect.

export interface ReconnectOptions {
  /** First wait after a failure, ms. Default 500. */
  initialDelayMs?: number;
  /** Longest wait between attempts, ms. Default 10000. */
  maxDelayMs?: number;
  /** Growth of the wait per failed attempt. Default 2. */
  factor?: number;
}

export function withDefaults(r: ReconnectOptions = {}): Required<ReconnectOptions> {
  return { initialDelayMs: r.initialDelayMs ?? 500, maxDelayMs: r.maxDelayMs ?? 10_000, factor: r.factor ?? 2 };
}

/** Wait before attempt `attempt` (1-based). */
export function backoffDelay(attempt: number, r: Required<ReconnectOptions>): number {
  return Math.min(r.maxDelayMs, r.initialDelayMs * r.factor ** (attempt - 1));
}

/** Resolves after `ms`, or at once when `signal` aborts; leaves no listener behind. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const onAbort = () => { clearTimeout(t); resolve(); };
    // The listener goes when the wait ends: a long outage must not pile one up per attempt.
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
