// SkyLine: the public base class. Frames go put() -> warmup or bounded queue -> appsrc ->
// scale/convert -> H.264 encoder -> the tap back into Node -> the fanout to every destination.
// This class composes the parts, each in a module of its own: the lifecycle (states, transition
// table, command chain: lifecycle.ts), the queue (frame-queue.ts), warmup (warmup.ts), the tap
// with its attempt-and-backoff loop (delivery/) and the destinations (destinations/).
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { applyEnvironment, type EnvOptions } from './config.js';
import { withDefaults, type ReconnectOptions } from './backoff.js';
import { chooseEncoder, validateEncoderSettings, type EncoderName } from './encoder.js';
import { fpsFraction } from './fps.js';
import type { RgbToI420 } from './convert/rgb-to-i420.js';
import { FrameQueue, type Slot } from './frame-queue.js';
import { adaptFrame, checkFrameSize, copyToGst, layoutOf, rawCaps, type FrameInput, type Layout, type RawFrame } from './frame.js';
import { APPSRC_DEPTH, describePipeline } from './pipeline-description.js';
import { Warmup } from './warmup.js';
import { CaptureTimes } from './capture-times.js';
import { activeBusWatches, Pipeline, type AppSrc } from './gst/pipeline.js';
import { defaultLogger, Redactor, REDACT_PATHS, scrubbing } from './log.js';
import { CommandChain, Lifecycle, type SkyLineState } from './lifecycle.js';
import { attemptUntilReady } from './delivery/attempts.js';
import { TapDelivery, type TapHost } from './delivery/tap.js';
import { aborted, deadline } from './abort.js';
import { DestinationError, type Destination, type DestinationState, type DestinationStats } from './destinations/destination.js';
import { Fanout, type AttachOptions } from './destinations/fanout.js';

/** Pass for fps, width or height to reuse the value of this SkyLine's previous session. */
export const USE_LAST_VALUE = -999;
/** Frames timed during warmup when the frame rate is not given. */
export const FPS_METER_WARMUP_FRAMES = 100;

/**
 * Frames putAsync() lets wait in the queue before it waits itself (at most the queue's limit).
 * Enough to keep appsrc fed; more only lets the frame being converted go cold: the drain then
 * reads it from memory instead of cache, long after put() copied it.
 */
const PUT_ASYNC_DEPTH = 2;

export type { SkyLineState } from './lifecycle.js';
export type { ReconnectOptions } from './backoff.js';

/** How frames get their presentation times. */
export type TimestampMode = 'capture' | 'frame-rate';

export interface SkyLineOptions extends EnvOptions {
  /** A pino logger; the SkyLine logs through a child of it. Default: pino to stderr at SKYLINE_LOG_LEVEL or 'warn'. */
  logger?: Logger;
  /** Frames timed to measure fps when it is not given. Default FPS_METER_WARMUP_FRAMES (100). */
  warmupFrames?: number;
  /** Memory for frames kept during warmup; reaching it ends warmup early (fps from the frames so far). Default 256 MiB. */
  warmupMemoryBytes?: number;
  /** Memory for the queue between put() and the encoder, its converter included (at least 2 frames). Default 64 MiB. */
  queueBytes?: number;
  /** Target bitrate, kbit/s. Default 2000. */
  bitrate?: number;
  /** Frames between keyframes. Default 60. */
  keyframeInterval?: number;
  /** x264 speed preset. Default 'ultrafast' (leaves the CPU to the vision code). */
  speedPreset?: string;
  /** x264 threads encode whole frames in parallel (throughput) instead of slices of one (latency). Default false; FileSkyLine: true. */
  frameThreads?: boolean;
  /** H.264 encoder element, or 'auto': a working hardware encoder, else x264enc, else openh264enc. */
  encoder?: EncoderName | 'auto';
  /** How often 'stats' is emitted while streaming, ms (0: never). Default 1000. */
  statsIntervalMs?: number;
  /** Backoff for destinations that reconnect after a failure. */
  reconnect?: ReconnectOptions;
  /** Longest stopStreaming() and close() take, whatever the destination does, ms. Default 15000. */
  stopTimeoutMs?: number;
  /**
   * PTS of each frame: 'capture' (default) from its capture time, so irregular put() plays back
   * at real speed; 'frame-rate' n / fps for the n-th frame of the session, for offline work
   * (annotating a recorded video with putAsync()). Capture times are kept (sidecar) either way.
   */
  timestamps?: TimestampMode;
  /** Where the encoded video goes, besides a subclass's own destination; more with attach(). */
  destinations?: Destination[];
  /** Encoded video kept for attach()'s pre-roll: longest span, ms. Default 10000 (0: none). */
  historyMs?: number;
  /** Encoded video kept for pre-roll: most bytes. Default 32 MiB. */
  historyBytes?: number;
  /** Per destination: most encoded bytes waiting for it before its oldest GOPs are dropped. Default 16 MiB. */
  backlogBytes?: number;
  /** Per destination: longest capture-time span waiting for it, ms (pre-roll extends it). Default 10000. */
  backlogMs?: number;
  /** Shortest gap between keyframes asked of the encoder by destinations and viewers, ms. Default 1000. */
  keyframeGapMs?: number;
}

export interface StartOptions {
  /** Frames per second; null: measure during warmup. Default USE_LAST_VALUE. */
  fps?: number | null;
  /** Video width; null: the first frame's. Default USE_LAST_VALUE. */
  width?: number | null;
  /** Video height; null: the first frame's. Default USE_LAST_VALUE. */
  height?: number | null;
}

