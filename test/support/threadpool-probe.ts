// What the threadpool tests measure while their streams run: fs and dns calls (both need the
// libuv threadpool) made for a few seconds, each given LIMIT_MS to complete.
import { readFile } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { fileURLToPath } from 'node:url';

const LIMIT_MS = 5000;

const withLimit = <T>(p: Promise<T>) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), LIMIT_MS).unref())]);

/** fs.readFile and dns.lookup side by side for `seconds`: how many completed, how many timed out. */
export async function probeThreadpool(seconds = 3): Promise<{ fs: number; dns: number; timeouts: number }> {
  let fs = 0;
  let dns = 0;
  let timeouts = 0;
  const self = fileURLToPath(import.meta.url);
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const [a, b] = await Promise.all([withLimit(readFile(self)), withLimit(lookup('localhost'))]);
    if (a) fs++;
    else timeouts++;
    if (b) dns++;
    else timeouts++;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { fs, dns, timeouts };
}
