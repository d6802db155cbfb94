// The attempt-and-backoff loop around the encoder's tap: try, and on a retryable failure wait
// (capped exponential backoff) and try again, until an attempt succeeds, a failure is final, or
// the session's signal aborts. Each attempt has a time limit; every wait obeys the signal.
import { backoffDelay, sleep, type ReconnectOptions } from '../backoff.js';
import { abortError } from '../abort.js';

export interface AttemptHooks {
  /** One try; resolves once delivering. Must reject when `signal` aborts. */
  attempt(signal: AbortSignal): Promise<void>;
  /** Undoes a failed try before the next (stops the pipeline). */
  undo(): void;
  retryable(err: Error, tries: number): boolean;
  /** Called before each wait: the failure being retried, the retry number from 1, the wait. */
  retrying(info: { attempt: number; delayMs: number; reason: Error }): void;
}

export interface AttemptOptions {
  backoff: Required<ReconnectOptions>;
  /** Longest an attempt may take, ms. */
  attemptTimeoutMs: number;
  signal: AbortSignal;
  /** A delivering run failed with this: start with a retry. */
  first?: Error;
}

/** Resolves once an attempt succeeded; rejects with a final failure, or the abort reason. */
export async function attemptUntilReady(h: AttemptHooks, o: AttemptOptions): Promise<void> {
  let failure = o.first;
  let tries = 0;
  if (!failure) {
    tries++;
    failure = await tryOnce(h, o, tries);
    if (!failure) return;
    if (!h.retryable(failure, tries)) throw failure;
  }
  for (let retry = 1; ; retry++) {
    h.undo();
    const delayMs = backoffDelay(retry, o.backoff);
    h.retrying({ attempt: retry, delayMs, reason: failure });
    await sleep(delayMs, o.signal);
    if (o.signal.aborted) throw abortError(o.signal);
    tries++;
    failure = await tryOnce(h, o, tries);
    if (!failure) return;
    if (o.signal.aborted) throw abortError(o.signal);
    if (!h.retryable(failure, tries)) throw failure;
  }
}

/** One attempt under its time limit and the session's signal; resolves with the failure, if any. */
async function tryOnce(h: AttemptHooks, o: AttemptOptions, tries: number): Promise<Error | undefined> {
  if (o.signal.aborted) throw abortError(o.signal);
  const attempt = new AbortController();
  const onAbort = () => attempt.abort(o.signal.reason);
  o.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(
    () => attempt.abort(new Error(`${tries === 1 ? 'the pipeline' : `reconnect attempt ${tries - 1}`} did not start within ${o.attemptTimeoutMs / 1000} s`)),
    o.attemptTimeoutMs,
  );
  try {
    await h.attempt(attempt.signal);
    return undefined;
  } catch (err) {
    if (o.signal.aborted) throw abortError(o.signal);
    return err instanceof Error ? err : new Error(String(err));
  } finally {
    clearTimeout(timer);
    o.signal.removeEventListener('abort', onAbort);
    // Ends whatever the attempt still waits on, success or not.
    attempt.abort(new Error('attempt over'));
  }
}
