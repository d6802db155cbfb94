// What the threadpool tests measure while their streams run: a fixed number of fs and dns calls
// (both need the libuv threadpool), one after another. A pool held by the streams never runs
// them: LIMIT_MS is a generous bound on one call (a loaded machine answers in milliseconds), and
// the first call past it ends the probe. Counts, not times, are what the tests assert.
import { readFile } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { fileURLToPath } from 'node:url';

const LIMIT_MS = 30_000;

const withLimit = <T>(p: Promise<T>) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), LIMIT_MS).unref())]);

export const PROBE_ROUNDS = 20;

/** fs.readFile and dns.lookup side by side, PROBE_ROUNDS times: how many completed, how many did not. */
export async function probeThreadpool(rounds = PROBE_ROUNDS): Promise<{ fs: number; dns: number; timeouts: number }> {
  let fs = 0;
  let dns = 0;
  let timeouts = 0;
  const self = fileURLToPath(import.meta.url);
  for (let i = 0; i < rounds && timeouts === 0; i++) {
    const [a, b] = await Promise.all([withLimit(readFile(self)), withLimit(lookup('localhost'))]);
    if (a) fs++;
    else timeouts++;
    if (b) dns++;
    else timeouts++;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { fs, dns, timeouts };
}