export interface PutOptions {
  /** Capture time of the frame, epoch milliseconds. Default Date.now(). */
  timestamp?: number;
}

/** What a session was opened with. */
export interface SessionInfo {
  fps: number;
  width: number;
  height: number;
  /** GStreamer fraction of fps, e.g. "30000/1001". */
  framerate: string;
  /** Capture time (epoch ms) of PTS 0: the session's first frame. */
  originMs: number;
  /** 1 for the first session of this SkyLine, then 2, 3, ... */
  index: number;
  encoder: EncoderName;
}

export interface SkyLineStats {
  state: SkyLineState;
  /** Frames put() accepted this session. */
  framesAccepted: number;
  /** Frames dropped this session: queue overflow, or destination unavailable. */
  framesDropped: number;
  /** Frames the encoder has taken (tap destinations: encoded units received). */
  framesEncoded: number;
  /** Bytes handed to the destination. */
  bytesOut: number;
  /** Rate of put() calls over the last stats interval, frames/s. */
  measuredFps: number;
  /** Frames waiting: warmup frames and the queue. */
  queued: number;
  /** One entry per attached destination. */
  destinations: DestinationStats[];
}

export interface ReconnectInfo {
  attempt: number;
  delayMs: number;
  reason: string;
}

/** Events of every SkyLine. Subclasses extend it with their error type, stats and extra events. */
export interface SkyLineEvents {
  state: [state: SkyLineState, previous: SkyLineState];
  error: [err: Error];
  stats: [stats: SkyLineStats];
  reconnect: [info: ReconnectInfo];
  /** An attached destination changed state (its errors come as 'error', with `destination` set). */
  destination: [name: string, state: DestinationState, previous: DestinationState];
}

const START_TIMEOUT_MS = 15_000;
const TAP_STALL_MS = 4000;
const WARN_INTERVAL_MS = 60_000;
/** Abort reasons of a session. */
const STOPPED = new Error('stopped');
const FAILED = new Error('failed');

interface Run {
  pipeline: Pipeline;
  appsrc: AppSrc;
  caps: Layout | undefined;
  /** Session PTS of this run's first frame: each (re)started pipeline counts from 0. */
  ptsOffset: number;
  pushed: number;
  /** Frames go into appsrc (the destination takes data). */
  delivering: boolean;
}

/** What a subclass adds to the SkyLine it builds on. */
export interface BuiltInParts {
  /**
   * Its own destination (FileSkyLine's file, RtmpSkyLine's relay). Its reconnects are the
   * SkyLine's ('reconnecting', put() drops), its final failure fails the session, and its
   * errors are reported as they are.
   */
  destination?: Destination;
  /** Secrets masked in every log line and error: a string (shown as ****), or [secret, shown as]. */
  secrets?: Iterable<string | undefined | readonly [secret: string, shownAs: string]>;
}

/**
 * `Events` is the subclass's event map (its error type, stats type, extra events), so listeners
 * are typed for the class at hand: `rtmp.on('error', (err) => err.code)` compiles under strict tsc.
 */
export abstract class SkyLine<Events extends SkyLineEvents & Record<keyof Events, unknown[]> = SkyLineEvents> extends EventEmitter<Events> {
  private readonly log: Logger;
  private readonly redactor = new Redactor();
  private session: SessionInfo | undefined;

  private readonly opts: Required<Omit<SkyLineOptions, 'logger' | keyof EnvOptions | 'reconnect' | 'destinations' | 'frameThreads'>> & { reconnect: Required<ReconnectOptions> };
  /** Given, or undefined: then x264 frame threads only while every destination is a file. */
  private readonly frameThreadsOption: boolean | undefined;
  private readonly fanout: Fanout;
  private readonly lifecycle = new Lifecycle((next, previous) => this.changed(next, previous));
  private readonly commands = new CommandChain();
  private last: { fps?: number; width?: number; height?: number } = {};
  private sessions = 0;

  // Commands in progress
  private stopping: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** stopStreaming() or close() was called: put() takes no more frames until a new start. */
  private stopRequested = false;

  // The session
  /** Aborted when the session ends (stop, failure): every wait of the session obeys it. */
  private sessionAbort: AbortController | undefined;
  private wanted: { fps: number | null; width: number | null; height: number | null } = { fps: null, width: null, height: null };
  private warmup: Warmup | undefined;
  /** Warmup frames handed over to be streamed first, oldest first (bounded by warmupMemoryBytes). */
  private backlog: Array<Slot | undefined> = [];
  private backlogHead = 0;
  private opening: Promise<void> | undefined;
  private failure: Error | undefined;
  private releasing: Promise<void> | undefined;
  private delivery: TapDelivery | undefined;
  private run: Run | undefined;
  private queue = new FrameQueue(2);
  private originMs = NaN;
  private readonly captures = new CaptureTimes();
  private lastPts = -1;
  private frameNo = 0;
  private settledEncoded = 0;

  private cached: { description: string; pipeline: Pipeline } | undefined;
  private drainTimer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private statsTimer: NodeJS.Timeout | undefined;
  private lastWarn = 0;
  private threadpoolWarned = false;
  private readonly scratch: RawFrame = { data: new Uint8Array(0), width: 0, height: 0, format: 'BGR' };
  private layoutCache: Layout | undefined;

  private counters = { accepted: 0, dropped: 0, pushed: 0, lastAccepted: 0, lastTick: 0, fps: 0 };

  /** The subclass's own destination (FileSkyLine's file, RtmpSkyLine's relay): its state is the session's. */
  private readonly builtIn: Destination | undefined;
  /** Its last error, already reported: the failure of the session when it gives up. */
  private builtInError: Error | undefined;

