// SkyLine: the public base class. Frames go put() -> warmup or bounded queue -> appsrc ->
// scale/convert -> H.264 encoder -> the tap back into Node -> the fanout to every destination.
// This class holds the lifecycle commands (start, stop, close), put()/putAsync(), attach/detach
// and stats; the parts live in modules of their own: options and their defaults
// (skyline/options.ts), the per-session state (skyline/session.ts), the encoder pipeline and its
// tap (skyline/encoder-run.ts), the states and command chain (lifecycle.ts), the queue
// (frame-queue.ts), warmup (warmup.ts) and the destinations (destinations/).
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { aborted, deadline } from './abort.js';
import { applyEnvironment } from './config.js';
import { describeValue, isDestination, type Destination } from './destinations/destination.js';
import { Fanout, type AttachOptions } from './destinations/fanout.js';
import { chooseEncoder } from './encoder.js';
import { fpsFraction } from './fps.js';
import { FrameQueue } from './frame-queue.js';
import { FrameReader, layoutOf, type FrameInput } from './frame.js';
import { CommandChain, Lifecycle, type SkyLineState } from './lifecycle.js';
import { defaultLogger, Redactor, REDACT_PATHS, scrubbing } from './log.js';
import { Warmup } from './warmup.js';
import { BuiltIn } from './skyline/built-in.js';
import { EncoderRun, PipelineCache, type RunHost } from './skyline/encoder-run.js';
import { resolveOptions, wantedFor, type BuiltInParts, type PutOptions, type ResolvedOptions, type SessionInfo, type SkyLineEvents, type SkyLineOptions, type SkyLineStats, type StartOptions } from './skyline/options.js';
import { FAILED, Session, STOPPED, type SessionCounts } from './skyline/session.js';
import { NO_COUNTS, statsCounts, StatsTicker } from './skyline/stats.js';

// The module other files import SkyLine and its types from.
export { USE_LAST_VALUE, FPS_METER_WARMUP_FRAMES } from './skyline/options.js';
export type { BuiltInParts, PutOptions, ReconnectInfo, SessionInfo, SkyLineEvents, SkyLineOptions, SkyLineStats, StartOptions, TimestampMode } from './skyline/options.js';
export type { SkyLineState } from './lifecycle.js';
export type { ReconnectOptions } from './backoff.js';

/**
 * Frames putAsync() lets wait in the queue before it waits itself (at most the queue's limit).
 * Enough to keep appsrc fed; more only lets the frame being converted go cold: the drain then
 * reads it from memory instead of cache, long after put() copied it.
 */
const PUT_ASYNC_DEPTH = 2;
const WARN_INTERVAL_MS = 60_000;

/**
 * `Events` is the subclass's event map (its error type, stats type, extra events), so listeners
 * are typed for the class at hand: `rtmp.on('error', (err) => err.code)` compiles under strict tsc.
 */
export abstract class SkyLine<Events extends SkyLineEvents & Record<keyof Events, unknown[]> = SkyLineEvents> extends EventEmitter<Events> {
  private readonly log: Logger;
  private readonly redactor = new Redactor();
  private readonly opts: ResolvedOptions;
  private readonly fanout: Fanout;
  private readonly lifecycle = new Lifecycle((next, previous) => this.changed(next, previous));
  private readonly commands = new CommandChain();
  private readonly pipelines = new PipelineCache();
  /** Between put() and the encoder; kept across sessions (its converter's memory), released by close(). */
  private readonly queue = new FrameQueue(2);
  private readonly runHost: RunHost;
  private readonly ticker: StatsTicker;
  private last: { fps?: number; width?: number; height?: number } = {};
  private sessions = 0;

  /** From startStreaming() to the stop that ends it. */
  private session: Session | undefined;
  /** What the last session counted, for stats() once it ended. */
  private ended: SessionCounts = NO_COUNTS;

  // Commands in progress
  private stopping: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** stopStreaming() or close() was called: put() takes no more frames until a new start. */
  private stopRequested = false;

  /** putAsync() callers waiting for room, or for the destination to take data again. */
  private waiters: Array<() => void> = [];
  private lastWarn = 0;
  private readonly frames = new FrameReader();

