// The encoder run of a session: its pipeline (appsrc -> scale/convert -> H.264 -> the tap), the
// attempt-and-backoff loop that connects the tap (again after a loss), the drain that moves
// frames into appsrc while it has room, and the finish (flush, EOS) and stop.
import type { Logger } from 'pino';
import type { ReconnectOptions } from '../backoff.js';
import { attemptUntilReady } from '../delivery/attempts.js';
import { TapDelivery } from '../delivery/tap.js';
import type { EncoderSettings } from '../encoder.js';
import type { FrameQueue } from '../frame-queue.js';
import { rawCaps, type Layout } from '../frame.js';
import { Pipeline, type AppSrc } from '../gst/pipeline.js';
import type { AccessUnit } from '../h264/access-unit.js';
import type { Lifecycle } from '../lifecycle.js';
import { APPSRC_DEPTH, describePipeline, type PipelineShape } from '../pipeline-description.js';
import type { Session } from './session.js';

/** Longest one attempt to start the pipeline and connect its tap may take. */
const START_TIMEOUT_MS = 15_000;
/** No unit back for this long while frames wait for the encoder: the tap is stalled. */
const TAP_STALL_MS = 4000;

/** What a run asks of its SkyLine. */
export interface RunHost {
  readonly queue: FrameQueue;
  readonly log: Logger;
  /** An encoded unit came back, in decode order. */
  unit(au: AccessUnit): void;
  /** A frame went into the encoder: room for one more putAsync(). */
  took(): void;
  /** An attempt failed and another follows after `info.delayMs`. */
  retrying(info: { attempt: number; delayMs: number; reason: Error }): void;
  /** Frames reach the encoder (first connection, or back after a loss). */
  delivering(): void;
  /** The run failed for good after it had started (or reconnected). */
  fail(err: Error): void;
  /** Still 'opening': a first attempt's failure is the start's. 'streaming': a lost tap is reconnected. */
  readonly lifecycle: Lifecycle;
}

/** The binding never frees a pipeline: reuse the last one when the description is the same. */
export class PipelineCache {
  private cached: { description: string; pipeline: Pipeline } | undefined;

  get description(): string | undefined {
    return this.cached?.description;
  }

  for(shape: PipelineShape, settings: EncoderSettings): Pipeline {
    const description = describePipeline(shape, settings);
    if (this.cached?.description === description) return this.cached.pipeline;
    const pipeline = new Pipeline(description);
    this.cached = { description, pipeline };
    return pipeline;
  }

  clear(): void {
    this.cached = undefined;
  }
}

export class EncoderRun {
  readonly appsrc: AppSrc;
  /** Frames go into appsrc (the tap is connected). */
  delivering = false;
  private readonly tap: TapDelivery;
  private caps: Layout | undefined;
  /** Session PTS of this run's first frame: each (re)started pipeline counts from 0. */
  private ptsOffset = 0;
  private pushed = 0;
  /** A drain is scheduled: now (an Immediate) or after appsrc made room (a Timeout). */
  private drainTimer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private drainLater = false;
  /** Bound once: the drain is scheduled for nearly every frame. */
  private readonly drainBound = () => this.drain();

  constructor(
    readonly pipeline: Pipeline,
    private readonly session: Session,
    private readonly host: RunHost,
    private readonly o: { reconnect: Required<ReconnectOptions>; frameRate: boolean },
  ) {
    this.appsrc = pipeline.appsrc('src');
    this.tap = new TapDelivery(
      {
        unit: (au) => host.unit(au),
        failed: (err) => {
          if (session.run === this && host.lifecycle.is('streaming')) void this.connect(err);
        },
        framesWaiting: () => session.framesHeld(host.queue) > 0 || this.level() > 0,
        frameOf: (frame) => session.frameOf(frame),
      },
      { stallMs: TAP_STALL_MS },
    );
  }

  /**
   * Runs the attempt-and-backoff loop. Resolves once delivering, or once the first attempt
   * failed in a way worth retrying (the host is told: 'reconnecting'); rejects when the first
   * attempt of an opening session failed for good. Later outcomes go to the host on their own.
   */
  connect(first?: Error): Promise<void> {
    const { host, session } = this;
    const signal = session.signal;
    return new Promise<void>((resolve, reject) => {
      let retrying = false;
      attemptUntilReady(
        {
          attempt: (s) => this.tap.attempt(this.pipeline, s),
          undo: () => {
            this.delivering = false;
            this.tap.stop(this.pipeline);
          },
          retryable: (err, tries) => this.tap.retryable(err, tries),
          retrying: (info) => {
            if (!retrying) {
              retrying = true;
              this.lost();
              resolve();
            }
            host.retrying(info);
            host.log.info({ attempt: info.attempt, delayMs: info.delayMs }, 'reconnecting');
          },
        },
        { backoff: this.o.reconnect, attemptTimeoutMs: START_TIMEOUT_MS, signal, first },
      ).then(
        () => {
          if (signal.aborted || session.run !== this) return resolve();
          this.caps = undefined;
          this.pushed = 0;
          this.delivering = true;
          if (retrying) host.log.info('reconnected');
          host.delivering();
          this.scheduleDrain(0);
          resolve();
        },
        (err: Error) => {
          if (signal.aborted) return resolve();
          if (!retrying && host.lifecycle.is('opening')) return reject(err);
          host.fail(err);
          resolve();
        },
      );
    });
  }

