// Where the frames a command republishes come from. `--from pattern` is the animated test
// pattern; anything else is a URL or file read by LiveSource.
import type { Logger } from 'pino';
import type { Frame } from '../frame.js';
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

/** The source cannot be used (unreachable, unsupported, missing): exit code 1 with this message. */
export class SourceError extends Error {
  override name = 'SourceError';
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
  throw new SourceError(
    `--from ${maskUrl(from)}: reading cameras, relays and files needs LiveSource, which this version of gst-skyline does not have yet; --from pattern works`,
  );
}

/** A URL with its password (and, for RTMP, its stream key) hidden. */
export function maskUrl(s: string): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return s; // a file path
  }
  if (u.password) u.password = '****';
  if (u.protocol.startsWith('rtmp')) {
    const parts = u.pathname.split('/');
    if (parts.length > 2 && parts.at(-1)) parts[parts.length - 1] = '****';
    u.pathname = parts.join('/');
  }
  return u.toString();
}
