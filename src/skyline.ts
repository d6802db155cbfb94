// SkyLine: the lifecycle every destination shares. Frames go put() -> bounded queue ->
// appsrc -> scale/convert -> H.264 encoder -> the destination's tail. Subclasses only say
// where the encoded video goes (sink()); everything else lives here.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { applyEnvironment, type EnvOptions } from './config.js';
import { backoffDelay, sleep, withDefaults, type ReconnectOptions } from './backoff.js';
import { chooseEncoder, validateEncoderSettings, type EncoderName } from './encoder.js';
import { fpsFraction } from './fps.js';
import type { RgbToI420 } from './convert/rgb-to-i420.js';
import { FrameQueue, type Slot } from './frame-queue.js';
import { adaptFrame, checkFrameSize, copyToGst, layoutOf, rawCaps, type FrameInput, type Layout, type RawFrame } from './frame.js';
import { APPSRC_DEPTH, describePipeline, type SinkSpec } from './pipeline-description.js';
import { Warmup } from './warmup.js';
import { activeBusWatches, Pipeline, type AppSrc, type GstError } from './gst/pipeline.js';
import type { AccessUnit } from './h264/access-unit.js';
import { defaultLogger, Redactor, REDACT_PATHS, scrubbing } from './log.js';
import type { DepacketizedUnit } from './rtp/depacketizer.js';
import { RtpStreamReceiver } from './rtp/stream-receiver.js';

/** Pass for fps, width or height to reuse the value of this SkyLine's previous session. */
export const USE_LAST_VALUE = -999;
/** Frames timed during warmup when the frame rate is not given. */
export const FPS_METER_WARMUP_FRAMES = 100;

export type SkyLineState = 'stopped' | 'warmup' | 'streaming' | 'error';

export type { ReconnectOptions } from './backoff.js';
export type { SinkSpec } from './pipeline-description.js';

export interface SkyLineOptions extends EnvOptions {
  /** A pino logger; the SkyLine logs through a child of it. Default: pino to stdout at SKYLINE_LOG_LEVEL or info. */
  logger?: Logger;
  /** Frames timed to measure fps when it is not given. Default FPS_METER_WARMUP_FRAMES (100). */
  warmupFrames?: number;
  /** Memory for frames kept during warmup; reaching it ends warmup early (fps from the frames so far). Default 256 MiB. */
  warmupMemoryBytes?: number;
  /** Memory for the queue between put() and the encoder (at least 2 frames). Default 64 MiB. */
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
  /** Longest wait for the pipeline to drain at stopStreaming(), ms. Default 15000. */
  stopTimeoutMs?: number;
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
  /** Frames dropped this session: queue overflow, warmup budget, or destination unavailable. */
  framesDropped: number;
  /** Frames the encoder has taken (tap destinations: encoded units received). */
  framesEncoded: number;
  /** Bytes handed to the destination. */
  bytesOut: number;
  /** Rate of put() calls over the last stats interval, frames/s. */
  measuredFps: number;
  /** Frames waiting in the queue. */
  queued: number;
}

export interface SkyLineEvents {
  state: [state: SkyLineState, previous: SkyLineState];
  error: [err: Error];
  stats: [stats: SkyLineStats];
  reconnect: [info: { attempt: number; delayMs: number; reason: string }];
}

type Phase = 'stopped' | 'warmup' | 'opening' | 'streaming' | 'recovering' | 'stopping' | 'error';

const PUBLIC_STATE: Record<Phase, SkyLineState> = {
  stopped: 'stopped',
  warmup: 'warmup',
  opening: 'warmup',
  streaming: 'streaming',
  recovering: 'error',
  stopping: 'streaming',
  error: 'error',
};

const START_TIMEOUT_MS = 15_000;
const WARN_INTERVAL_MS = 60_000;
/** Abort reason: stopStreaming() was called while the first connection was being made. */
const STOPPED = Symbol('stopped');

