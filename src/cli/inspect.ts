// probe <url> and screenshot <url> <out.png>: read a stream or file briefly with LiveSource.
import type { Logger } from 'pino';
import { savePng } from '../image/png.js';
import { LiveSource } from '../ingest/live-source.js';
import { numberOption, type Parsed } from './args.js';
import { maskUrl } from './sources.js';
import type { Reporter } from './status.js';

export interface InspectContext {
  parsed: Parsed;
  reporter: Reporter;
  logger: Logger;
  signal: AbortSignal;
}

/** Units to see before the fps estimate means something (LiveSource estimates from up to 60). */
const PROBE_UNITS = 30;

export async function inspect(ctx: InspectContext): Promise<number> {
  const { parsed, reporter, logger, signal } = ctx;
  const timeoutMs = numberOption(parsed.values, 'timeout', 15, parsed.command) * 1000;
  const url = parsed.positionals[0]!;
  const label = maskUrl(url);
  const source = new LiveSource({ url, logger, connectTimeoutMs: timeoutMs, reconnect: { initialDelayMs: 500, maxDelayMs: 2000 } });
  source.on('error', () => undefined); // the failure is reported once, below
  const deadline = Date.now() + timeoutMs;
  const until = async (what: string, done: () => boolean | Promise<boolean>): Promise<void> => {
    while (!(await done())) {
      if (signal.aborted) throw new Error('interrupted');
      if (Date.now() > deadline) throw new Error(`no ${what} from ${label} within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    try {
      await source.start();
    } catch (err) {
      throw new Error(`cannot read ${label}: ${(err as Error).message}`);
    }
    if (parsed.command === 'probe') {
      // A file may end before PROBE_UNITS: what it had is the answer.
      await until('video', () => source.probe().units >= PROBE_UNITS || (source.state === 'ended' && source.probe().units > 0));
      const p = source.probe();
      reporter.event('probe', `${label}: ${p.codec} ${p.width}x${p.height} at ${p.fps?.toFixed(2)} fps, ${Math.round((p.bitrate ?? 0) / 1000)} kbit/s`, {
        ...p,
        url: label,
      });
      return 0;
    }
    const out = parsed.positionals[1]!;
    let frame = await source.latest();
    await until('picture', async () => (frame ??= await source.latest()) !== null);
    await savePng(frame!, out);
    reporter.event('saved', `saved ${frame!.width}x${frame!.height} frame captured ${new Date(frame!.timestamp).toISOString()} to ${out}`, {
      path: out,
      width: frame!.width,
      height: frame!.height,
      timestamp: frame!.timestamp,
    });
    return 0;
  } catch (err) {
    reporter.event('failed', `failed: ${(err as Error).message}`, { error: (err as Error).message });
    return 1;
  } finally {
    await source.close();
  }
}
