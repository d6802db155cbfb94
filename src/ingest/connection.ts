/**
 * LiveSource's connection loop: one reader at a time (RTSP client in Node, or GStreamer in a
 * child process), capture times and a PTS that keeps growing across reconnections, the
 * watchdogs (no media after connecting, a stream gone quiet), and reconnection with backoff
 * once a stream was established. The LiveSource keeps the state machine's phase and what
 * follows the units (ring, relay, decoders); this module tells it what happened.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { backoffDelay, sleep } from '../backoff.js';
import type { ReconnectOptions } from '../backoff.js';
import type { Redactor } from '../log.js';
import { ArrivalClock, FirstArrivalClock, SidecarClock, type CaptureClock } from './capture-clock.js';
import { SourceError } from './errors.js';
import { GstReader, type Reader, type ReaderUnit } from './gst-reader.js';
import type { LiveSourceState } from './live-source-types.js';
import { RtspReader, type RtspTlsOptions } from './rtsp-reader.js';
import type { SourceSpec } from './source-url.js';
import type { StreamCaps } from './units.js';

export interface ConnectionOptions {
  rtspTransport: 'tcp' | 'udp';
  rtspBasicWithoutTls: boolean;
  tls: RtspTlsOptions | undefined;
  connectTimeoutMs: number;
  watchdogMs: number;
  backoff: Required<ReconnectOptions>;
}

/** What the connection tells its LiveSource. */
export interface ConnectionHost {
  readonly phase: LiveSourceState;
  setPhase(next: LiveSourceState): void;
  caps(c: StreamCaps): void;
  /** A unit to keep: capture time and normalized PTS set; `first` for a connection's first (a keyframe). */
  unit(data: Buffer, ptsNs: number, timestampMs: number, keyframe: boolean, first: boolean): void;
  /** A unit before the connection's first keyframe: not kept. */
  skipped(): void;
  /** A finite source (a file) ended cleanly. */
  ended(): void;
  /** The first connection failed: start() rejects. */
  failStart(e: SourceError): void;
  /** Lost for good (an error that retrying cannot fix). */
  fatal(e: SourceError): void;
  reconnecting(info: { attempt: number; delayMs: number; reason: string }, reason: SourceError): void;
  /** A file read fast whose reader is paused for the decoder: no media is expected. */
  readonly paused: boolean;
}

export class SourceConnection {
  private reader: Reader | undefined;
  private clock: CaptureClock = new ArrivalClock();
  private connectedUnits = 0;
  private lastUnitAt = 0;
  private connectStartedAt = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private recovery: AbortController | undefined;
  /** Normalized PTS: continuous and increasing across connections. */
  private ptsBase = 0;
  private rawPts0 = -1;
  private lastPts = -1;
  /** Reconnection attempts made. */
  reconnects = 0;

  constructor(
    private readonly host: ConnectionHost,
    private readonly spec: SourceSpec,
    private readonly opts: ConnectionOptions,
    private readonly redactor: Redactor,
    private readonly log: Logger,
  ) {}

  /** Picks the capture clock and connects; the watchdog runs until close(). */
  begin(): void {
    if (this.spec.kind === 'file') this.clock = new FirstArrivalClock();
    if (this.spec.kind === 'file' && this.spec.path && existsSync(`${this.spec.path}.timestamps.csv`)) {
      try {
        this.clock = new SidecarClock(readFileSync(`${this.spec.path}.timestamps.csv`, 'utf8'));
      } catch (err) {
        this.log.warn({ err }, 'timestamps sidecar unreadable: capture times are arrival times');
      }
    }
    this.connect();
    this.watchdog = setInterval(() => this.checkWatchdog(), 250);
    this.watchdog.unref();
  }

  /** Disconnects: no reconnection, no watchdog. */
  close(): void {
    this.recovery?.abort();
    this.recovery = undefined;
    this.stopWatchdog();
    this.reader?.close();
    this.reader = undefined;
  }

  /** The stream ended: no more "no media" checks. */
  stopWatchdog(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  get connected(): boolean {
    return this.reader !== undefined;
  }

  /** Backpressure for a file read fast. */
  pause(): void {
    this.reader?.pause();
  }

  resume(): void {
    this.reader?.resume();
    this.lastUnitAt = Date.now();
  }

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
      if (reader === this.reader) this.host.caps(c);
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
      this.host.skipped();
      return;
    }
    this.connectedUnits++;
    // Units without a PTS (some MJPEG servers) are placed at their arrival.
    const timestampMs = u.captureMs ?? (u.ptsNs < 0 ? arrival : this.clock.captureMs(u.ptsNs, arrival));
    this.host.unit(u.data, this.normalizePts(u.ptsNs), timestampMs, u.keyframe, this.connectedUnits === 1);
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
    const phase = this.host.phase;
    if (phase === 'stopped' || phase === 'closed') return;
    // While reconnecting, the recovery loop owns each attempt's outcome.
    if (phase === 'reconnecting') return;
    if (!err) {
      // End of a file (or a server that ended the stream cleanly).
      if (phase === 'connecting') {
        this.host.failStart(new SourceError('NOT_A_STREAM', 'the source ended before any picture came'));
        return;
      }
      if (this.spec.finite) {
        this.host.ended();
        return;
      }
      err = new SourceError('STREAM_LOST', 'the server ended the stream');
    }
    const e = this.redactor.scrubError(err);
    if (phase === 'connecting') this.host.failStart(e);
    else if (!e.retryable) this.host.fatal(e);
    else void this.recover(e);
  }

  private async recover(first: SourceError): Promise<void> {
    if (this.recovery) return;
    const controller = new AbortController();
    this.recovery = controller;
    this.host.setPhase('reconnecting');
    let reason: SourceError = first;
    for (let attempt = 1; !controller.signal.aborted; attempt++) {
      const delayMs = backoffDelay(attempt, this.opts.backoff);
      this.host.reconnecting({ attempt, delayMs, reason: reason.message }, reason);
      await sleep(delayMs, controller.signal);
      if (controller.signal.aborted) return;
      this.reconnects++;
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
        return; // streaming again (the first unit set the phase)
      }
      reason = this.redactor.scrubError(outcome);
    }
  }

  private checkWatchdog(): void {
    const now = Date.now();
    const phase = this.host.phase;
    const noMedia = () => new SourceError('UNREACHABLE', `no media arrived within ${this.opts.connectTimeoutMs / 1000} s of connecting`);
    if (phase === 'connecting' && this.reader && now - this.connectStartedAt > this.opts.connectTimeoutMs) {
      this.reader.close();
      this.onReaderEnd(noMedia());
    } else if (phase === 'reconnecting' && this.reader && this.connectedUnits === 0 && now - this.connectStartedAt > this.opts.connectTimeoutMs) {
      const r = this.reader;
      this.reader = undefined;
      r.close();
      r.emit('end', noMedia());
    } else if (phase === 'streaming' && this.reader && now - this.lastUnitAt > this.opts.watchdogMs && !this.host.paused) {
      this.reader.close();
      this.onReaderEnd(new SourceError('STREAM_LOST', `no media for ${this.opts.watchdogMs / 1000} s`));
    }
  }
}
