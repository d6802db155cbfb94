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
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { backoffDelay, sleep, withDefaults, type ReconnectOptions } from '../backoff.js';
import { defaultLogger, Redactor, scrubbing } from '../log.js';
import { ArrivalClock, FirstArrivalClock, SidecarClock, type CaptureClock } from './capture-clock.js';
import { Decoder, OUTPUT_FORMATS, type DecodedFrame, type OutputFormat } from './decoder.js';
import { decodeUnits, toFrame } from './history.js';
import { SourceError } from './errors.js';
import { FrameChannel } from './frame-channel.js';
import { GstReader, type Reader, type ReaderUnit } from './gst-reader.js';
import { EncodedRing, type EncodedUnit } from './ring-buffer.js';
import { RtspReader, type RtspTlsOptions } from './rtsp-reader.js';
import { parseSourceUrl, type SourceSpec } from './source-url.js';
import type { StreamCaps } from './units.js';

export interface LiveSourceOptions {
  /** rtsp://[user:pass@]host[:port]/path, rtmp://host/app/stream, http(s)://… (HLS, MJPEG), a file path or file://, /dev/videoN or v4l2:///dev/videoN, testsrc://[pattern]?width=&height=&fps= */
  url: string;
  /** Pixel format of the frames handed out. Default 'BGR' (OpenCV's). */
  format?: OutputFormat;
  /** Size of the frames handed out (scaled in GStreamer). Default: the stream's. */
  width?: number;
  height?: number;
  /** Longest span of encoded video kept for past() and screenshot(), seconds. Default 60. */
  bufferSeconds?: number;
  /** Most encoded bytes kept. Default 64 MiB. */
  bufferBytes?: number;
  /** Frames an iterator buffers before dropping the oldest. Default 4. */
  queueFrames?: number;
  /** The live decoder stops this long after the last latest() call when no iterator is open, ms. Default 10000. */
  decodeIdleMs?: number;
  /** screenshot(): how far from the asked time a keyframe may be, ms. Default 5000. */
  screenshotWindowMs?: number;
  /** past(): most frames one call decodes (raw frames are large). Default 900. */
  maxPastFrames?: number;
  /** RTSP transport. Default 'tcp' (interleaved); 'udp' for RTP over UDP (not with rtsps://). */
  rtspTransport?: 'tcp' | 'udp';
  /** rtsps://: how the server's certificate is checked (`ca`, `rejectUnauthorized`). */
  tls?: RtspTlsOptions;
  /** Answer an RTSP server's Basic challenge over plain rtsp:// (the password goes in clear text). Default false. */
  rtspBasicWithoutTls?: boolean;
  /** Files: 'realtime' (default) delivers units at the file's own pace, like a camera; 'fast' as fast as they are consumed, losing nothing. */
  filePace?: 'realtime' | 'fast';
  /** Raw sources (V4L2, test pattern): keyframe interval of the ingest encoder. Default 30. */
  keyframeInterval?: number;
  /** No media within this long of connecting fails the attempt, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** No unit within this long while streaming counts as a lost stream, ms. Default 10000. */
  watchdogMs?: number;
  /** Backoff of reconnections after an established stream was lost. */
  reconnect?: ReconnectOptions;
  logger?: Logger;
}

/** A decoded frame, in the shape SkyLine.put() takes. */
export interface SourceFrame {
  data: Buffer;
  width: number;
  height: number;
  format: OutputFormat;
  /** Capture time, epoch ms: from RTCP sender reports, a FileSkyLine timestamps sidecar, else arrival time. */
  timestamp: number;
  /** Presentation time in the source's clock, ms (continues across reconnections). */
  pts: number;
  keyframe: boolean;
  /** Position of the frame's unit in the stream since start() (gaps where units were dropped). */
  seq: number;
}

export type LiveSourceState = 'stopped' | 'connecting' | 'streaming' | 'reconnecting' | 'ended' | 'error' | 'closed';

export interface ProbeInfo {
  url: string;
  state: LiveSourceState;
  codec: string | undefined;
  width: number | undefined;
  height: number | undefined;
  /** Frames per second, estimated from the capture times of the newest 60 units. */
  fps: number | undefined;
  /** Bits per second over the buffered window. */
  bitrate: number | undefined;
  /** Capture times of the oldest and newest buffered units, epoch ms (as Chrysalis' start/end_timestamp). */
  start: number | undefined;
  end: number | undefined;
  /** end - start, seconds. */
  duration: number;
  units: number;
  bytes: number;
}

