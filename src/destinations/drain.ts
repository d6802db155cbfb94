// Destinations whose queue is appsrc: the 'drain' promise (after write() said false, a short
// poll notices when the queue has room again: the binding gives no need-data callback to Node),
// and what the queue holds, for stats.
import type { EncodedSink } from '../gst/encoded-sink.js';

/** behindMs and backlogBytes of a destination whose queue is `sink`'s appsrc. */
export function backlog(sink: EncodedSink | undefined, now = Date.now()): { behindMs: number; backlogBytes: number } {
  if (!sink?.running) return { behindMs: 0, backlogBytes: 0 };
  const q = sink.queued();
  return { behindMs: q.oldestCaptureMs === undefined ? 0 : Math.max(0, now - q.oldestCaptureMs), backlogBytes: q.bytes };
}
export class DrainPoll {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** True when the queue has room again. */
    private readonly hasRoom: () => boolean,
    private readonly drained: () => void,
    private readonly everyMs = 10,
  ) {}

  /** Starts polling (once; a second call while polling does nothing). */
  arm(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this.hasRoom()) return;
      this.cancel();
      this.drained();
    }, this.everyMs);
    // A full queue must not keep the process alive on its own.
    this.timer.unref();
  }

  /**
   * Stops polling; true when it was polling, i.e. a producer waits for 'drain'. A destination
   * that stops queueing (lost its peer, failed: it drops what it is given now) emits 'drain'
   * then, once its state says so, so that producer does not wait for ever.
   */
  cancel(): boolean {
    const armed = this.timer !== undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return armed;
  }
}
