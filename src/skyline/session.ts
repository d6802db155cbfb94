// One session of a SkyLine, from startStreaming() to the stop that ends it: what it was asked
// for, its warmup and the frames warmup hands over, the PTS clock, the counters, the encoder run,
// and the signal every wait of the session obeys. A new start makes a new one, so nothing of a
// session outlives it by accident.
import { CaptureTimes } from '../capture-times.js';
import type { FrameQueue, Slot } from '../frame-queue.js';
import { copyToGst, type Layout, type RawFrame } from '../frame.js';
import type { Warmup } from '../warmup.js';
import type { EncoderRun } from './encoder-run.js';
import { even, type SessionInfo, type Wanted } from './options.js';

/** Abort reasons of a session. */
export const STOPPED = new Error('stopped');
export const FAILED = new Error('failed');

/** What a session counted; kept as the SkyLine's stats once it ended. */
export interface SessionCounts {
  accepted: number;
  dropped: number;
  encoded: number;
  /** Encoded bytes that came back from the encoder. */
  bytes: number;
  /** Rate of put() calls over the last stats interval, frames/s. */
  fps: number;
}

export class Session {
  /** Aborted when the session ends (stop, failure): every wait of the session obeys it. */
  readonly abort = new AbortController();
  /** Set once the session opens (its size and rate known). */
  info: SessionInfo | undefined;
  /** While measuring the stream from its first frames. */
  warmup: Warmup | undefined;
  /** Opening the destinations and the encoder; settles once streaming, reconnecting or failed. */
  opening: Promise<void> | undefined;
  /** Why the session failed (secrets scrubbed). */
  failure: Error | undefined;
  /** The destinations delivering and closing: once per session, whatever ends it. */
  releasing: Promise<void> | undefined;
  run: EncoderRun | undefined;

  // The PTS clock
  /** Capture time (epoch ms) of PTS 0: the session's first frame. */
  private originMs = NaN;
  private lastPts = -1;
  /** Frames handed to the encoder: the PTS of the next in 'frame-rate' mode. */
  frameNo = 0;
  /** Capture time of each frame in the encoder, by PTS, until its unit comes back. */
  readonly captures = new CaptureTimes();

  // Counters
  accepted = 0;
  dropped = 0;
  /** Frames pushed into the encoder. */
  pushed = 0;
  /** What the run that ended counted (the run counts while it exists). */
  private settled = { encoded: 0, bytes: 0 };
  /** Frames accepted at the last stats tick, and when it was: the measured put() rate. */
  lastAccepted = 0;
  lastTick = Date.now();
  fps = 0;

  /** Warmup frames handed over to be streamed first, oldest first (bounded by warmupMemoryBytes). */
  private backlog: Array<Slot | undefined> = [];
  private backlogHead = 0;

  constructor(readonly wanted: Wanted, private readonly frameRate: boolean) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /**
   * The PTS of a frame captured at `ts` (epoch ms), ns: capture time since the first frame,
   * strictly increasing. 'frame-rate': 0, the PTS is given when the frame goes to the encoder.
   */
  private ptsFor(ts: number): number {
    if (Number.isNaN(this.originMs)) {
      // PTS 0 is the session's first frame: warmup's first, or the first put() after start.
      this.originMs = ts;
      if (this.info) this.info.originMs = ts;
    }
    if (this.frameRate) return 0;
    let pts = Math.round((ts - this.originMs) * 1e6);
    // Capture times that stand still or go back would make the encoder and muxers reject
    // the stream: keep PTS strictly increasing, 1 ms apart at least.
    if (pts <= this.lastPts) pts = this.lastPts + 1_000_000;
    this.lastPts = pts;
    return pts;
  }

  get origin(): number {
    return this.originMs;
  }

  /** The frame a unit came back for: its exact PTS and the capture time it was put with. */
  frameOf(frame: { ptsNs: number; captureMs: number }): void {
    this.captures.take(frame.ptsNs, frame);
    if (Number.isNaN(frame.captureMs)) frame.captureMs = this.originMs + frame.ptsNs / 1e6;
  }

