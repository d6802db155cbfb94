// Bounded polling for tests: wait for something to happen, fail clearly when it does not.

/** Resolves once `cond()` holds (checked every 20 ms); rejects after timeoutMs, naming what was awaited. */
export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