  constructor(options: SkyLineOptions = {}, parts: BuiltInParts = {}) {
    super();
    const builtIn = parts.destination;
    for (const s of parts.secrets ?? []) {
      if (typeof s === 'string' || s === undefined) this.redactor.add(s);
      else this.redactor.add(s[0], s[1]);
    }
    const late = applyEnvironment(options);
    this.log = scrubbing(
      (options.logger ?? defaultLogger()).child({ component: 'gst-skyline', skyline: new.target.name }, { redact: REDACT_PATHS }),
      this.redactor,
    );
    if (late.length > 0) {
      this.log.warn({ settings: late }, 'GStreamer was already started in this process: these settings apply from the next process on');
    }
    this.opts = {
      warmupFrames: options.warmupFrames ?? FPS_METER_WARMUP_FRAMES,
      warmupMemoryBytes: options.warmupMemoryBytes ?? 256 * 2 ** 20,
      queueBytes: options.queueBytes ?? 64 * 2 ** 20,
      bitrate: options.bitrate ?? 2000,
      keyframeInterval: options.keyframeInterval ?? 60,
      speedPreset: options.speedPreset ?? 'ultrafast',
      encoder: options.encoder ?? 'auto',
      statsIntervalMs: options.statsIntervalMs ?? 1000,
      stopTimeoutMs: options.stopTimeoutMs ?? 15_000,
      reconnect: withDefaults(options.reconnect),
      timestamps: options.timestamps ?? 'capture',
      historyMs: options.historyMs ?? 10_000,
      historyBytes: options.historyBytes ?? 32 * 2 ** 20,
      backlogBytes: options.backlogBytes ?? 16 * 2 ** 20,
      backlogMs: options.backlogMs ?? 10_000,
      keyframeGapMs: options.keyframeGapMs ?? 1000,
    };
    this.frameThreadsOption = options.frameThreads;
    validateEncoderSettings({ ...this.opts, frameThreads: options.frameThreads ?? false });
    if (!Number.isInteger(this.opts.warmupFrames) || this.opts.warmupFrames < 2) {
      throw new RangeError(`warmupFrames must be an integer of at least 2, got ${this.opts.warmupFrames}`);
    }
    if (this.opts.timestamps !== 'capture' && this.opts.timestamps !== 'frame-rate') {
      throw new RangeError(`timestamps must be 'capture' or 'frame-rate', got ${JSON.stringify(this.opts.timestamps)}`);
    }
    if (!(this.opts.stopTimeoutMs > 0)) throw new RangeError(`stopTimeoutMs must be positive, got ${this.opts.stopTimeoutMs}`);
    for (const k of ['historyMs', 'historyBytes', 'backlogBytes', 'backlogMs', 'keyframeGapMs'] as const) {
      if (!(Number.isFinite(this.opts[k]) && this.opts[k] >= 0)) throw new RangeError(`${k} must be a number >= 0, got ${String(this.opts[k])}`);
    }
    this.fanout = new Fanout({
      history: { ms: this.opts.historyMs, bytes: this.opts.historyBytes },
      backlog: { ms: this.opts.backlogMs, bytes: this.opts.backlogBytes },
      log: this.log,
      redactor: this.redactor,
      requestKeyframe: () => this.requestKeyframe(),
      keyframeGapMs: this.opts.keyframeGapMs,
      error: (err) => {
        if (!this.builtIn || err.destination !== this.builtIn.name || !(err.cause instanceof Error)) return this.reportError(err);
        // The subclass's own destination speaks for the SkyLine: its errors as they are (RtmpError, KvsError).
        this.builtInError = err.cause;
        this.reportError(err.cause);
      },
      state: (d, next, previous) => {
        this.emitEvent('destination', d.name, next, previous);
        // After the current turn: a destination may report why it failed just after saying it did.
        if (d === this.builtIn) queueMicrotask(() => this.followBuiltIn());
      },
    });
    this.builtIn = builtIn;
    if (builtIn) {
      this.fanout.attach(builtIn).catch((err: Error) => this.reportError(err));
      builtIn.on('reconnect', (info) => this.emitEvent('reconnect', info));
    }
    const given = options.destinations ?? [];
    if (!Array.isArray(given)) throw new TypeError(`destinations must be an array of destinations, got ${typeof given}`);
    for (const d of given) this.fanout.attach(d).catch((err: Error) => this.reportError(err));
  }

  // ---- Public API --------------------------------------------------------------------

  get state(): SkyLineState {
    return this.lifecycle.state;
  }

  get videoFps(): number | undefined {
    return this.session?.fps ?? this.last.fps;
  }

  get videoWidth(): number | undefined {
    return this.session?.width ?? this.last.width;
  }

  get videoHeight(): number | undefined {
    return this.session?.height ?? this.last.height;
  }

  /** The gst-launch description of the current (or last) session's pipeline, for logs and bug reports. */
  get pipelineDescription(): string | undefined {
    return this.cached && this.redactor.scrub(this.cached.description);
  }

