// Small helpers around AbortSignal: every wait of a session obeys one, and stops have deadlines.
import { setMaxListeners } from 'node:events';

/** Resolves when `signal` aborts; rejects never. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** The reason a signal aborted, as an Error. */
export function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error(typeof r === 'string' ? r : 'aborted');
}

/** A timer that aborts a signal: the deadline of a stop. */
export function deadline(ms: number): { signal: AbortSignal; clear(): void } {
  const c = new AbortController();
  // Every destination waits on it at once (a flush, an EOS, KVS acks): more than Node's default 10.
  setMaxListeners(256, c.signal);
  const t = setTimeout(() => c.abort(new Error(`stopTimeoutMs (${ms} ms) reached`)), ms);
  return { signal: c.signal, clear: () => clearTimeout(t) };
}