export interface LiveSourceStats {
  state: LiveSourceState;
  unitsReceived: number;
  /** Units that could not be kept (before the first keyframe of a connection). */
  unitsSkipped: number;
  framesDecoded: number;
  /** Frames dropped for slow iterators, plus units the live decoder skipped to catch up. */
  framesDropped: number;
  reconnects: number;
  bufferedUnits: number;
  bufferedBytes: number;
  decoding: boolean;
}

export interface LiveSourceEvents {
  state: [LiveSourceState, LiveSourceState];
  error: [SourceError];
  reconnect: [{ attempt: number; delayMs: number; reason: string }];
}

interface Iterating {
  channel: FrameChannel<SourceFrame>;
  fromSeq: number;
}

const MAX_IN_FLIGHT = 8;
/** A file read fast pauses its reader when the live decoder is this many units behind. */
const FAST_LAG_UNITS = 48;
const LATEST_WAIT_MS = 5000;

export class LiveSource extends EventEmitter<LiveSourceEvents> {
  private readonly opts: Required<Omit<LiveSourceOptions, 'width' | 'height' | 'logger' | 'reconnect' | 'tls'>> & Pick<LiveSourceOptions, 'width' | 'height' | 'tls'>;
  private readonly backoff: Required<ReconnectOptions>;
  private readonly redactor = new Redactor();
  private readonly log: Logger;
  private readonly spec: SourceSpec;
  private readonly ring: EncodedRing;
  private clock: CaptureClock = new ArrivalClock();
  private phase: LiveSourceState = 'stopped';
  private reader: Reader | undefined;
  private caps: StreamCaps | undefined;
  private connectedUnits = 0;
  private lastUnitAt = 0;
  private connectStartedAt = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private recovery: AbortController | undefined;
  private starting: { resolve: () => void; reject: (e: Error) => void } | undefined;
  /** Normalized PTS: continuous and increasing across connections. */
  private ptsBase = 0;
  private rawPts0 = -1;
  private lastPts = -1;

  // live decoding
  private live: Decoder | undefined;
  private liveStarting: Promise<void> | undefined;
  private cursor = 0;
  private readonly inFlight = new Map<number, EncodedUnit>();
  private newest: SourceFrame | undefined;
  private lastLatestPts = -1;
  private lastAskedAt = 0;
  private latestWaiters: Array<{ seq: number; resolve: () => void }> = [];
  private readonly iterating = new Set<Iterating>();
  private ending = false;
  private drained = false;

