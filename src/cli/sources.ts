// Where the frames a command republishes come from. `--from pattern` is the animated test
// pattern; anything else is a URL or file read by LiveSource.
import type { Logger } from 'pino';
import type { Frame } from '../frame.js';
import { LiveSource } from '../ingest/live-source.js';
import { parseSourceUrl } from '../ingest/source-url.js';
import { PatternSource } from '../pattern/pattern-source.js';

export interface SourceFrame extends Frame {
  /** Capture time, epoch ms. */
  timestamp: number;
}

export interface FrameSource extends AsyncIterable<SourceFrame> {
  /** For messages: what is read (credentials masked). */
  readonly label: string;
  /** Size and rate when known up front; otherwise the SkyLine measures them from the frames. */
  readonly shape?: { width: number; height: number; fps: number };
  /** Times the source reconnected so far. */
  readonly reconnects: number;
  /** Ends the iteration. */
  stop(): void;
  close(): Promise<void>;
}

export interface SourceOptions {
  width: number;
  height: number;
  fps: number;
  logger: Logger;
  /** Reconnects and errors of a live source, for the status output. */
  onEvent(name: 'reconnect' | 'error', text: string, data: Record<string, unknown>): void;
}

export async function openSource(from: string, o: SourceOptions): Promise<FrameSource> {
  if (from === 'pattern') {
    const pattern = new PatternSource({ width: o.width, height: o.height, fps: o.fps });
    return {
      label: `test pattern ${o.width}x${o.height}@${o.fps}`,
      shape: { width: o.width, height: o.height, fps: o.fps },
      reconnects: 0,
      stop: () => pattern.stop(),
      close: async () => pattern.stop(),
      [Symbol.asyncIterator]: () => pattern[Symbol.asyncIterator](),
    };
  }
  return openLive(from, o);
}

/** A URL as LiveSource shows it: password, query values and RTMP stream key hidden. */
export function maskUrl(s: string): string {
  try {
    return parseSourceUrl(s).masked;
  } catch {
    // LiveSource will refuse it with its own message; this text may hold a secret.
    return `${s.split(':')[0]!.slice(0, 8)} URL (not shown)`;
  }
}

/** A camera, relay or file through LiveSource; rejects with its error when the first connection fails. */
async function openLive(url: string, o: SourceOptions): Promise<FrameSource> {
  const live = new LiveSource({ url, logger: o.logger });
  live.on('reconnect', ({ attempt, delayMs, reason }) =>
    o.onEvent('reconnect', `source lost, reconnecting (attempt ${attempt}) in ${delayMs} ms: ${reason}`, { source: true, attempt, delayMs, reason }),
  );
  live.on('error', (err) => o.onEvent('error', `source: ${err.message}`, { source: true, code: err.code, error: err.message }));
  const label = maskUrl(url);
  // Iterate from the first frame: the iterator is taken before the source starts.
  const frames = live[Symbol.asyncIterator]();
  try {
    await live.start();
  } catch (err) {
    await live.close();
    throw new Error(`cannot read ${label}: ${(err as Error).message}`);
  }
  return {
    label,
    get reconnects() {
      return live.stats().reconnects;
    },
    stop: () => void live.stop(),
    close: () => live.close(),
    [Symbol.asyncIterator]: () => frames,
  };
}