  /**
   * Starts a session. fps, width and height default to USE_LAST_VALUE (the previous
   * session's); null (or no previous value) measures them during warmup. Resolves when
   * put() may be called; called while a session runs, it stops that one first (everything
   * accepted is delivered) and starts anew.
   */
  startStreaming(options: StartOptions = {}): Promise<void> {
    return this.commands.run(async () => {
      if (this.closing || this.lifecycle.is('closed')) throw new Error('this SkyLine is closed');
      if (!this.lifecycle.is('stopped')) {
        const d = deadline(this.opts.stopTimeoutMs);
        try {
          await this.stopSession(d.signal);
        } finally {
          d.clear();
        }
      }
      const wanted = {
        fps: resolveValue('fps', options.fps, this.last.fps, (v) => v > 0 && v <= 1000, 'a number of frames per second in (0, 1000]'),
        width: resolveValue('width', options.width, this.last.width, isDimension, 'an integer from 16 to 16384'),
        height: resolveValue('height', options.height, this.last.height, isDimension, 'an integer from 16 to 16384'),
      };
      this.beginSession(wanted);
      this.fanout.begin();
      const { fps, width, height } = wanted;
      if (fps !== null && width !== null && height !== null) {
        this.beginOpening(fps, width, height);
        // A stop gives up on a destination that takes too long to open (its deadline aborts the session).
        await Promise.race([this.opening, aborted(this.sessionAbort!.signal)]);
        if (this.lifecycle.is('error')) throw this.failure!;
      } else {
        this.warmup = new Warmup(fps === null, this.opts.warmupFrames, this.opts.warmupMemoryBytes);
        this.lifecycle.to('warmup');
        try {
          // Servers bind now, so their URLs are final when this resolves; a file is checked, so
          // no frame is accepted for one that cannot be written.
          await this.fanout.prepare();
        } catch (err) {
          this.fail(err as Error);
          await this.releasing;
          throw this.failure;
        }
        this.log.info({ fps, width, height, warmupFrames: this.warmup.target }, 'warming up: measuring the stream from the first frames');
      }
    });
  }

  /**
   * Queues a frame. Returns true when accepted, false when not (not streaming, stopping, the
   * destination unavailable). Never blocks; throws TypeError/RangeError for a bad frame only.
   */
  put(frame: FrameInput, options?: PutOptions): boolean {
    return this.accept(frame, options, false);
  }

  /** put() and putAsync(): `convertNow` converts packed RGB to I420 at once, while the frame is in cache. */
  private accept(frame: FrameInput, options: PutOptions | undefined, convertNow: boolean): boolean {
    const f = adaptFrame(frame, this.scratch);
    const layout = this.layoutFor(f);
    checkFrameSize(f, layout);
    const ts = options?.timestamp ?? Date.now();
    if (typeof ts !== 'number' || !Number.isFinite(ts)) {
      throw new TypeError(`timestamp must be epoch milliseconds (a finite number), got ${String(ts)}`);
    }
    if (this.stopRequested) return this.refuse();
    switch (this.lifecycle.state) {
      case 'warmup':
        return this.keepWarmupFrame(f, layout, ts);
      case 'opening':
      case 'streaming':
        return this.enqueue(f, layout, ts, convertNow);
      case 'reconnecting':
        return this.drop();
      default:
        return this.refuse();
    }
  }

  /**
   * Like put(), but waits instead of dropping (offline work): while PUT_ASYNC_DEPTH frames wait
   * for the encoder, and through a reconnect.
   * Resolves true once accepted, false when the SkyLine takes no frames (not streaming, stopping).
   */
  async putAsync(frame: FrameInput, options?: PutOptions): Promise<boolean> {
    const ts = options?.timestamp ?? Date.now();
    for (;;) {
      const s = this.lifecycle.state;
      if (!this.stopRequested) {
        // Wait for room, or for the destination to take data again (reconnects).
        const blocked = s === 'reconnecting' || ((s === 'streaming' || s === 'opening') && this.queue.length >= Math.min(this.queue.limit, PUT_ASYNC_DEPTH));
        if (blocked) {
          await new Promise<void>((resolve) => this.waiters.push(resolve));
          continue;
        }
        // Converted here rather than in the drain, band by band as it is copied in: by the time
        // the drain came to it, the next frames would have pushed it out of the cache (copy and
        // conversion 0.9 ms at 1080p, against about 1.3 ms). put() itself stays a copy, to keep
        // its own cost low.
        if (s === 'warmup' || s === 'opening' || s === 'streaming') {
          const accepted = this.accept(frame, { timestamp: ts }, true);
          // One turn of the event loop per frame: with appsrc taking each frame at once, a loop
          // awaiting putAsync() would otherwise never let sockets and timers run.
          await new Promise<void>((resolve) => setImmediate(resolve));
          return accepted;
        }
      }
      adaptFrame(frame, this.scratch); // still report bad input
      return false;
    }
  }

  /**
   * Encodes and delivers everything accepted so far, then stops the pipeline. Returns within
   * stopTimeoutMs whatever the destination does. A second call returns the stop in progress.
   */
  stopStreaming(): Promise<void> {
    if (this.stopping) return this.stopping;
    if (this.lifecycle.is('stopped', 'closed') && !this.commands.busy) return Promise.resolve();
    this.stopRequested = true;
    const d = deadline(this.opts.stopTimeoutMs);
    // A session still connecting or reconnecting with nothing to deliver is given up at once;
    // with frames waiting, it has until the deadline to connect and deliver them.
    if (!this.lifecycle.is('streaming') && this.framesHeld() === 0) this.sessionAbort?.abort(STOPPED);
    d.signal.addEventListener('abort', () => this.sessionAbort?.abort(STOPPED), { once: true });
    const p = this.commands.run(() => this.stopSession(d.signal)).finally(() => {
      d.clear();
      if (this.stopping === p) this.stopping = undefined;
    });
    this.stopping = p;
    return p;
  }

