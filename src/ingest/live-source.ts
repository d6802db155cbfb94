/**
 * LiveSource: frames in from cameras, relays and files, for a computer-vision loop.
 *
 *   reader (RTSP client in Node, or GStreamer in a child process)
 *     → encoded ring buffer with a keyframe index (the last bufferSeconds, compressed)
 *     → decoders on demand (GStreamer in this process, frames back over loopback TCP)
 *     → for await / latest() / past() / screenshot() / probe()
 *
 * Nothing is decoded unless someone asks: the live decoder runs while an iterator is open or
 * latest() was called within decodeIdleMs (like the Chrysalis edge proxy); past() and
 * screenshot() decode their own window from the ring with a decoder of their own.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { withDefaults, type ReconnectOptions } from '../backoff.js';
import { defaultLogger, Redactor, scrubbing } from '../log.js';
import { SourceConnection } from './connection.js';
import { checkSourceTransition } from './source-lifecycle.js';
import { LiveDecoding } from './live-decoding.js';
import { OUTPUT_FORMATS } from './decoder.js';
import { decodeUnits } from './history.js';
import { SourceError } from './errors.js';
import { EncodedRing, type EncodedUnit } from './ring-buffer.js';
import { Relay, type AttachOptions } from './relay.js';
import type { Destination, DestinationError } from '../destinations/destination.js';
import { parseSourceUrl, type SourceSpec } from './source-url.js';
import type { StreamCaps } from './units.js';
import type { LiveSourceEvents, LiveSourceOptions, LiveSourceState, LiveSourceStats, ProbeInfo, SourceFrame } from './live-source-types.js';

export type { LiveSourceEvents, LiveSourceOptions, LiveSourceState, LiveSourceStats, ProbeInfo, SourceFrame } from './live-source-types.js';

export class LiveSource extends EventEmitter<LiveSourceEvents> {
  private readonly opts: Required<Omit<LiveSourceOptions, 'width' | 'height' | 'logger' | 'reconnect' | 'tls'>> & Pick<LiveSourceOptions, 'width' | 'height' | 'tls'>;
  private readonly backoff: Required<ReconnectOptions>;
  private readonly redactor = new Redactor();
  private readonly log: Logger;
  private readonly spec: SourceSpec;
  private readonly ring: EncodedRing;
  private phase: LiveSourceState = 'stopped';
  private readonly connection: SourceConnection;
  private caps: StreamCaps | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private starting: { resolve: () => void; reject: (e: Error) => void } | undefined;

  private readonly decoding: LiveDecoding;
  private history: Promise<unknown> = Promise.resolve();
  /** Destinations fed the camera's own units (attach()); made on first use. */
  private relay: Relay | undefined;
  private relayEnd: Promise<void> | undefined;
  private readonly counters = { units: 0 };
  private readonly lossless: boolean;

  constructor(options: LiveSourceOptions) {
    super();
    if (!options || typeof options !== 'object') throw new TypeError('LiveSource needs options: { url, ... }');
    const format = options.format ?? 'BGR';
    if (!OUTPUT_FORMATS.includes(format)) throw new RangeError(`format must be one of ${OUTPUT_FORMATS.join(', ')}; got ${String(format)}`);
    if ((options.width === undefined) !== (options.height === undefined)) throw new RangeError('give both width and height, or neither');
    for (const k of ['width', 'height'] as const) {
      const v = options[k];
      if (v !== undefined && (!Number.isInteger(v) || v < 2 || v > 16384)) throw new RangeError(`${k} must be an integer from 2 to 16384; got ${v}`);
    }
    this.opts = {
      url: options.url,
      format,
      width: options.width,
      height: options.height,
      bufferSeconds: options.bufferSeconds ?? 60,
      bufferBytes: options.bufferBytes ?? 64 * 2 ** 20,
      queueFrames: Math.max(1, options.queueFrames ?? 4),
      decodeIdleMs: options.decodeIdleMs ?? 10_000,
      screenshotWindowMs: options.screenshotWindowMs ?? 5000,
      maxPastFrames: options.maxPastFrames ?? 900,
      rtspTransport: options.rtspTransport ?? 'tcp',
      rtspBasicWithoutTls: options.rtspBasicWithoutTls ?? false,
      tls: options.tls,
      filePace: options.filePace ?? 'realtime',
      keyframeInterval: options.keyframeInterval ?? 30,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      watchdogMs: options.watchdogMs ?? 10_000,
    };
    this.backoff = withDefaults(options.reconnect);
    this.spec = parseSourceUrl(options.url, { filePace: this.opts.filePace, keyframeInterval: this.opts.keyframeInterval });
    for (const s of this.spec.secrets) this.redactor.add(s);
    this.log = scrubbing((options.logger ?? defaultLogger()).child({ source: this.spec.masked }), this.redactor);
    this.ring = new EncodedRing({ maxMs: this.opts.bufferSeconds * 1000, maxBytes: this.opts.bufferBytes });
    this.lossless = this.spec.kind === 'file' && this.opts.filePace === 'fast';
    const { rtspTransport, rtspBasicWithoutTls, tls, connectTimeoutMs, watchdogMs } = this.opts;
    // Getters read the source's state when the connection asks.
    const self = this;
    this.connection = new SourceConnection(
      {
        get phase() {
          return self.phase;
        },
        get paused() {
          return self.lossless && self.decoding.readerPaused;
        },
        setPhase: (next) => this.setPhase(next),
        caps: (c) => this.onCaps(c),
        unit: (...a) => this.onUnit(...a),
        skipped: () => this.ring.skipped++,
        ended: () => this.finishEnded(),
        failStart: (e) => this.failStart(e),
        fatal: (e) => {
          this.reportError(e);
          this.shutdown('error', e);
        },
        reconnecting: (info, reason) => {
          this.reportError(reason);
          this.emit('reconnect', info);
          this.log.info({ attempt: info.attempt, delayMs: info.delayMs }, 'reconnecting');
        },
      },
      this.spec,
      { rtspTransport, rtspBasicWithoutTls, tls, connectTimeoutMs, watchdogMs, backoff: this.backoff },
      this.redactor,
      this.log,
    );
    this.decoding = new LiveDecoding({ ring: this.ring, caps: () => this.caps, opts: this.opts, lossless: this.lossless, connection: this.connection, log: this.log });
  }

  /** The URL as it may be shown (passwords and stream keys masked). */
  get url(): string {
    return this.spec.masked;
  }

  get state(): LiveSourceState {
    return this.phase;
  }

  /**
   * Connects and resolves once the first keyframe is buffered. Rejects with a SourceError (code
   * UNREACHABLE, UNAUTHORIZED, NOT_FOUND, UNSUPPORTED_CODEC, NOT_A_STREAM, ...) when the first
   * attempt fails; once a stream was established, losing it reconnects by itself.
   */
  async start(): Promise<void> {
    if (this.phase === 'closed') throw new Error('LiveSource is closed');
    if (this.phase === 'streaming' || this.phase === 'connecting' || this.phase === 'reconnecting') return;
    this.decoding.reset();
    this.setPhase('connecting');
    const started = new Promise<void>((resolve, reject) => {
      this.starting = { resolve, reject };
    });
    this.connection.begin();
    this.idleTimer = setInterval(() => this.decoding.checkIdle(), 1000);
    this.idleTimer.unref();
    return started;
  }

  /** Disconnects and stops decoding; the buffer is kept (past(), screenshot() still work). start() again reconnects. */
  async stop(): Promise<void> {
    if (this.phase === 'stopped' || this.phase === 'closed') return;
    this.connection.close();
    clearInterval(this.idleTimer);
    this.decoding.stopLive();
    this.starting?.reject(new SourceError('ERROR', 'stopped before the stream started'));
    this.starting = undefined;
    this.decoding.endIterators();
    this.setPhase('stopped');
    await this.relayEnd;
  }

  /** stop() and forget the buffer; the source cannot be started again. Attached destinations are closed. */
  async close(): Promise<void> {
    await this.stop();
    await this.relayEnd;
    await this.relay?.close();
    await this.history.catch(() => undefined);
    this.ring.clear();
    this.decoding.newest = undefined;
    this.setPhase('closed');
  }

  stats(): LiveSourceStats {
    return {
      state: this.phase,
      unitsReceived: this.counters.units,
      unitsSkipped: this.ring.skipped,
      framesDecoded: this.decoding.counters.decoded,
      framesDropped: this.decoding.dropped,
      reconnects: this.connection.reconnects,
      bufferedUnits: this.ring.length,
      bufferedBytes: this.ring.bytes,
      decoding: this.decoding.active,
      destinations: this.relay?.stats() ?? [],
    };
  }

  // ---- relay ---------------------------------------------------------------------------------

  /**
   * Sends the camera's own H.264 to `dest` (a file, RTSP, RTMP, KVS destination) with no decoding
   * and no encoding, from the keyframe captured at or before now - preRollMs (default 0: the
   * newest keyframe buffered). While the source streams, resolves once the destination is open;
   * before its first keyframe, resolves at once and the stream opens it (its failure then comes
   * as an 'error' event). Destinations stay attached across stop()/start(); close() disposes of
   * them. Rejects for a source known not to be H.264 (UNSUPPORTED_CODEC) and when `dest` cannot open.
   */
  attach(dest: Destination, opts: AttachOptions = {}): Promise<void> {
    if (this.phase === 'closed') return Promise.reject(new Error('LiveSource is closed'));
    this.relay ??= new Relay({
      ring: this.ring,
      caps: () => this.caps,
      log: this.log,
      redactor: this.redactor,
      historyMs: this.opts.bufferSeconds * 1000,
      historyBytes: this.opts.bufferBytes,
      error: (err) => this.reportError(err),
    });
    return this.relay.attach(dest, opts);
  }

  /** Stops sending to `dest` and closes it; it finishes what it took (a file complete) within `signal`. */
  async detach(dest: Destination, signal?: AbortSignal): Promise<void> {
    await this.relay?.detach(dest, signal);
  }

  /** The attached destinations. */
  get destinations(): Destination[] {
    return this.relay?.destinations ?? [];
  }

  // ---- consumers ---------------------------------------------------------------------------

  /**
   * Every frame from now on (from the start for a source not yet started), through a bounded
   * buffer of queueFrames: a consumer slower than the stream loses the oldest frames (counted in
   * stats().framesDropped); a file read with filePace 'fast' waits for the consumer instead.
   */
  [Symbol.asyncIterator](): AsyncIterator<SourceFrame> {
    return this.decoding.iterator(this.phase);
  }

  /**
   * The newest decoded frame not yet returned by latest(), or null when there is none (the
   * stream has not produced a new frame since the last call). The first call after a quiet
   * spell decodes from the newest keyframe and waits for the newest unit (up to 5 s).
   */
  latest(): Promise<SourceFrame | null> {
    return this.decoding.latest();
  }

  /**
   * The frames captured from fromMs to toMs (epoch ms, inclusive) still in the buffer, oldest
   * first, decoded from the keyframe at or before fromMs. Empty when the window is not buffered.
   */
  async past(fromMs: number, toMs: number): Promise<SourceFrame[]> {
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || toMs < fromMs) throw new RangeError(`past() needs fromMs <= toMs as epoch ms; got ${fromMs}, ${toMs}`);
    const key = this.ring.keyframeAtOrBefore(fromMs);
    if (!key) return [];
    const units = this.ring.range(key.seq, toMs);
    const wanted = units.filter((u) => u.timestampMs >= fromMs).length;
    if (wanted > this.opts.maxPastFrames) throw new RangeError(`past(${fromMs}, ${toMs}) covers ${wanted} frames; at most maxPastFrames (${this.opts.maxPastFrames}) per call`);
    if (wanted === 0) return [];
    const frames = await this.decodeHistory(units);
    return frames.filter((f) => f.timestamp >= fromMs && f.timestamp <= toMs);
  }

  /** The keyframe nearest atMs (epoch ms) within screenshotWindowMs, decoded; null when there is none. */
  async screenshot(atMs: number = Date.now()): Promise<SourceFrame | null> {
    if (!Number.isFinite(atMs)) throw new RangeError(`screenshot() needs a time in epoch ms; got ${atMs}`);
    const key = this.ring.keyframeNearest(atMs, this.opts.screenshotWindowMs);
    if (!key) return null;
    const [frame] = await this.decodeHistory([key]);
    return frame ?? null;
  }

  /** What is known about the stream and the buffered window (as Chrysalis' Probe). */
  probe(): ProbeInfo {
    const oldest = this.ring.oldest;
    const newest = this.ring.newest;
    const span = oldest && newest ? newest.timestampMs - oldest.timestampMs : 0;
    return {
      url: this.spec.masked,
      state: this.phase,
      codec: this.caps?.codec,
      // Decoded size when the encoded caps do not say (JPEG).
      width: this.caps?.width ?? this.decoding.newest?.width,
      height: this.caps?.height ?? this.decoding.newest?.height,
      fps: this.ring.fps(),
      bitrate: span > 0 ? (this.ring.bytes * 8 * 1000) / span : undefined,
      start: oldest?.timestampMs,
      end: newest?.timestampMs,
      duration: span / 1000,
      units: this.ring.length,
      bytes: this.ring.bytes,
    };
  }

  // ---- connection (connection.ts runs the loop) ---------------------------------------------

  /** The connection's first unit, or a unit of a stream going on: into the ring, the relay, the decoder. */
  private onUnit(data: Buffer, ptsNs: number, timestampMs: number, keyframe: boolean, first: boolean): void {
    this.counters.units++;
    const kept = this.ring.push(data, ptsNs, timestampMs, keyframe);
    if (kept) this.relay?.onUnit(kept);
    if (first) {
      this.setPhase('streaming');
      this.starting?.resolve();
      this.starting = undefined;
    }
    this.decoding.feed();
  }

  private onCaps(c: StreamCaps): void {
    const changed = this.caps?.codec !== undefined && this.caps.codec !== c.codec;
    const known = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as StreamCaps;
    this.caps = { ...this.caps, ...known };
    if (changed) this.decoding.stopLive();
    this.log.debug({ caps: c.codec, width: c.width, height: c.height }, 'stream caps');
  }

  private failStart(e: SourceError): void {
    this.redactor.scrubError(e);
    this.reportError(e);
    const s = this.starting;
    this.starting = undefined;
    this.shutdown('error', e);
    s?.reject(e);
  }

  private shutdown(state: LiveSourceState, err?: Error): void {
    this.connection.close();
    clearInterval(this.idleTimer);
    this.decoding.stopLive();
    this.decoding.endIterators(err);
    this.setPhase(state);
  }

  private finishEnded(): void {
    this.connection.stopWatchdog();
    this.setPhase('ended');
    this.decoding.finishEnd();
  }


  // ---- history decoding ------------------------------------------------------------------------

  /** Decodes units (starting with a keyframe) with a decoder of their own; calls are served one at a time. */
  private decodeHistory(units: EncodedUnit[]): Promise<SourceFrame[]> {
    if (!this.caps) return Promise.resolve([]);
    const options = this.decoding.decoderOptions();
    const run = this.history.catch(() => undefined).then(() => decodeUnits(options, units));
    this.history = run;
    return run;
  }

  // ---- events ----------------------------------------------------------------------------------

  private setPhase(next: LiveSourceState): void {
    const prev = this.phase;
    if (prev === next) return;
    checkSourceTransition(prev, next);
    this.phase = next;
    // The stream is over for the destinations too: files are finalized, connections closed.
    if (next === 'stopped' || next === 'ended' || next === 'error') this.relayEnd = this.relay?.end();
    this.log.info({ state: next, previous: prev }, 'source state');
    this.emit('state', next, prev);
  }

  private reportError(e: SourceError | DestinationError): void {
    this.log.warn({ code: e.code }, e.message);
    // Without a listener an 'error' event would throw at the process: errors are logged instead.
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }
}