interface Run {
  pipeline: Pipeline;
  appsrc: AppSrc;
  tap: boolean;
  caps: Layout | undefined;
  /** PTS of the first frame this run pushed: each (re)started pipeline counts from 0. */
  ptsOffset: number;
  pushed: number;
  lastPushedPts: number;
  /** Tap destinations: PTS of the last access unit that came back. */
  lastUnitPts: number;
  eos?: () => void;
}

export abstract class SkyLine extends EventEmitter<SkyLineEvents> {
  protected readonly log: Logger;
  protected readonly redactor = new Redactor();
  protected session: SessionInfo | undefined;

  private readonly opts: Required<Omit<SkyLineOptions, 'logger' | keyof EnvOptions | 'reconnect'>> & { reconnect: Required<ReconnectOptions> };
  private phase: Phase = 'stopped';
  private last: { fps?: number; width?: number; height?: number } = {};
  private wanted: { fps: number | null; width: number | null; height: number | null } = { fps: null, width: null, height: null };
  private sessions = 0;
  private closed = false;

  // Warmup
  private warmup: Warmup | undefined;
  private opening: Promise<void> | undefined;

  // Streaming
  private queue = new FrameQueue(2);
  private run: Run | undefined;
  private cached: { description: string; pipeline: Pipeline } | undefined;
  private receiver: RtpStreamReceiver | undefined;
  private receiverPort = 0;
  private delivering = false;
  private originMs = NaN;
  private lastPts = -1;
  private drainTimer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private recovery: AbortController | undefined;
  /** The first connection of a session while destinationReady() waits; stopStreaming() aborts it with STOPPED. */
  private starting: AbortController | undefined;
  /** What state reads while stopping: 'streaming' while flushing, else the state stopping began from. */
  private stoppingShows: SkyLineState = 'streaming';
  private statsTimer: NodeJS.Timeout | undefined;
  private lastWarn = 0;
  private threadpoolWarned = false;
  private readonly scratch: RawFrame = { data: new Uint8Array(0), width: 0, height: 0, format: 'BGR' };
  private layoutCache: Layout | undefined;

  private counters = { accepted: 0, dropped: 0, pushed: 0, encoded: 0, bytes: 0, lastAccepted: 0, lastTick: 0, fps: 0 };