  /** Stops streaming (as stopStreaming(), waiting for a stop in progress) and releases everything. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    // Its outcome is the close's too: the close command runs after it in the chain.
    this.stopStreaming().catch(() => undefined);
    this.closing = this.commands.run(async () => {
      const d = deadline(this.opts.stopTimeoutMs);
      await this.fanout.dispose(d.signal).finally(() => d.clear());
      this.cached = undefined;
      this.queue.release();
      if (!this.lifecycle.is('closed')) this.lifecycle.to('closed');
    });
    return this.closing;
  }

  stats(): SkyLineStats {
    return { state: this.state, ...this.statsCounts() };
  }

  /**
   * Adds a destination. While streaming it opens at once, starting at the next keyframe, or
   * with `preRollMs` at the keyframe at or before now − preRollMs from the encoded history;
   * resolves once it takes video (during warmup: once the session has opened). While stopped,
   * it is kept and opened with the next session. Rejects when it cannot open.
   */
  attach(destination: Destination, options?: AttachOptions): Promise<void> {
    if (this.closing || this.lifecycle.is('closed')) return Promise.reject(new Error('this SkyLine is closed'));
    if (!destination || typeof (destination as Partial<Destination>).write !== 'function' || typeof (destination as Partial<Destination>).open !== 'function') {
      return Promise.reject(new TypeError(`attach() takes a destination (FileDestination, RtspDestination, ...), got ${describeValue(destination)}`));
    }
    return this.fanout.attach(destination, options);
  }

  /**
   * Removes a destination; resolves once it has delivered or finalized what it took (a clip's
   * file is complete and playable), within stopTimeoutMs. The destination is not disposed:
   * it may be attached again, here or elsewhere.
   */
  async detach(destination: Destination): Promise<void> {
    const d = deadline(this.opts.stopTimeoutMs);
    try {
      await this.fanout.detach(destination, d.signal);
    } finally {
      d.clear();
    }
  }

  /** The destinations attached now. */
  get destinations(): Destination[] {
    return this.fanout.destinations;
  }

  // ---- Lifecycle internals ------------------------------------------------------------

  /** Asks the encoder for a keyframe now (the fanout rate-limits its destinations' requests). */
  private requestKeyframe(): void {
    if (this.run?.delivering) this.run.pipeline.forceKeyUnit('parse');
  }

  /**
   * Reports an error, secrets scrubbed: an 'error' event when someone listens, else a log line
   * at level error with the stack (an unheard error must not vanish, nor be printed twice).
   */
  private reportError(err: Error): void {
    const clean = this.redactor.scrubError(err);
    if ((this as unknown as EventEmitter).listenerCount('error') > 0) this.emitEvent('error', clean);
    else this.log.error({ err: clean }, clean.message);
  }

  /** Fails the session: error reported, pipeline stopped, destination released, state 'error'. */
  private fail(err: Error, reported = false): void {
    if (!this.lifecycle.is('warmup', 'opening', 'streaming', 'reconnecting')) return;
    // The built-in destination's failures read as the SkyLine's own (RtmpError, KvsError, a file error).
    if (err instanceof DestinationError && this.builtIn && err.destination === this.builtIn.name && err.cause instanceof Error) err = err.cause;
    this.failure = this.redactor.scrubError(err);
    if (!reported) this.reportError(this.failure);
    this.sessionAbort?.abort(FAILED);
    this.stopRun();
    this.lifecycle.to('error');
    this.releasing ??= this.releaseDestinations();
  }

  private emitEvent<K extends keyof SkyLineEvents>(event: K, ...args: SkyLineEvents[K]): void {
    (this as unknown as EventEmitter).emit(event, ...args);
  }

  private changed(next: SkyLineState, previous: SkyLineState): void {
    this.log.debug({ from: previous, to: next }, `state ${next}`);
    this.emitEvent('state', next, previous);
    // putAsync() callers re-check what they may do now.
    this.releaseWaiters();
  }

  private beginSession(wanted: SkyLine['wanted']): void {
    this.wanted = wanted;
    this.stopRequested = false;
    this.sessionAbort = new AbortController();
    this.counters = { accepted: 0, dropped: 0, pushed: 0, lastAccepted: 0, lastTick: Date.now(), fps: 0 };
    this.warmup = undefined;
    this.backlog = [];
    this.backlogHead = 0;
    this.originMs = NaN;
    this.captures.clear();
    this.lastPts = -1;
    this.frameNo = 0;
    this.settledEncoded = 0;
    this.session = undefined;
    this.opening = undefined;
    this.failure = undefined;
    this.releasing = undefined;
    this.queue.clear();
  }

  /** Sizes the queue for the session (queueBytes, never more, its converter included) and opens it. */
  private beginOpening(fps: number, width: number, height: number): void {
    const frameBytes = layoutOf('I420', width, height).gstSize * 2;
    this.queue.limit = FrameQueue.limitFor(this.opts.queueBytes, frameBytes);
    this.lifecycle.to('opening');
    this.opening = this.open(fps, width, height).catch(() => undefined);
  }