  /** The subclass's own destination (FileSkyLine's file, RtmpSkyLine's relay): its state is the session's. */
  private readonly builtIn: BuiltIn | undefined;

  constructor(options: SkyLineOptions = {}, parts: BuiltInParts = {}) {
    super();
    const late = applyEnvironment(options);
    for (const s of parts.secrets ?? []) {
      if (typeof s === 'object') this.redactor.add(s[0], s[1]);
      else this.redactor.add(s);
    }
    this.log = scrubbing(
      (options.logger ?? defaultLogger()).child({ component: 'gst-skyline', skyline: new.target.name }, { redact: REDACT_PATHS }),
      this.redactor,
    );
    if (late.length > 0) {
      this.log.warn({ settings: late }, 'GStreamer was already started in this process: these settings apply from the next process on');
    }
    this.opts = resolveOptions(options);
    this.ticker = new StatsTicker(this.opts.statsIntervalMs, this.log, () => this.emitEvent('stats', this.stats()));
    this.fanout = new Fanout({
      history: { ms: this.opts.historyMs, bytes: this.opts.historyBytes },
      backlog: { ms: this.opts.backlogMs, bytes: this.opts.backlogBytes },
      log: this.log,
      redactor: this.redactor,
      requestKeyframe: () => this.session?.run?.requestKeyframe(),
      keyframeGapMs: this.opts.keyframeGapMs,
      error: (err) => this.reportError(this.builtIn ? this.builtIn.own(err) : err),
      state: (d, next, previous) => {
        this.emitEvent('destination', d.name, next, previous);
        // After the current turn: a destination may report why it failed just after saying it did.
        if (d === this.builtIn?.destination) queueMicrotask(() => this.builtIn!.follow());
      },
    });
    this.runHost = {
      queue: this.queue,
      log: this.log,
      unit: (au) => this.fanout.write(au),
      took: () => {
        if (this.waiters.length > 0) this.waiters.shift()!();
      },
      retrying: (info) => {
        this.reportError(info.reason);
        this.emitEvent('reconnect', { attempt: info.attempt, delayMs: info.delayMs, reason: info.reason.message });
      },
      delivering: () => {
        this.lifecycle.to('streaming');
        this.builtIn?.follow();
      },
      fail: (err) => this.fail(err),
      lifecycle: this.lifecycle,
    };
    const builtIn = parts.destination;
    if (builtIn) {
      this.builtIn = new BuiltIn(builtIn, {
        lifecycle: this.lifecycle,
        run: () => this.session?.run,
        dropQueued: () => (this.session!.dropped += this.queue.clear()),
        fail: (err, reported) => this.fail(err, reported),
      });
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
    return this.session?.info?.fps ?? this.last.fps;
  }

  get videoWidth(): number | undefined {
    return this.session?.info?.width ?? this.last.width;
  }

  get videoHeight(): number | undefined {
    return this.session?.info?.height ?? this.last.height;
  }

  /** The gst-launch description of the current (or last) session's pipeline, for logs and bug reports. */
  get pipelineDescription(): string | undefined {
    const d = this.pipelines.description;
    return d && this.redactor.scrub(d);
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
      const wanted = wantedFor(options, this.last);
      const session = new Session(wanted, this.opts.timestamps === 'frame-rate');
      this.session = session;
      this.stopRequested = false;
      this.queue.clear();
      this.fanout.begin();
      const { fps, width, height } = wanted;
      if (fps !== null && width !== null && height !== null) {
        this.beginOpening(session, fps, width, height);
        // A stop gives up on a destination that takes too long to open (its deadline aborts the session).
        await Promise.race([session.opening, aborted(session.signal)]);
        if (this.lifecycle.is('error')) throw session.failure!;
      } else {
        session.warmup = new Warmup(fps === null, this.opts.warmupFrames, this.opts.warmupMemoryBytes);
        this.lifecycle.to('warmup');
        try {
          // Servers bind now, so their URLs are final when this resolves; a file is checked, so
          // no frame is accepted for one that cannot be written.
          await this.fanout.prepare();
        } catch (err) {
          this.fail(err as Error);
          await session.releasing;
          throw session.failure;
        }
        this.log.info({ fps, width, height, warmupFrames: session.warmup.target }, 'warming up: measuring the stream from the first frames');
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
      this.frames.check(frame); // still report bad input
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
    const session = this.session;
    if (session && !this.lifecycle.is('streaming') && session.framesHeld(this.queue) === 0) session.abort.abort(STOPPED);
    d.signal.addEventListener('abort', () => this.session?.abort.abort(STOPPED), { once: true });
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
      this.pipelines.clear();
      this.queue.release();
      if (!this.lifecycle.is('closed')) this.lifecycle.to('closed');
    });
    return this.closing;
  }