  // ---- Frames in (the hot path: no closure or object per frame) --------------------------

  /** Queues a frame for the encoder; `convertNow` converts packed RGB to I420 at once, while it is in cache. */
  enqueue(queue: FrameQueue, f: RawFrame, layout: Layout, ts: number, convertNow: boolean): void {
    const { slot, evicted } = queue.reserve(layout.gstSize, layout);
    if (evicted) this.dropped++;
    const conv = convertNow ? queue.converterFor(layout) : undefined;
    if (conv?.owns(slot.data)) slot.i420 = conv.convertInto(f.data, slot.data);
    else {
      slot.i420 = undefined;
      copyToGst(f.data, layout, slot.data);
    }
    slot.layout = layout;
    slot.captureMs = ts;
    slot.ptsNs = this.ptsFor(ts);
    queue.commit();
    this.accepted++;
    // putAsync(): the converted frame goes to appsrc now, while it is still in cache (putAsync()
    // then yields to the event loop itself). put() leaves it to the drain, to stay short.
    this.run?.feed(slot.i420 !== undefined);
  }

  /** Keeps a frame during warmup (a copy of its own); true when warmup has measured enough. */
  keepForWarmup(f: RawFrame, layout: Layout, ts: number): boolean {
    const slot: Slot = { data: Buffer.allocUnsafeSlow(layout.gstSize), layout, ptsNs: this.ptsFor(ts), captureMs: ts, i420: undefined };
    copyToGst(f.data, layout, slot.data);
    this.accepted++;
    return this.warmup!.add(slot);
  }

  /**
   * Ends warmup: its frames are streamed first (they stay within warmupMemoryBytes). Returns
   * what the session opens with: what was asked, else what warmup measured (`fallbackFps` when
   * it measured nothing yet).
   */
  endWarmup(fallbackFps = Number.NaN): { fps: number; width: number; height: number } {
    const warmup = this.warmup!;
    const first = warmup.frames[0]!.layout;
    const fps = this.wanted.fps ?? warmup.fps(fallbackFps);
    this.backlog = warmup.take();
    this.backlogHead = 0;
    this.warmup = undefined;
    return { fps, width: this.wanted.width ?? even(first.width), height: this.wanted.height ?? even(first.height) };
  }

  /** The oldest warmup frame still to stream. */
  peekBacklog(): Slot | undefined {
    return this.backlogHead < this.backlog.length ? this.backlog[this.backlogHead] : undefined;
  }

  shiftBacklog(): void {
    this.backlog[this.backlogHead++] = undefined; // its memory goes now
    if (this.backlogHead === this.backlog.length) this.dropBacklog();
  }

  /** Frames accepted and not yet handed to the encoder. */
  framesHeld(queue: FrameQueue): number {
    return queue.length + (this.backlog.length - this.backlogHead) + (this.warmup?.frames.length ?? 0);
  }

  /** Drops (and counts) what waits for the encoder: the queue and the warmup frames. */
  dropWaiting(queue: FrameQueue): void {
    this.dropped += queue.clear() + this.dropBacklog();
  }

  /** Stops the encoder run (its counts stay) and drops (counts) what still waits for it. */
  stopRun(queue: FrameQueue): void {
    const run = this.run;
    if (run) {
      run.stop();
      this.settled = { encoded: run.encoded(), bytes: run.bytes() };
      this.run = undefined;
    }
    this.dropWaiting(queue);
  }

  counts(): SessionCounts {
    const run = this.run;
    return run
      ? { accepted: this.accepted, dropped: this.dropped, encoded: run.encoded(), bytes: run.bytes(), fps: this.fps }
      : { accepted: this.accepted, dropped: this.dropped, ...this.settled, fps: this.fps };
  }

  private dropBacklog(): number {
    const n = this.backlog.length - this.backlogHead;
    this.backlog = [];
    this.backlogHead = 0;
    return n;
  }
}