  /** Opens the session: destination, pipeline, first connection. Resolves once streaming or reconnecting. */
  private async open(fps: number, width: number, height: number): Promise<void> {
    const signal = this.sessionAbort!.signal;
    try {
      const encoder = await chooseEncoder(this.opts.encoder, this.opts);
      if (signal.aborted) return;
      const session: SessionInfo = { fps, width, height, framerate: fpsFraction(fps), originMs: this.originMs, index: ++this.sessions, encoder };
      this.session = session;
      this.last = { fps, width, height };
      this.delivery = new TapDelivery(this.tapHost(), { stallMs: TAP_STALL_MS });
      // A stop gives up on destinations still opening (a control plane that does not answer):
      // the fanout's end() closes them, which cancels what they wait on.
      await Promise.race([this.fanout.start({ width, height, fps, framerate: session.framerate }), aborted(signal)]);
      if (signal.aborted) return;
      // x264 frame threads (throughput) only when nobody watches live: they add frames of latency.
      const frameThreads = this.frameThreadsOption ?? (this.fanout.destinations.length > 0 && !this.fanout.live);
      const pipeline = this.pipelineFor(describePipeline(session, { ...this.opts, frameThreads }));
      const run: Run = { pipeline, appsrc: pipeline.appsrc('src'), caps: undefined, ptsOffset: 0, pushed: 0, delivering: false };
      this.run = run;
      this.log.info(
        { fps, framerate: session.framerate, width, height, encoder, destination: 'node' },
        'opening session',
      );
      this.startStats();
      await this.connect(run);
    } catch (err) {
      if (signal.aborted) return; // stopped or failed meanwhile: the stop (or failure) cleans up
      this.fail(err instanceof Error ? err : new Error(String(err)));
      // A failed start gives back everything it took before it reports.
      await this.releasing;
      throw this.failure;
    }
  }

  /**
   * Runs the attempt-and-backoff loop for `run`. Resolves once delivering, or once the first
   * attempt failed in a way worth retrying (state 'reconnecting'); rejects when the first
   * attempt failed for good. Later outcomes move the state on their own.
   */
  private connect(run: Run, first?: Error): Promise<void> {
    const signal = this.sessionAbort!.signal;
    const delivery = this.delivery!;
    return new Promise<void>((resolve, reject) => {
      let retrying = false;
      attemptUntilReady(
        {
          attempt: (s) => delivery.attempt(run.pipeline, s),
          undo: () => {
            run.delivering = false;
            delivery.stop(run.pipeline);
          },
          retryable: (err, tries) => delivery.retryable(err, tries),
          retrying: (info) => {
            if (!retrying) {
              retrying = true;
              this.enterReconnecting();
              resolve();
            }
            this.reportError(info.reason);
            this.emitEvent('reconnect', { attempt: info.attempt, delayMs: info.delayMs, reason: info.reason.message });
            this.log.info({ attempt: info.attempt, delayMs: info.delayMs }, 'reconnecting');
          },
        },
        { backoff: this.opts.reconnect, attemptTimeoutMs: START_TIMEOUT_MS, signal, first },
      ).then(
        () => {
          if (signal.aborted || this.run !== run) return resolve();
          run.caps = undefined;
          run.pushed = 0;
          run.delivering = true;
          if (retrying) this.log.info('reconnected');
          this.lifecycle.to('streaming');
          this.followBuiltIn();
          this.scheduleDrain(0);
          resolve();
        },
        (err: Error) => {
          if (signal.aborted) return resolve();
          if (!retrying && this.lifecycle.is('opening')) return reject(err);
          this.fail(err);
          resolve();
        },
      );
    });
  }

  /** The built-in destination's state is the session's: reconnecting, back, or failed for good. */
  private followBuiltIn(): void {
    const d = this.builtIn;
    if (!d || !this.run?.delivering) return;
    if (d.state === 'reconnecting' && this.lifecycle.is('streaming') && !d.buffersWhileReconnecting) {
      // The encoder runs on; what it makes waits in (or falls out of) the destination's backlog.
      this.counters.dropped += this.queue.clear();
      this.lifecycle.to('reconnecting');
    } else if (d.state === 'streaming' && this.lifecycle.is('reconnecting')) {
      this.lifecycle.to('streaming');
      this.scheduleDrain(0);
    } else if (d.state === 'failed') {
      const err = this.builtInError;
      this.fail(err ?? new Error(`${d.name} failed`), err !== undefined);
    }
  }

  private enterReconnecting(): void {
    if (this.run) this.run.delivering = false;
    // Frames cannot reach the destination now: what waits is dropped, and put() drops until it is back.
    this.counters.dropped += this.queue.clear() + this.dropBacklog();
    if (!this.lifecycle.is('reconnecting')) this.lifecycle.to('reconnecting');
  }

  /** A delivering run lost its tap: reconnect. */
  private deliveryFailed(err: Error): void {
    const run = this.run;
    if (!run || !this.lifecycle.is('streaming')) return;
    void this.connect(run, err);
  }

  /** The stop command: delivers what was accepted (by the deadline), then releases the session. */
  private async stopSession(signal: AbortSignal): Promise<void> {
    if (this.lifecycle.is('stopped', 'closed')) {
      this.stopRequested = false;
      return;
    }
    const warmup = this.warmup;
    if (this.lifecycle.is('warmup') && warmup && warmup.frames.length > 0) {
      // Frames accepted during warmup are not thrown away: open with what was measured.
      this.finishWarmup(warmup, 30);
    }
    if (this.opening) await Promise.race([this.opening, aborted(signal)]);
    const run = this.run;
    const wasStreaming = this.lifecycle.is('streaming');
    this.lifecycle.to('stopping');
    if (wasStreaming && run) {
      await this.finishRun(run, signal);
      if (signal.aborted) this.log.warn({ timeoutMs: this.opts.stopTimeoutMs }, 'the pipeline did not finish in time; stopping it anyway');
    }
    this.sessionAbort?.abort(STOPPED);
    this.stopRun();
    this.releasing ??= this.releaseDestinations(signal);
    await Promise.race([this.releasing, aborted(signal)]);
    this.stopRequested = false;
    this.lifecycle.to('stopped');
    this.log.info({ ...this.statsCounts() }, 'stopped');
  }