  private history: Promise<unknown> = Promise.resolve();
  private readonly counters = { units: 0, decoded: 0, dropped: 0, reconnects: 0 };
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
    if (this.spec.kind === 'file') this.clock = new FirstArrivalClock();
    if (this.spec.kind === 'file' && this.spec.path && existsSync(`${this.spec.path}.timestamps.csv`)) {
      try {
        this.clock = new SidecarClock(readFileSync(`${this.spec.path}.timestamps.csv`, 'utf8'));
      } catch (err) {
        this.log.warn({ err }, 'timestamps sidecar unreadable: capture times are arrival times');
      }
    }
    this.ending = false;
    this.drained = false;
    this.setPhase('connecting');
    const started = new Promise<void>((resolve, reject) => {
      this.starting = { resolve, reject };
    });
    this.connect();
    this.watchdog = setInterval(() => this.checkWatchdog(), 250);
    this.watchdog.unref();
    this.idleTimer = setInterval(() => this.checkIdle(), 1000);
    this.idleTimer.unref();
    return started;
  }

  /** Disconnects and stops decoding; the buffer is kept (past(), screenshot() still work). start() again reconnects. */
  async stop(): Promise<void> {
    if (this.phase === 'stopped' || this.phase === 'closed') return;
    this.recovery?.abort();
    this.recovery = undefined;
    clearInterval(this.watchdog);
    clearInterval(this.idleTimer);
    this.reader?.close();
    this.reader = undefined;
    this.stopLive();
    this.starting?.reject(new SourceError('ERROR', 'stopped before the stream started'));
    this.starting = undefined;
    this.endIterators();
    this.setPhase('stopped');
  }

  /** stop() and forget the buffer; the source cannot be started again. */
  async close(): Promise<void> {
    await this.stop();
    await this.history.catch(() => undefined);
    this.ring.clear();
    this.newest = undefined;
    this.setPhase('closed');
  }

  stats(): LiveSourceStats {
    return {
      state: this.phase,
      unitsReceived: this.counters.units,
      unitsSkipped: this.ring.skipped,
      framesDecoded: this.counters.decoded,
      framesDropped: this.counters.dropped + [...this.iterating].reduce((n, it) => n + it.channel.dropped, 0),
      reconnects: this.counters.reconnects,
      bufferedUnits: this.ring.length,
      bufferedBytes: this.ring.bytes,
      decoding: this.live?.active ?? false,
    };
  }

  // ---- consumers ---------------------------------------------------------------------------

  /**
   * Every frame from now on (from the start for a source not yet started), through a bounded
   * buffer of queueFrames: a consumer slower than the stream loses the oldest frames (counted in
   * stats().framesDropped); a file read with filePace 'fast' waits for the consumer instead.
   */
  [Symbol.asyncIterator](): AsyncIterator<SourceFrame> {
    const it: Iterating = {
      channel: new FrameChannel<SourceFrame>(this.opts.queueFrames, this.lossless, () => this.feed()),
      fromSeq: this.phase === 'stopped' && this.ring.length === 0 ? 0 : this.ring.endSeq,
    };
    if (this.phase === 'ended' || this.phase === 'closed' || this.phase === 'error') it.channel.end();
    else {
      this.iterating.add(it);
      void this.ensureLive(this.ring.lastKeyframe()?.seq ?? this.ring.endSeq).catch((err: Error) => it.channel.end(err));
    }
    return {
      next: () => it.channel.next(),
      return: async () => {
        if (this.iterating.delete(it)) this.counters.dropped += it.channel.dropped;
        it.channel.end();
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * The newest decoded frame not yet returned by latest(), or null when there is none (the
   * stream has not produced a new frame since the last call). The first call after a quiet
   * spell decodes from the newest keyframe and waits for the newest unit (up to 5 s).
   */
  async latest(): Promise<SourceFrame | null> {
    this.lastAskedAt = Date.now();
    if (!this.live?.active) {
      const key = this.ring.lastKeyframe();
      if (!key) return null;
      const target = this.ring.newest!.seq;
      // Slice threading: each unit's picture comes out at once (frame threading holds a few back).
      await this.ensureLive(key.seq, 'slice');
      if (!this.newest || this.newest.seq < target) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, LATEST_WAIT_MS);
          const waiter = { seq: target, resolve: done };
          this.latestWaiters.push(waiter);
          function done() {
            clearTimeout(timer);
            resolve();
          }
        });
      }
    }
    const f = this.newest;
    if (!f || f.pts <= this.lastLatestPts) return null;
    this.lastLatestPts = f.pts;
    return f;
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
    let fps: number | undefined;
    if (newest && this.ring.length > 1) {
      const from = this.ring.get(Math.max(oldest!.seq, newest.seq - 60));
      if (from && newest.timestampMs > from.timestampMs) fps = ((newest.seq - from.seq) * 1000) / (newest.timestampMs - from.timestampMs);
    }
    return {
      url: this.spec.masked,
      state: this.phase,
      codec: this.caps?.codec,
      // Decoded size when the encoded caps do not say (JPEG).
      width: this.caps?.width ?? this.newest?.width,
      height: this.caps?.height ?? this.newest?.height,
      fps,
      bitrate: span > 0 ? (this.ring.bytes * 8 * 1000) / span : undefined,
      start: oldest?.timestampMs,
      end: newest?.timestampMs,
      duration: span / 1000,
      units: this.ring.length,
      bytes: this.ring.bytes,
    };
  }

  // ---- connection ------------------------------------------------------------------------------

  private connect(): void {
    const reader: Reader =
      this.spec.kind === 'rtsp'
        ? new RtspReader(this.spec.rtsp!, { transport: this.opts.rtspTransport, timeoutMs: this.opts.connectTimeoutMs, tls: this.opts.tls, basicWithoutTls: this.opts.rtspBasicWithoutTls }, this.redactor)
        : new GstReader(this.spec, this.redactor);
    this.reader = reader;
    this.connectedUnits = 0;
    this.connectStartedAt = Date.now();
    this.rawPts0 = -1;
    this.clock.reset();
    reader.on('caps', (c) => {
      if (reader !== this.reader) return;
      const changed = this.caps?.codec !== undefined && this.caps.codec !== c.codec;
      const known = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as StreamCaps;
      this.caps = { ...this.caps, ...known };
      if (changed) this.stopLive();
      this.log.debug({ caps: c.codec, width: c.width, height: c.height }, 'stream caps');
    });
    reader.on('unit', (u) => {
      if (reader === this.reader) this.onUnit(u);
    });
    reader.on('end', (err) => {
      if (reader === this.reader) this.onReaderEnd(err);
    });
    reader.start();
  }

  private onUnit(u: ReaderUnit): void {
    const arrival = Date.now();
    this.lastUnitAt = arrival;
    if (this.connectedUnits === 0 && !u.keyframe) {
      // A decoder cannot start here: wait for this connection's first keyframe.
      this.ring.skipped++;
      return;
    }
    this.connectedUnits++;
    this.counters.units++;
    // Units without a PTS (some MJPEG servers) are placed at their arrival.
    const timestampMs = u.captureMs ?? (u.ptsNs < 0 ? arrival : this.clock.captureMs(u.ptsNs, arrival));
    const ptsNs = this.normalizePts(u.ptsNs);
    this.ring.push(u.data, ptsNs, timestampMs, u.keyframe);
    if (this.connectedUnits === 1) {
      this.setPhase('streaming');
      this.starting?.resolve();
      this.starting = undefined;
    }
    this.feed();
  }

  /** Source PTS → a PTS that only grows across reconnections (and is never negative). */
  private normalizePts(raw: number): number {
    if (raw < 0) return (this.lastPts = this.lastPts + 1_000_000);
    if (this.rawPts0 < 0) {
      this.rawPts0 = raw;
      this.ptsBase = this.lastPts < 0 ? 0 : this.lastPts + 40_000_000;
    }
    const pts = this.ptsBase + Math.max(0, raw - this.rawPts0);
    // B-frames can make a unit's PTS lower than the previous one: keep those, but never below the base.
    if (pts > this.lastPts) this.lastPts = pts;
    return pts;
  }

  private onReaderEnd(err: SourceError | undefined): void {
    this.reader = undefined;
    if (this.phase === 'stopped' || this.phase === 'closed') return;
    // While reconnecting, the recovery loop owns each attempt's outcome.
    if (this.phase === 'reconnecting') return;
    if (!err) {
      // End of a file (or a server that ended the stream cleanly).
      if (this.phase === 'connecting') {
        this.failStart(new SourceError('NOT_A_STREAM', 'the source ended before any picture came'));
        return;
      }
      if (this.spec.finite) {
        this.finishEnded();
        return;
      }
      err = new SourceError('STREAM_LOST', 'the server ended the stream');
    }
    const e = this.redactor.scrubError(err);
    if (this.phase === 'connecting') {
      this.failStart(e);
      return;
    }
    if (!e.retryable) {
      this.reportError(e);
      this.shutdown('error', e);
      return;
    }
    void this.recover(e);
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
    clearInterval(this.watchdog);
    clearInterval(this.idleTimer);
    this.reader?.close();
    this.reader = undefined;
    this.stopLive();
    this.endIterators(err);
    this.setPhase(state);
  }

  private finishEnded(): void {
    // Frames still in the live decoder come out first; finishLiveEnd() closes the iterators.
    this.ending = true;
    clearInterval(this.watchdog);
    this.setPhase('ended');
    if (!this.live?.active) this.finishLiveEnd();
    else this.feed();
  }

  private finishLiveEnd(): void {
    this.stopLive();
    this.endIterators();
  }

  private async recover(first: SourceError): Promise<void> {
    if (this.recovery) return;
    const controller = new AbortController();
    this.recovery = controller;
    this.setPhase('reconnecting');
    let reason: SourceError = first;
    for (let attempt = 1; !controller.signal.aborted; attempt++) {
      this.reportError(reason);
      const delayMs = backoffDelay(attempt, this.backoff);
      this.emit('reconnect', { attempt, delayMs, reason: reason.message });
      this.log.info({ attempt, delayMs }, 'reconnecting');
      await sleep(delayMs, controller.signal);
      if (controller.signal.aborted) return;
      this.counters.reconnects++;
      const outcome = await new Promise<SourceError | undefined>((resolve) => {
        this.connect();
        const reader = this.reader!;
        const onUnit = () => {
          if (this.connectedUnits > 0) done(undefined);
        };
        const onEnd = (e: SourceError | undefined) => done(e ?? new SourceError('STREAM_LOST', 'the server ended the stream'));
        const onAbort = () => done(undefined);
        const done = (e: SourceError | undefined) => {
          reader.off('unit', onUnit);
          reader.off('end', onEnd);
          controller.signal.removeEventListener('abort', onAbort);
          resolve(e);
        };
        reader.on('unit', onUnit);
        reader.on('end', onEnd);
        controller.signal.addEventListener('abort', onAbort);
      });
      if (controller.signal.aborted) return;
      if (!outcome) {
        this.recovery = undefined;
        return; // streaming again (onUnit set the state)
      }
      reason = this.redactor.scrubError(outcome);
    }
  }

  private checkWatchdog(): void {
    const now = Date.now();
    if (this.phase === 'connecting' && this.reader && now - this.connectStartedAt > this.opts.connectTimeoutMs) {
      this.reader.close();
      this.onReaderEnd(new SourceError('UNREACHABLE', `no media arrived within ${this.opts.connectTimeoutMs / 1000} s of connecting`));
    } else if (this.phase === 'reconnecting' && this.reader && this.connectedUnits === 0 && now - this.connectStartedAt > this.opts.connectTimeoutMs) {
      const r = this.reader;
      this.reader = undefined;
      r.close();
      r.emit('end', new SourceError('UNREACHABLE', `no media arrived within ${this.opts.connectTimeoutMs / 1000} s of connecting`));
    } else if (this.phase === 'streaming' && this.reader && now - this.lastUnitAt > this.opts.watchdogMs && !(this.lossless && this.readerPaused)) {
      this.reader.close();
      this.onReaderEnd(new SourceError('STREAM_LOST', `no media for ${this.opts.watchdogMs / 1000} s`));
    }
  }

  // ---- live decoding ---------------------------------------------------------------------------

  private readerPaused = false;

  private decoderOptions(threading: 'auto' | 'slice' = 'auto') {
    return { codec: this.caps!.codec, format: this.opts.format, width: this.opts.width, height: this.opts.height, threading };
  }

  private ensureLive(fromSeq: number, threading: 'auto' | 'slice' = 'auto'): Promise<void> {
    if (this.live?.active) return Promise.resolve();
    if (this.liveStarting) return this.liveStarting;
    if (!this.caps) return Promise.resolve(); // started by feed() once the stream is known
    const d = new Decoder(this.decoderOptions(threading));
    this.live = d;
    this.cursor = Math.max(fromSeq, this.ring.oldest?.seq ?? 0);
    this.inFlight.clear();
    d.on('frame', (f) => this.onLiveFrame(d, f));
    d.on('failed', (reason) => {
      this.log.warn({ reason }, 'live decoder stopped');
      if (this.live === d) this.live = undefined;
      if (this.iterating.size > 0 && !this.ending) void this.ensureLive(this.ring.lastKeyframe()?.seq ?? this.ring.endSeq).catch((err: Error) => this.endIterators(err));
    });
    this.liveStarting = d.start().then(
      () => {
        this.liveStarting = undefined;
        this.feed();
      },
      (err: Error) => {
        this.liveStarting = undefined;
        if (this.live === d) this.live = undefined;
        throw new SourceError('ERROR', `could not start the decoder: ${err.message}`);
      },
    );
    return this.liveStarting;
  }

  private stopLive(): void {
    this.live?.stop();
    this.live = undefined;
    this.inFlight.clear();
    for (const w of this.latestWaiters.splice(0)) w.resolve();
  }

  private wantLive(): boolean {
    return this.iterating.size > 0 || Date.now() - this.lastAskedAt < this.opts.decodeIdleMs;
  }

  /** Pushes units from the cursor into the live decoder, a few at a time. */
  private feed(): void {
    const d = this.live;
    if (!d) {
      if (this.caps && this.iterating.size > 0 && !this.liveStarting) void this.ensureLive(this.iterating.size > 0 ? this.minIteratorSeq() : this.ring.endSeq).catch(() => undefined);
      return;
    }
    if (!d.active || this.liveStarting) return;
    while (this.cursor < this.ring.endSeq && d.inFlight < MAX_IN_FLIGHT) {
      if (this.lossless && [...this.iterating].some((it) => it.channel.full)) break;
      const u = this.ring.get(this.cursor);
      if (!u) {
        const oldest = this.ring.oldest;
        if (oldest && this.cursor < oldest.seq) {
          // Evicted before the decoder got to it: catch up at the newest keyframe.
          const key = this.ring.lastKeyframe()!;
          this.counters.dropped += key.seq - this.cursor;
          this.cursor = key.seq;
          continue;
        }
        this.cursor++;
        continue;
      }
      this.inFlight.set(u.ptsNs, u);
      d.push(u.data, u.ptsNs);
      this.cursor++;
    }
    if (this.lossless && this.reader) {
      const behind = this.ring.endSeq - this.cursor > FAST_LAG_UNITS;
      if (behind && !this.readerPaused) {
        this.reader.pause();
        this.readerPaused = true;
      } else if (!behind && this.readerPaused) {
        this.reader.resume();
        this.readerPaused = false;
        this.lastUnitAt = Date.now();
      }
    }
    if (this.ending && this.cursor >= this.ring.endSeq && !this.drained) {
      this.drained = true;
      d.drain();
      if (d.inFlight === 0) this.finishLiveEnd();
      else this.armDrainTimer();
    }
  }

  /** A unit cut short at the end of a file may never come out of the decoder: end anyway once output stops. */
  private armDrainTimer(): void {
    let seen = -1;
    let quiet = 0;
    const t = setInterval(() => {
      const d = this.live;
      if (!d || !this.ending) {
        clearInterval(t);
        return;
      }
      if (d.received === seen && ++quiet >= 5) {
        clearInterval(t);
        this.log.debug({ pending: d.inFlight }, 'end of stream: units the decoder did not return');
        this.finishLiveEnd();
        return;
      }
      if (d.received !== seen) quiet = 0;
      seen = d.received;
    }, 1000);
    t.unref();
  }

  private minIteratorSeq(): number {
    let min = this.ring.endSeq;
    for (const it of this.iterating) min = Math.min(min, it.fromSeq);
    // The decoder must start at a keyframe at or before the first unit anyone wants.
    const first = this.ring.get(min) ?? this.ring.oldest;
    if (!first) return this.ring.endSeq;
    const key = this.ring.keyframeAtOrBefore(first.timestampMs);
    return key && key.seq <= first.seq ? key.seq : first.seq;
  }

  private onLiveFrame(d: Decoder, f: DecodedFrame): void {
    if (d !== this.live) return;
    const u = this.inFlight.get(f.ptsNs);
    // Frames leave in presentation order: units before this one that are still listed were skipped by the decoder.
    for (const pts of this.inFlight.keys()) if (pts <= f.ptsNs) this.inFlight.delete(pts);
    if (u) {
      this.counters.decoded++;
      const frame = toFrame(f, u);
      if (!this.newest || frame.pts > this.newest.pts) this.newest = frame;
      for (const it of this.iterating) if (frame.seq >= it.fromSeq) it.channel.push(frame);
      const ready = this.latestWaiters.filter((w) => frame.seq >= w.seq);
      if (ready.length > 0) {
        this.latestWaiters = this.latestWaiters.filter((w) => frame.seq < w.seq);
        for (const w of ready) w.resolve();
      }
    }
    if (this.ending && this.drained && d.inFlight <= 0) {
      this.finishLiveEnd();
      return;
    }
    this.feed();
  }

  private checkIdle(): void {
    // (While a file's end is drained, the iterators waiting for it keep wantLive() true.)
    if (this.live?.active && !this.wantLive()) {
      this.log.debug('live decoder idle: stopped');
      this.stopLive();
    }
  }

  private endIterators(err?: Error): void {
    for (const it of this.iterating) {
      this.counters.dropped += it.channel.dropped;
      it.channel.end(err);
    }
    this.iterating.clear();
  }

  // ---- history decoding ------------------------------------------------------------------------

  /** Decodes units (starting with a keyframe) with a decoder of their own; calls are served one at a time. */
  private decodeHistory(units: EncodedUnit[]): Promise<SourceFrame[]> {
    if (!this.caps) return Promise.resolve([]);
    const options = this.decoderOptions();
    const run = this.history.catch(() => undefined).then(() => decodeUnits(options, units));
    this.history = run;
    return run;
  }

  // ---- events ----------------------------------------------------------------------------------

  private setPhase(next: LiveSourceState): void {
    const prev = this.phase;
    if (prev === next) return;
    this.phase = next;
    this.log.info({ state: next, previous: prev }, 'source state');
    this.emit('state', next, prev);
  }

  private reportError(e: SourceError): void {
    this.log.warn({ code: e.code }, e.message);
    // Without a listener an 'error' event would throw at the process: errors are logged instead.
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }
}