  stats(): SkyLineStats {
    return { state: this.state, ...statsCounts(this.session, this.ended, this.queue, this.builtIn?.destination, this.fanout) };
  }

  /**
   * Adds a destination. While streaming it opens at once, starting at the next keyframe, or
   * with `preRollMs` at the keyframe at or before now − preRollMs from the encoded history;
   * resolves once it takes video (during warmup: once the session has opened). While stopped,
   * it is kept and opened with the next session. Rejects when it cannot open.
   */
  attach(destination: Destination, options?: AttachOptions): Promise<void> {
    if (this.closing || this.lifecycle.is('closed')) return Promise.reject(new Error('this SkyLine is closed'));
    if (!isDestination(destination)) return Promise.reject(new TypeError(`attach() takes a destination (FileDestination, RtspDestination, ...), got ${describeValue(destination)}`));
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

  // ---- Frames (the hot path: no closure or object per frame) ----------------------------

  /** put() and putAsync(): `convertNow` converts packed RGB to I420 at once, while the frame is in cache. */
  private accept(frame: FrameInput, options: PutOptions | undefined, convertNow: boolean): boolean {
    const f = this.frames.read(frame);
    const layout = this.frames.layout!;
    const ts = options?.timestamp ?? Date.now();
    if (typeof ts !== 'number' || !Number.isFinite(ts)) {
      throw new TypeError(`timestamp must be epoch milliseconds (a finite number), got ${String(ts)}`);
    }
    if (this.stopRequested) return this.refuse();
    switch (this.lifecycle.state) {
      case 'warmup':
        if (this.session!.keepForWarmup(f, layout, ts)) this.warmedUp(this.session!);
        return true;
      case 'opening':
      case 'streaming':
        this.session!.enqueue(this.queue, f, layout, ts, convertNow);
        return true;
      case 'reconnecting':
        this.session!.dropped++;
        return false;
      default:
        return this.refuse();
    }
  }

  private refuse(): boolean {
    const now = Date.now();
    if (now - this.lastWarn >= WARN_INTERVAL_MS) {
      this.lastWarn = now;
      this.log.warn({ state: this.state }, 'put() called while not streaming: frame dropped (call startStreaming() first)');
    }
    return false;
  }

  /** Warmup measured enough (or filled its memory): the session opens. */
  private warmedUp(session: Session): void {
    const warmup = session.warmup!;
    if (warmup.full) {
      this.log.info({ frames: warmup.samples, warmupMemoryBytes: this.opts.warmupMemoryBytes }, 'warmup memory budget reached: fps measured from the frames so far');
    }
    const { fps, width, height } = session.endWarmup();
    this.beginOpening(session, fps, width, height);
  }

  private releaseWaiters(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  // ---- The session ---------------------------------------------------------------------

  /** Sizes the queue for the session (queueBytes, never more, its converter included) and opens it. */
  private beginOpening(session: Session, fps: number, width: number, height: number): void {
    const frameBytes = layoutOf('I420', width, height).gstSize * 2;
    this.queue.limit = FrameQueue.limitFor(this.opts.queueBytes, frameBytes);
    this.lifecycle.to('opening');
    session.opening = this.open(session, fps, width, height).catch(() => undefined);
  }

  /** Opens the session: destinations, pipeline, first connection. Resolves once streaming or reconnecting. */
  private async open(session: Session, fps: number, width: number, height: number): Promise<void> {
    const signal = session.signal;
    try {
      const encoder = await chooseEncoder(this.opts.encoder, this.opts);
      if (signal.aborted) return;
      const info: SessionInfo = { fps, width, height, framerate: fpsFraction(fps), originMs: session.origin, index: ++this.sessions, encoder };
      session.info = info;
      this.last = { fps, width, height };
      // A stop gives up on destinations still opening (a control plane that does not answer):
      // the fanout's end() closes them, which cancels what they wait on.
      await Promise.race([this.fanout.start({ width, height, fps, framerate: info.framerate }), aborted(signal)]);
      if (signal.aborted) return;
      // x264 frame threads (throughput) only when nobody watches live: they add frames of latency.
      const frameThreads = this.opts.frameThreads ?? (this.fanout.destinations.length > 0 && !this.fanout.live);
      const pipeline = this.pipelines.for(info, { ...this.opts, frameThreads });
      const run = new EncoderRun(pipeline, session, this.runHost, { reconnect: this.opts.reconnect, frameRate: this.opts.timestamps === 'frame-rate' });
      session.run = run;
      this.log.info({ fps, framerate: info.framerate, width, height, encoder, destination: 'node' }, 'opening session');
      this.ticker.start(session);
      await run.connect();
    } catch (err) {
      if (signal.aborted) return; // stopped or failed meanwhile: the stop (or failure) cleans up
      this.fail(err instanceof Error ? err : new Error(String(err)));
      // A failed start gives back everything it took before it reports.
      await session.releasing;
      throw session.failure;
    }
  }

  /** The stop command: delivers what was accepted (by the deadline), then releases the session. */
  private async stopSession(signal: AbortSignal): Promise<void> {
    const session = this.session;
    if (this.lifecycle.is('stopped', 'closed') || !session) {
      this.stopRequested = false;
      return;
    }
    const warmup = session.warmup;
    if (this.lifecycle.is('warmup') && warmup && warmup.frames.length > 0) {
      // Frames accepted during warmup are not thrown away: open with what was measured.
      const { fps, width, height } = session.endWarmup(30);
      this.beginOpening(session, fps, width, height);
    }
    if (session.opening) await Promise.race([session.opening, aborted(signal)]);
    const run = session.run;
    const wasStreaming = this.lifecycle.is('streaming');
    this.lifecycle.to('stopping');
    if (wasStreaming && run) {
      await run.finish(signal);
      if (signal.aborted) this.log.warn({ timeoutMs: this.opts.stopTimeoutMs }, 'the pipeline did not finish in time; stopping it anyway');
    }
    session.abort.abort(STOPPED);
    this.stopRun(session);
    session.releasing ??= this.releaseDestinations(signal);
    await Promise.race([session.releasing, aborted(signal)]);
    this.stopRequested = false;
    this.ended = session.counts();
    this.session = undefined;
    this.lifecycle.to('stopped');
    this.log.info(statsCounts(undefined, this.ended, this.queue, this.builtIn?.destination, this.fanout), 'stopped');
  }

  /** Stops the session's pipeline; what still waits in the queue is dropped (counted). */
  private stopRun(session: Session): void {
    session.stopRun(this.queue);
    this.releaseWaiters();
    this.ticker.stop();
  }

  /** Once per session, whatever ends it: every destination delivers or finalizes what it took (a file complete, KVS persisted), bounded by `signal` when given. */
  private async releaseDestinations(signal?: AbortSignal): Promise<void> {
    const d = signal ? undefined : deadline(this.opts.stopTimeoutMs);
    await this.fanout.end(signal ?? d!.signal);
    d?.clear();
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

  /** Fails the session: error reported, pipeline stopped, destinations released, state 'error'. */
  private fail(err: Error, reported = false): void {
    if (!this.lifecycle.is('warmup', 'opening', 'streaming', 'reconnecting')) return;
    const session = this.session!;
    if (this.builtIn) err = this.builtIn.unwrap(err);
    session.failure = this.redactor.scrubError(err);
    if (!reported) this.reportError(session.failure);
    session.abort.abort(FAILED);
    this.stopRun(session);
    this.lifecycle.to('error');
    session.releasing ??= this.releaseDestinations();
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
}