  /** The tap is lost and reconnects: frames cannot reach the encoder now ('reconnecting'). */
  private lost(): void {
    this.delivering = false;
    // What waits is dropped, and put() drops until it is back.
    this.session.dropWaiting(this.host.queue);
    if (!this.host.lifecycle.is('reconnecting')) this.host.lifecycle.to('reconnecting');
  }

  /** A frame was queued: `now` (putAsync(), frame converted and in cache) pushes it at once. */
  feed(now: boolean): void {
    if (now && !this.drainTimer && this.delivering) this.drain();
    else this.scheduleDrain(0);
  }

  scheduleDrain(delayMs: number): void {
    if (this.drainTimer || !this.delivering) return;
    this.drainLater = delayMs > 0;
    this.drainTimer = this.drainLater ? setTimeout(this.drainBound, delayMs) : setImmediate(this.drainBound);
  }

  /** Moves frames (warmup backlog first, then the queue) into appsrc while it has room. */
  drain(): void {
    this.drainTimer = undefined;
    if (!this.delivering) return;
    const { session } = this;
    const { queue } = this.host;
    const info = session.info!;
    const appsrc = this.appsrc;
    for (;;) {
      let slot = session.peekBacklog();
      const fromBacklog = slot !== undefined;
      if (!fromBacklog) slot = queue.peek();
      if (!slot) break;
      if (appsrc.level() >= APPSRC_DEPTH) {
        this.scheduleDrain(2);
        break;
      }
      // Packed RGB goes in as I420 converted here: videoconvert takes several times as long
      // for it (no RGB -> YUV fast path in GStreamer 1.22; BENCHMARKS.md, figure 2).
      const i420 = queue.converterOf(slot);
      if (slot.layout !== this.caps) {
        // A new size or format: appsrc sends new caps ahead of this buffer and videoscale adapts.
        appsrc.caps = i420 ? i420.caps(info.framerate) : rawCaps(slot.layout, info.framerate);
        this.caps = slot.layout;
      }
      const pts = this.o.frameRate ? Math.round((session.frameNo * 1e9) / info.fps) : slot.ptsNs;
      if (this.pushed === 0) this.ptsOffset = pts;
      appsrc.push(slot.i420 ?? (i420 ? i420.convert(slot.data) : slot.data), pts - this.ptsOffset);
      this.pushed++;
      session.frameNo++;
      session.pushed++;
      this.tap.pushed(pts, this.ptsOffset);
      session.captures.add(pts, slot.captureMs);
      if (fromBacklog) session.shiftBacklog();
      else queue.shift();
      this.host.took();
    }
  }

  /** Flushes what waits into the pipeline, then EOS; ends early when `signal` aborts. */
  async finish(signal: AbortSignal): Promise<void> {
    const { session } = this;
    const { queue } = this.host;
    while ((session.framesHeld(queue) > 0 || this.level() > 0) && !signal.aborted && this.delivering) {
      this.drain();
      await new Promise((r) => setTimeout(r, 5));
    }
    if (!this.delivering || signal.aborted) return;
    // Nothing pushed, nothing to flush: an EOS through a pipeline that never saw caps may
    // never come out, and would cost the whole stop timeout.
    if (this.pushed === 0) return;
    await this.tap.finish(this.pipeline, signal);
  }

  /** Stops the pipeline and the tap; frames no longer go in. */
  stop(): void {
    // Each kind cleared by its own function: clearImmediate() given a Timeout corrupts Node's
    // count of pending immediates (no setImmediate() callback runs again in the process).
    if (this.drainLater) clearTimeout(this.drainTimer as NodeJS.Timeout | undefined);
    else clearImmediate(this.drainTimer as NodeJS.Immediate | undefined);
    this.drainTimer = undefined;
    this.delivering = false;
    this.tap.stop(this.pipeline);
  }

  /** Asks the encoder for a keyframe now. */
  requestKeyframe(): void {
    if (this.delivering) this.pipeline.forceKeyUnit('parse');
  }

  /** Frames appsrc holds. */
  level(): number {
    try {
      return this.appsrc.level();
    } catch {
      return 0;
    }
  }

  /** Units encoded this session. */
  encoded(): number {
    return this.tap.encoded();
  }

  /** Encoded bytes received this session. */
  bytes(): number {
    return this.tap.bytes();
  }
}