  /** Flushes the queue into the pipeline, then EOS; ends early when `signal` aborts. */
  private async finishRun(run: Run, signal: AbortSignal): Promise<void> {
    while ((this.framesHeld() > 0 || safeLevel(run.appsrc) > 0) && !signal.aborted && run.delivering) {
      this.drain();
      await new Promise((r) => setTimeout(r, 5));
    }
    if (!run.delivering || signal.aborted) return;
    // Nothing pushed, nothing to flush: an EOS through a pipeline that never saw caps may
    // never come out of the muxer (flvmux), and would cost the whole stop timeout.
    if (run.pushed === 0) return;
    await this.delivery!.finish(run.pipeline, signal);
  }

  /** Stops the pipeline; what still waits in the queue is dropped (counted). */
  private stopRun(): void {
    if (this.drainTimer) {
      clearImmediate(this.drainTimer as NodeJS.Immediate);
      clearTimeout(this.drainTimer as NodeJS.Timeout);
      this.drainTimer = undefined;
    }
    const run = this.run;
    if (run) {
      this.settledEncoded = this.delivery!.encoded();
      run.delivering = false;
      this.delivery!.stop(run.pipeline);
      this.run = undefined;
    }
    this.counters.dropped += this.queue.clear() + this.dropBacklog();
    this.releaseWaiters();
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
  }

  /** Once per session, whatever happens: every destination delivers or finalizes what it took (a file complete, KVS persisted), bounded by `signal` when given. */
  private async releaseDestinations(signal?: AbortSignal): Promise<void> {
    const d = signal ? undefined : deadline(this.opts.stopTimeoutMs);
    await this.fanout.end(signal ?? d!.signal);
    d?.clear();
  }

  private tapHost(): TapHost {
    return {
      unit: (au) => this.fanout.write(au),
      failed: (err) => this.deliveryFailed(err),
      framesWaiting: () => this.framesHeld() > 0 || (this.run !== undefined && safeLevel(this.run.appsrc) > 0),
      captureTimeOf: (ptsNs) => this.captures.take(ptsNs, this.originMs + ptsNs / 1e6),
    };
  }

  /** The binding never frees a pipeline: reuse the last one when the description is the same. */
  private pipelineFor(description: string): Pipeline {
    if (this.cached?.description === description) return this.cached.pipeline;
    const pipeline = new Pipeline(description);
    this.cached = { description, pipeline };
    return pipeline;
  }

  // ---- Frames ----------------------------------------------------------------------------

  private layoutFor(f: RawFrame): Layout {
    const c = this.layoutCache;
    if (c && c.width === f.width && c.height === f.height && c.format === f.format) return c;
    return (this.layoutCache = layoutOf(f.format, f.width, f.height));
  }

  private drop(): boolean {
    this.counters.dropped++;
    return false;
  }

  private refuse(): boolean {
    const now = Date.now();
    if (now - this.lastWarn >= WARN_INTERVAL_MS) {
      this.lastWarn = now;
      this.log.warn({ state: this.state }, 'put() called while not streaming: frame dropped (call startStreaming() first)');
    }
    return false;
  }

  /** Frames accepted and not yet handed to the encoder. */
  private framesHeld(): number {
    return this.queue.length + (this.backlog.length - this.backlogHead) + (this.warmup?.frames.length ?? 0);
  }

  private dropBacklog(): number {
    const n = this.backlog.length - this.backlogHead;
    this.backlog = [];
    this.backlogHead = 0;
    return n;
  }

  private ptsFor(ts: number): number {
    if (Number.isNaN(this.originMs)) {
      // PTS 0 is the session's first frame: warmup's first, or the first put() after start.
      this.originMs = ts;
      if (this.session) this.session.originMs = ts;
    }
    // 'frame-rate': the PTS is given when the frame goes to the encoder (n / fps).
    if (this.opts.timestamps === 'frame-rate') return 0;
    let pts = Math.round((ts - this.originMs) * 1e6);
    // Capture times that stand still or go back would make the encoder and muxers reject
    // the stream: keep PTS strictly increasing, 1 ms apart at least.
    if (pts <= this.lastPts) pts = this.lastPts + 1_000_000;
    this.lastPts = pts;
    return pts;
  }

  private keepWarmupFrame(f: RawFrame, layout: Layout, ts: number): boolean {
    const warmup = this.warmup!;
    const slot: Slot = { data: Buffer.allocUnsafeSlow(layout.gstSize), layout, ptsNs: this.ptsFor(ts), captureMs: ts, i420: undefined };
    copyToGst(f.data, layout, slot.data);
    this.counters.accepted++;
    if (warmup.add(slot)) {
      if (warmup.full) {
        this.log.info({ frames: warmup.samples, warmupMemoryBytes: this.opts.warmupMemoryBytes }, 'warmup memory budget reached: fps measured from the frames so far');
      }
      this.finishWarmup(warmup);
    }
    return true;
  }

  /** Opens the session with what warmup measured (`fallbackFps` when it measured nothing yet). */
  private finishWarmup(warmup: Warmup, fallbackFps = Number.NaN): void {
    const first = warmup.frames[0]!.layout;
    const fps = this.wanted.fps ?? warmup.fps(fallbackFps);
    // The warmup frames are streamed first; they stay within warmupMemoryBytes, the queue within queueBytes.
    this.backlog = warmup.take();
    this.backlogHead = 0;
    this.warmup = undefined;
    this.beginOpening(fps, this.wanted.width ?? even(first.width), this.wanted.height ?? even(first.height));
  }

