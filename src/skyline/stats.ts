// A SkyLine's stats: the numbers stats() reports, and the periodic 'stats' tick that measures
// the put() rate and warns once when GStreamer pipelines hold most of the libuv threadpool.
import type { Logger } from 'pino';
import type { Destination } from '../destinations/destination.js';
import type { Fanout } from '../destinations/fanout.js';
import type { FrameQueue } from '../frame-queue.js';
import { activeBusWatches } from '../gst/pipeline.js';
import type { SkyLineStats } from './options.js';
import type { Session, SessionCounts } from './session.js';

/** Before the first session. */
export const NO_COUNTS: SessionCounts = { accepted: 0, dropped: 0, encoded: 0, bytes: 0, fps: 0 };

/**
 * The stats of the session running (or of `ended`, the last one, once it stopped). A built-in
 * destination's bytes are the SkyLine's; otherwise the encoded bytes that came back.
 */
export function statsCounts(
  session: Session | undefined,
  ended: SessionCounts,
  queue: FrameQueue,
  builtIn: Destination | undefined,
  fanout: Fanout,
): Omit<SkyLineStats, 'state'> {
  const c = session ? session.counts() : ended;
  return {
    framesAccepted: c.accepted,
    framesDropped: c.dropped,
    framesEncoded: c.encoded,
    bytesOut: builtIn ? builtIn.stats().bytesOut : c.bytes,
    measuredFps: Math.round(c.fps * 100) / 100,
    queued: session ? session.framesHeld(queue) : 0,
    destinations: fanout.stats(),
  };
}

export class StatsTicker {
  private timer: NodeJS.Timeout | undefined;
  private threadpoolWarned = false;

  /** `emit` sends the 'stats' event; every `intervalMs` while a session runs (0: never). */
  constructor(private readonly intervalMs: number, private readonly log: Logger, private readonly emit: () => void) {}

  start(session: Session): void {
    if (this.timer || this.intervalMs <= 0) return;
    session.lastTick = Date.now();
    session.lastAccepted = session.accepted;
    this.timer = setInterval(() => {
      const now = Date.now();
      session.fps = ((session.accepted - session.lastAccepted) * 1000) / Math.max(1, now - session.lastTick);
      session.lastAccepted = session.accepted;
      session.lastTick = now;
      if (activeBusWatches() >= threadpoolSize()) this.warnThreadpool();
      this.emit();
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private warnThreadpool(): void {
    if (this.threadpoolWarned) return;
    this.threadpoolWarned = true;
    this.log.warn(
      { pipelines: activeBusWatches(), threadpool: threadpoolSize() },
      'each GStreamer-sink pipeline holds a libuv threadpool thread: set UV_THREADPOOL_SIZE higher before starting node so fs and dns keep working',
    );
  }
}

function threadpoolSize(): number {
  return Number(process.env.UV_THREADPOOL_SIZE) || 4;
}