  constructor(options: SkyLineOptions = {}) {
    super();
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
      frameThreads: options.frameThreads ?? false,
      encoder: options.encoder ?? 'auto',
      statsIntervalMs: options.statsIntervalMs ?? 1000,
      stopTimeoutMs: options.stopTimeoutMs ?? 15_000,
      reconnect: withDefaults(options.reconnect),
    };
    validateEncoderSettings(this.opts);
    if (!Number.isInteger(this.opts.warmupFrames) || this.opts.warmupFrames < 2) {
      throw new RangeError(`warmupFrames must be an integer of at least 2, got ${this.opts.warmupFrames}`);
    }
  }

  // ---- What subclasses provide -------------------------------------------------------

  /** Where the encoded video goes for this session. */
  protected abstract sink(session: SessionInfo): SinkSpec | Promise<SinkSpec>;

  /** Tap destinations: one encoded picture, in decode order, on the event loop. */
  protected onAccessUnit(_au: AccessUnit): void {}

  /** Called before the pipeline plays (open files, connections, servers). Throwing fails startStreaming(). */
  protected async openDestination(_session: SessionInfo): Promise<void> {}

  /** Called after the session's pipeline has stopped and everything was delivered. */
  protected async closeDestination(): Promise<void> {}

  /** Set properties that must not appear in a launch string (secrets), after the pipeline is parsed. */
  protected configurePipeline(_pipeline: Pipeline): void {}

  /** True when a GStreamer error of the tail is worth reconnecting after (network sinks). */
  protected retryableSinkError(_err: GstError): boolean {
    return false;
  }

  /**
   * GStreamer tails that connect on their own after the pipeline started (rtmp2sink):
   * resolve once the destination really takes data. Until then no frame is pushed, so
   * the first frame a new connection gets is a keyframe. Rejecting counts as a failed
   * start (retried when retryableSinkError() says so). `signal` aborts when the attempt
   * is over (error, stop). Default: ready as soon as the pipeline plays.
   */
  protected destinationReady(_pipeline: Pipeline, _signal: AbortSignal): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Turns a tail's GStreamer error into one the user can act on (e.g. "the relay refused
   * the publish"). Return `err` itself to keep the default "<element>: <message>" text.
   * Secrets are scrubbed from the result either way.
   */
  protected explainSinkError(err: GstError): GstError {
    return err;
  }

  /** A frame was handed to the encoder (every such frame is encoded). */
  protected onFramePushed(_captureMs: number, _ptsNs: number): void {}

  /** Bytes delivered so far this session; default: encoded bytes received by a tap. */
  protected bytesDelivered(): number {
    return this.counters.bytes;
  }

  // ---- Public API --------------------------------------------------------------------

  get state(): SkyLineState {
    return this.phase === 'stopping' ? this.stoppingShows : PUBLIC_STATE[this.phase];
  }

  get videoFps(): number | undefined {
    return this.session?.fps ?? this.last.fps;
  }

  get videoWidth(): number | undefined {
    return this.session?.width ?? this.last.width;
  }

  /** The gst-launch description of the current (or last) session's pipeline, for logs and bug reports. */
  get pipelineDescription(): string | undefined {
    return this.cached && this.redactor.scrub(this.cached.description);
  }

  get videoHeight(): number | undefined {
    return this.session?.height ?? this.last.height;
  }

  /**
   * Starts a session. fps, width and height default to USE_LAST_VALUE (the previous
   * session's); null (or no previous value) measures them during warmup. Resolves when
   * put() may be called; called while streaming, it restarts the session.
   */
  async startStreaming(options: StartOptions = {}): Promise<void> {
    if (this.closed) throw new Error('this SkyLine is closed');
    if (this.phase !== 'stopped' && this.phase !== 'error') await this.stopStreaming();
    if (this.phase === 'error') await this.teardown();
    this.wanted = {
      fps: resolveValue('fps', options.fps, this.last.fps, (v) => v > 0 && v <= 1000, 'a number of frames per second in (0, 1000]'),
      width: resolveValue('width', options.width, this.last.width, isDimension, 'an integer from 16 to 16384'),
      height: resolveValue('height', options.height, this.last.height, isDimension, 'an integer from 16 to 16384'),
    };
    this.resetSession();
    const { fps, width, height } = this.wanted;
    if (fps !== null && width !== null && height !== null) {
      this.setPhase('opening');
      this.opening = this.open(fps, width, height);
      await this.opening;
    } else {
      this.warmup = new Warmup(fps === null, this.opts.warmupFrames, this.opts.warmupMemoryBytes);
      this.setPhase('warmup');
      this.log.info({ fps, width, height, warmupFrames: this.warmup.target }, 'warming up: measuring the stream from the first frames');
    }
  }

  /**
   * Queues a frame. Returns true when accepted, false when dropped (not streaming, the
   * destination unavailable). Never blocks; throws TypeError/RangeError for a bad frame.
   */
  put(frame: FrameInput, options?: PutOptions): boolean {
    const f = adaptFrame(frame, this.scratch);
    const layout = this.layoutFor(f);
    checkFrameSize(f, layout);
    const ts = options?.timestamp ?? Date.now();
    if (typeof ts !== 'number' || !Number.isFinite(ts)) {
      throw new TypeError(`timestamp must be epoch milliseconds (a finite number), got ${String(ts)}`);
    }
    switch (this.phase) {
      case 'opening':
        // Once the queue holds the warmup backlog, later frames line up behind it.
        if (this.run) return this.enqueue(f, layout, ts);
        return this.keepWarmupFrame(f, layout, ts);
      case 'warmup':
        return this.keepWarmupFrame(f, layout, ts);
      case 'streaming':
        if (!this.delivering) return this.drop();
        return this.enqueue(f, layout, ts);
      case 'recovering':
        return this.drop();
      default:
        this.warnNotStreaming();
        return false;
    }
  }

  /**
   * Like put(), but waits for room in the queue instead of dropping (offline work).
   * Resolves true once accepted, false when the SkyLine is not streaming.
   */
  async putAsync(frame: FrameInput, options?: PutOptions): Promise<boolean> {
    const ts = options?.timestamp ?? Date.now();
    for (;;) {
      // Wait for room, or for the destination to take data again (reconnects).
      const blocked = this.phase === 'recovering' ||
        (this.phase === 'streaming' && (!this.delivering || this.queue.length >= this.queue.limit));
      if (blocked) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      if (this.phase === 'opening') {
        await this.opening;
        continue;
      }
      if (this.phase !== 'streaming' && this.phase !== 'warmup') {
        adaptFrame(frame, this.scratch); // still report bad input
        return false;
      }
      return this.put(frame, { timestamp: ts });
    }
  }

  /** Encodes and delivers everything accepted so far, then stops the pipeline. */
  async stopStreaming(): Promise<void> {
    if (this.phase === 'stopped' || this.phase === 'stopping') return;
    if (this.phase === 'error') {
      await this.teardown();
      this.setPhase('stopped');
      return;
    }
    this.recovery?.abort();
    // A first connection still being made (destinationReady) is given up, not waited for.
    if (this.phase === 'opening') this.starting?.abort(STOPPED);
    if (this.phase === 'warmup' && this.warmup && this.warmup.frames.length > 0) {
      // Frames accepted during warmup are not thrown away: open with what was measured.
      this.finishWarmup(this.warmup, 30);
    }
    if (this.opening) await this.opening.catch(() => undefined);
    const phase = this.phase as Phase; // may have changed while opening
    if (phase === 'error' || phase === 'stopped') {
      await this.teardown();
      this.setPhase('stopped');
      return;
    }
    const wasStreaming = this.phase === 'streaming';
    // Only a streaming session shows 'streaming' while it flushes; one that was still
    // connecting or reconnecting keeps showing what it was until 'stopped'.
    this.stoppingShows = wasStreaming ? 'streaming' : this.state;
    this.setPhase('stopping');
    try {
      if (wasStreaming && this.run) await this.finishRun(this.run);
    } catch (err) {
      this.log.warn({ err: this.redactor.scrub((err as Error).message) }, 'stopping did not finish cleanly');
    }
    await this.teardown();
    this.setPhase('stopped');
    this.log.info({ ...this.statsCounts() }, 'stopped');
  }

  /** Stops streaming and releases servers and sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.stopStreaming();
    this.closed = true;
    await this.receiver?.close();
    this.receiver = undefined;
    this.cached = undefined;
  }

  stats(): SkyLineStats {
    return { state: this.state, ...this.statsCounts() };
  }

  // ---- For subclasses ------------------------------------------------------------------

  /** Asks the encoder for a keyframe now (late RTSP joiners, new connections). */
  protected requestKeyframe(): void {
    this.run?.pipeline.forceKeyUnit('parse');
  }

  /** Reports an error: 'error' event (when someone listens) and the log, secrets scrubbed. */
  protected reportError(err: Error): void {
    const clean = this.redactor.scrubError(err);
    this.log.error({ err: { message: clean.message, name: clean.name } }, clean.message);
    if (this.listenerCount('error') > 0) this.emit('error', clean);
  }

  /** Fails the session: error reported, pipeline stopped, state 'error'. */
  protected fail(err: Error): void {
    if (this.phase === 'error' || this.phase === 'stopped') return;
    this.reportError(err);
    this.delivering = false;
    this.recovery?.abort();
    this.stopRun();
    this.counters.dropped += this.queue.clear();
    this.releaseWaiters();
    this.setPhase('error');
  }

  /** Whether frames currently reach the destination; while false, put() drops and counts. */
  protected setDelivering(on: boolean): void {
    this.delivering = on;
    if (on) {
      this.scheduleDrain(0);
      this.releaseWaiters();
    }
  }

  // ---- Internals -------------------------------------------------------------------------

  private setPhase(next: Phase): void {
    const before = this.state;
    this.phase = next;
    const after = this.state;
    if (before !== after) {
      this.log.info({ from: before, to: after }, `state ${after}`);
      this.emit('state', after, before);
    }
  }

  private resetSession(): void {
    this.counters = { accepted: 0, dropped: 0, pushed: 0, encoded: 0, bytes: 0, lastAccepted: 0, lastTick: Date.now(), fps: 0 };
    this.warmup = undefined;
    this.originMs = NaN;
    this.lastPts = -1;
    this.session = undefined;
    this.opening = undefined;
  }

  private layoutFor(f: RawFrame): Layout {
    const c = this.layoutCache;
    if (c && c.width === f.width && c.height === f.height && c.format === f.format) return c;
    return (this.layoutCache = layoutOf(f.format, f.width, f.height));
  }

  private drop(): boolean {
    this.counters.dropped++;
    return false;
  }

  private warnNotStreaming(): void {
    const now = Date.now();
    if (now - this.lastWarn >= WARN_INTERVAL_MS) {
      this.lastWarn = now;
      this.log.warn({ state: this.state }, 'put() called while not streaming: frame dropped (call startStreaming() first)');
    }
  }

  private ptsFor(ts: number): number {
    if (Number.isNaN(this.originMs)) {
      // PTS 0 is the session's first frame: warmup's first, or the first put() after start.
      this.originMs = ts;
      if (this.session) this.session.originMs = ts;
    }
    let pts = Math.round((ts - this.originMs) * 1e6);
    // Capture times that stand still or go back would make the encoder and muxers reject
    // the stream: keep PTS strictly increasing, 1 ms apart at least.
    if (pts <= this.lastPts) pts = this.lastPts + 1_000_000;
    this.lastPts = pts;
    return pts;
  }

  private keepWarmupFrame(f: RawFrame, layout: Layout, ts: number): boolean {
    const warmup = this.warmup!;
    const slot: Slot = { data: Buffer.allocUnsafeSlow(layout.gstSize), layout, ptsNs: this.ptsFor(ts), captureMs: ts };
    copyToGst(f.data, layout, slot.data);
    this.counters.accepted++;
    if (warmup.add(slot) && this.phase === 'warmup') {
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
    this.setPhase('opening');
    this.opening = this.open(fps, this.wanted.width ?? even(first.width), this.wanted.height ?? even(first.height)).catch(() => undefined);
  }

  private enqueue(f: RawFrame, layout: Layout, ts: number): boolean {
    const { slot, evicted } = this.queue.reserve(layout.gstSize, layout);
    if (evicted) this.counters.dropped++;
    copyToGst(f.data, layout, slot.data);
    slot.layout = layout;
    slot.captureMs = ts;
    slot.ptsNs = this.ptsFor(ts);
    this.queue.commit();
    this.counters.accepted++;
    this.scheduleDrain(0);
    return true;
  }

  private scheduleDrain(delayMs: number): void {
    if (this.drainTimer) return;
    this.drainTimer = delayMs === 0
      ? setImmediate(() => this.drain())
      : setTimeout(() => this.drain(), delayMs);
  }

  /** Moves frames from the queue into appsrc while it has room; polls again shortly when full. */
  private drain(): void {
    this.drainTimer = undefined;
    const run = this.run;
    if (!run || !this.delivering) return;
    while (this.queue.length > 0) {
      if (run.appsrc.level() >= APPSRC_DEPTH) {
        this.scheduleDrain(2);
        break;
      }
      const slot = this.queue.peek()!;
      // Packed RGB goes in as I420 converted here: videoconvert takes several times as long
      // for it (no RGB -> YUV fast path in GStreamer 1.22; BENCHMARKS.md, figure 2).
      const i420 = this.converterFor(slot.layout);
      if (slot.layout !== run.caps) {
        // A new size or format: appsrc sends new caps ahead of this buffer and videoscale adapts.
        run.appsrc.caps = i420 ? i420.caps(this.session!.framerate) : rawCaps(slot.layout, this.session!.framerate);
        run.caps = slot.layout;
      }
      if (run.pushed === 0) run.ptsOffset = slot.ptsNs;
      run.appsrc.push(i420 ? i420.convert(slot.data) : slot.data, slot.ptsNs - run.ptsOffset);
      run.pushed++;
      this.counters.pushed++;
      run.lastPushedPts = slot.ptsNs;
      this.onFramePushed(slot.captureMs, slot.ptsNs);
      this.queue.shift();
      if (this.waiters.length > 0) this.waiters.shift()!();
    }
  }

  private converterFor(layout: Layout): RgbToI420 | undefined {
    // The queue's: its slots live in the converter's memory (one copy fewer per frame).
    return this.queue.converterFor(layout);
  }

  private releaseWaiters(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  private async open(fps: number, width: number, height: number): Promise<void> {
    this.starting = undefined;
    try {
      const encoder = await chooseEncoder(this.opts.encoder, this.opts);
      const session: SessionInfo = { fps, width, height, framerate: fpsFraction(fps), originMs: this.originMs, index: ++this.sessions, encoder };
      this.session = session;
      this.last = { fps, width, height };
      const spec = await this.sink(session);
      let tapPort = 0;
      if (spec.kind === 'tap') tapPort = await this.ensureReceiver();
      await this.openDestination(session);
      const description = describePipeline(session, this.opts, spec, tapPort);
      const pipeline = this.pipelineFor(description);
      this.configurePipeline(pipeline);
      const appsrc = pipeline.appsrc('src');
      // Room for the warmup backlog on top of the live queue: warmup frames are kept.
      const frameBytes = layoutOf('I420', width, height).gstSize * 2;
      const backlog = this.warmup?.take() ?? [];
      this.queue.limit = Math.max(2, Math.floor(this.opts.queueBytes / frameBytes)) + backlog.length;
      this.queue.clear();
      for (const slot of backlog) this.queue.adopt(slot);
      this.run = { pipeline, appsrc, tap: spec.kind === 'tap', caps: undefined, ptsOffset: 0, pushed: 0, lastPushedPts: -1, lastUnitPts: -1 };
      this.log.info(
        { fps, framerate: session.framerate, width, height, encoder, destination: this.redactor.scrub(spec.kind === 'gst' ? spec.launch : 'node') },
        'opening session',
      );
      if (await this.playRun(this.run)) this.setPhase('streaming');
      this.startStats();
      this.scheduleDrain(0);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      if (this.phase === 'recovering' || this.phase === 'stopping') return; // a retry loop owns it now
      if (this.firstConnectionAbandoned()) return; // stopStreaming() gave up the first connection
      this.fail(e);
      throw this.redactor.scrubError(e);
    }
  }

  /** The binding never frees a pipeline: reuse the last one when the description is the same. */
  private pipelineFor(description: string): Pipeline {
    if (this.cached?.description === description) return this.cached.pipeline;
    const pipeline = new Pipeline(description);
    this.cached = { description, pipeline };
    return pipeline;
  }

  private async ensureReceiver(): Promise<number> {
    if (!this.receiver) {
      this.receiver = new RtpStreamReceiver();
      this.receiver.on('unit', (u) => this.onUnit(u));
      this.receiver.on('disconnect', () => {
        if (this.phase === 'streaming' && this.run?.tap) this.fail(new Error('the encoder pipeline closed its output unexpectedly'));
      });
      this.receiverPort = await this.receiver.listen();
    }
    return this.receiverPort;
  }

  private onUnit(u: DepacketizedUnit): void {
    const run = this.run;
    const session = this.session;
    if (!run || !session) return;
    const ptsNs = Math.round((u.timestamp * 1e9) / 90000) + run.ptsOffset;
    let bytes = 0;
    for (const n of u.nalus) bytes += n.length;
    this.counters.encoded++;
    this.counters.bytes += bytes;
    run.lastUnitPts = ptsNs;
    try {
      this.onAccessUnit({ nalus: u.nalus, ptsNs, captureMs: session.originMs + ptsNs / 1e6, keyframe: u.keyframe });
    } catch (err) {
      // A destination that throws fails the session with its own message.
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (run.eos && this.allUnitsBack(run)) run.eos();
  }

  /** Plays the run's pipeline; resolves when it is PLAYING (tap: when its output connected). */
  private playRun(run: Run): Promise<boolean> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => settle(new Error(`the pipeline did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      const ready = new AbortController();
      this.starting = ready;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ready.abort();
        if (err) {
          run.pipeline.stop();
          reject(err);
        } else {
          this.delivering = true;
          resolve();
        }
      };
      if (run.tap) {
        this.receiver!.once('connect', () => settle());
        run.pipeline.play();
        return;
      }
      run.pipeline.play({
        // Started (PAUSED, then PLAYING: act once) is not yet delivering: ask the subclass.
        onStarted: onceFn(() => this.destinationReady(run.pipeline, ready.signal).then(() => settle(), (e: Error) => settle(e))),
        onEos: () => run.eos?.(),
        onError: (err) => {
          if (!settled) settle(this.describeGstError(err));
          else this.onRunError(run, err);
        },
      });
    }).then(
      () => true,
      (err: Error) => {
        if (!run.tap && this.retryableSinkError(err as GstError) && !this.firstConnectionAbandoned()) {
          // The destination is down: keep the session and retry in the background.
          void this.recover(run, err);
          return false;
        }
        throw err;
      },
    );
  }

  private describeGstError(err: GstError): GstError {
    const explained = this.explainSinkError(err);
    if (explained !== err) {
      explained.message = this.redactor.scrub(explained.message);
      if (explained.debug) (explained as { debug?: string }).debug = this.redactor.scrub(explained.debug);
      return explained;
    }
    err.message = this.redactor.scrub(`${err.element}: ${err.message}`);
    if (err.debug) (err as { debug?: string }).debug = this.redactor.scrub(err.debug);
    return err;
  }

  private firstConnectionAbandoned(): boolean {
    return this.starting?.signal.reason === STOPPED;
  }

  private onRunError(run: Run, err: GstError): void {
    if (run !== this.run || this.phase === 'stopped' || this.phase === 'error') return;
    if (this.phase === 'recovering') return;
    // The destination failed while stopStreaming() waits for EOS: there is nothing more to wait for.
    if (this.phase === 'stopping') {
      run.eos?.();
      return;
    }
    if (this.retryableSinkError(err)) void this.recover(run, this.describeGstError(err));
    else this.fail(this.describeGstError(err));
  }

  /** Restarts the pipeline with capped exponential backoff until it plays or the session ends. */
  private async recover(run: Run, first: Error): Promise<void> {
    if (this.phase === 'recovering') return;
    const controller = new AbortController();
    this.recovery = controller;
    this.delivering = false;
    this.setPhase('recovering');
    this.counters.dropped += this.queue.clear();
    this.releaseWaiters();
    let reason: Error = first;
    for (let attempt = 1; !controller.signal.aborted; attempt++) {
      this.reportError(reason);
      run.pipeline.stop();
      const delayMs = backoffDelay(attempt, this.opts.reconnect);
      this.emit('reconnect', { attempt, delayMs, reason: reason.message });
      this.log.info({ attempt, delayMs }, 'reconnecting');
      await sleep(delayMs, controller.signal);
      if (controller.signal.aborted) return;
      run.pushed = 0;
      run.caps = undefined;
      try {
        // The attempt ends at the first of: destination ready, error, timeout, stop. The
        // timer is cleared and destinationReady() aborted so nothing outlives a stop.
        const attemptDone = new AbortController();
        const onAbort = () => attemptDone.abort();
        controller.signal.addEventListener('abort', onAbort, { once: true });
        try {
          await new Promise<void>((resolve, reject) => {
            attemptDone.signal.addEventListener('abort', () => reject(new Error('stopped while reconnecting')), { once: true });
            run.pipeline.play({
              onStarted: onceFn(() => this.destinationReady(run.pipeline, attemptDone.signal).then(resolve, reject)),
              onEos: () => run.eos?.(),
              onError: (err) => {
                reject(this.describeGstError(err));
                if (this.phase === 'streaming') this.onRunError(run, err);
              },
            });
            const timer = setTimeout(() => reject(new Error(`reconnect attempt ${attempt} did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
            attemptDone.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
          });
        } finally {
          controller.signal.removeEventListener('abort', onAbort);
          attemptDone.abort();
        }
      } catch (err) {
        reason = err as Error;
        if (!this.retryableSinkError(err as GstError) && (err as GstError).element !== undefined) {
          this.recovery = undefined;
          this.fail(reason);
          return;
        }
        continue;
      }
      if (controller.signal.aborted) return;
      this.recovery = undefined;
      this.delivering = true;
      this.setPhase('streaming');
      this.log.info({ attempt }, 'reconnected');
      this.releaseWaiters();
      return;
    }
  }

  /** Flushes the queue into the pipeline, sends EOS and waits until it went out. */
  private async finishRun(run: Run): Promise<void> {
    const deadline = Date.now() + this.opts.stopTimeoutMs;
    const pause = () => new Promise((r) => setTimeout(r, 5));
    while ((this.queue.length > 0 || run.appsrc.level() > 0) && Date.now() < deadline && this.delivering) {
      this.drain();
      await pause();
    }
    if (!this.delivering) return;
    // Nothing pushed, nothing to flush: an EOS through a pipeline that never saw caps may
    // never come out of the muxer (flvmux), and would cost the whole stop timeout.
    if (run.pushed === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ timeoutMs: this.opts.stopTimeoutMs }, 'the pipeline did not finish in time; stopping it anyway');
        resolve();
      }, Math.max(1000, deadline - Date.now()));
      run.eos = () => {
        clearTimeout(timer);
        resolve();
      };
      // A tap may already have every unit back (the encoder is quicker than the drain wait).
      if (run.tap && this.allUnitsBack(run)) run.eos();
      else run.pipeline.sendEos();
    });
  }

  /** 90 kHz RTP rounding: the last unit is within one tick of the last pushed PTS. */
  private allUnitsBack(run: Run): boolean {
    return run.pushed > 0 && run.lastUnitPts >= run.lastPushedPts - 20_000;
  }

  private stopRun(): void {
    if (this.drainTimer) {
      clearImmediate(this.drainTimer as NodeJS.Immediate);
      clearTimeout(this.drainTimer as NodeJS.Timeout);
      this.drainTimer = undefined;
    }
    if (this.run && !this.run.tap) this.counters.encoded = this.counters.pushed;
    this.run?.pipeline.stop();
    this.run = undefined;
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
  }

  private async teardown(): Promise<void> {
    this.recovery?.abort();
    this.recovery = undefined;
    this.stopRun();
    this.delivering = false;
    this.counters.dropped += this.queue.clear();
    this.releaseWaiters();
    try {
      await this.closeDestination();
    } catch (err) {
      this.reportError(err as Error);
    }
  }

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
      this.emit('stats', this.stats());
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
    // GStreamer tails: every frame appsrc has passed on is encoded (settled in stopRun());
    // taps count the units that came back.
    const encoded = run && !run.tap ? Math.max(0, c.pushed - safeLevel(run.appsrc)) : c.encoded;
    return {
      framesAccepted: c.accepted,
      framesDropped: c.dropped,
      framesEncoded: encoded,
      bytesOut: this.bytesDelivered(),
      measuredFps: Math.round(c.fps * 100) / 100,
      queued: this.queue.length + (this.warmup?.frames.length ?? 0),
    };
  }
}

/** Calls fn the first time only (bus handlers may report "started" for PAUSED and for PLAYING). */
function onceFn(fn: () => unknown): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

function safeLevel(appsrc: AppSrc): number {
  try {
    return appsrc.level();
  } catch {
    return 0;
  }
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
  if (typeof v !== 'number' || !valid(v)) {
    throw new RangeError(`${name} must be ${expected}, null (measure it) or USE_LAST_VALUE, got ${String(v)}`);
  }
  return name === 'fps' ? v : even(v);
}