  private enqueue(f: RawFrame, layout: Layout, ts: number, convertNow: boolean): boolean {
    const { slot, evicted } = this.queue.reserve(layout.gstSize, layout);
    if (evicted) this.counters.dropped++;
    const conv = convertNow ? this.queue.converterFor(layout) : undefined;
    if (conv?.owns(slot.data)) slot.i420 = conv.convertInto(f.data, slot.data);
    else {
      slot.i420 = undefined;
      copyToGst(f.data, layout, slot.data);
    }
    slot.layout = layout;
    slot.captureMs = ts;
    slot.ptsNs = this.ptsFor(ts);
    this.queue.commit();
    this.counters.accepted++;
    // putAsync(): the converted frame goes to appsrc now, while it is still in cache (putAsync()
    // then yields to the event loop itself). put() leaves it to the drain, to stay short.
    if (slot.i420 && !this.drainTimer && this.run?.delivering) this.drain();
    else this.scheduleDrain(0);
    return true;
  }

  private scheduleDrain(delayMs: number): void {
    if (this.drainTimer || !this.run?.delivering) return;
    this.drainTimer = delayMs === 0
      ? setImmediate(() => this.drain())
      : setTimeout(() => this.drain(), delayMs);
  }

  /** Moves frames (warmup backlog first, then the queue) into appsrc while it has room. */
  private drain(): void {
    this.drainTimer = undefined;
    const run = this.run;
    if (!run || !run.delivering) return;
    const frameRate = this.opts.timestamps === 'frame-rate';
    for (;;) {
      const fromBacklog = this.backlogHead < this.backlog.length;
      const slot = fromBacklog ? this.backlog[this.backlogHead] : this.queue.peek();
      if (!slot) break;
      if (run.appsrc.level() >= APPSRC_DEPTH) {
        this.scheduleDrain(2);
        break;
      }
      // Packed RGB goes in as I420 converted here: videoconvert takes several times as long
      // for it (no RGB -> YUV fast path in GStreamer 1.22; BENCHMARKS.md, figure 2).
      const i420 = this.queue.converterOf(slot);
      if (slot.layout !== run.caps) {
        // A new size or format: appsrc sends new caps ahead of this buffer and videoscale adapts.
        run.appsrc.caps = i420 ? i420.caps(this.session!.framerate) : rawCaps(slot.layout, this.session!.framerate);
        run.caps = slot.layout;
      }
      const pts = frameRate ? Math.round((this.frameNo * 1e9) / this.session!.fps) : slot.ptsNs;
      if (run.pushed === 0) run.ptsOffset = pts;
      run.appsrc.push(slot.i420 ?? (i420 ? i420.convert(slot.data) : slot.data), pts - run.ptsOffset);
      run.pushed++;
      this.frameNo++;
      this.counters.pushed++;
      this.delivery!.pushed(pts, run.ptsOffset);
      this.captures.add(pts, slot.captureMs);
      if (fromBacklog) {
        this.backlog[this.backlogHead++] = undefined; // its memory goes now
        if (this.backlogHead === this.backlog.length) this.dropBacklog();
      } else {
        this.queue.shift();
      }
      if (this.waiters.length > 0) this.waiters.shift()!();
    }
  }

  private releaseWaiters(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  // ---- Stats -----------------------------------------------------------------------------

  private startStats(): void {
    if (this.statsTimer || this.opts.statsIntervalMs <= 0) return;
    this.counters.lastTick = Date.now();
    this.counters.lastAccepted = this.counters.accepted;
    this.statsTimer = setInterval(() => {
      const now = Date.now();
      const c = this.counters;
      c.fps = ((c.accepted - c.lastAccepted) * 1000) / Math.max(1, now - c.lastTick);
      c.lastAccepted = c.accepted;
      c.lastTick = now;
      if (activeBusWatches() >= threadpoolSize()) {
        this.warnThreadpool();
      }
      this.emitEvent('stats', this.stats());
    }, this.opts.statsIntervalMs);
    this.statsTimer.unref();
  }

  private warnThreadpool(): void {
    if (this.threadpoolWarned) return;
    this.threadpoolWarned = true;
    this.log.warn(
      { pipelines: activeBusWatches(), threadpool: threadpoolSize() },
      'each GStreamer-sink pipeline holds a libuv threadpool thread: set UV_THREADPOOL_SIZE higher before starting node so fs and dns keep working',
    );
  }

  private statsCounts(): Omit<SkyLineStats, 'state'> {
    const c = this.counters;
    const run = this.run;
    const encoded = run && this.delivery ? this.delivery.encoded() : this.settledEncoded;
    return {
      framesAccepted: c.accepted,
      framesDropped: c.dropped,
      framesEncoded: encoded,
      bytesOut: this.builtIn ? this.builtIn.stats().bytesOut : (this.delivery?.bytes() ?? 0),
      measuredFps: Math.round(c.fps * 100) / 100,
      queued: this.framesHeld(),
      destinations: this.fanout.stats(),
    };
  }
}

function safeLevel(appsrc: AppSrc): number {
  try {
    return appsrc.level();
  } catch {
    return 0;
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'an object';
}

function threadpoolSize(): number {
  return Number(process.env.UV_THREADPOOL_SIZE) || 4;
}

function even(n: number): number {
  return n + (n & 1);
}

function isDimension(v: number): boolean {
  return Number.isInteger(v) && v >= 16 && v <= 16384;
}

function resolveValue(
  name: string,
  v: number | null | undefined,
  last: number | undefined,
  valid: (v: number) => boolean,
  expected: string,
): number | null {
  if (v === undefined || v === USE_LAST_VALUE) return last ?? null;
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || !valid(v)) {
    throw new RangeError(`${name} must be ${expected}, null (measure it) or USE_LAST_VALUE, got ${String(v)}`);
  }
  return name === 'fps' ? v : even(v);
}
