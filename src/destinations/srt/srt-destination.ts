// SrtDestination: sends encoded access units as MPEG-TS over SRT, as caller (we connect to a
// listener: MediaMTX, SRS, a broadcast receiver) or listener (callers connect to us, one after
// another or several at once). Each connection is one run of a pooled
// `appsrc ! h264parse ! mpegtsmux alignment=7 ! srtsink` pipeline: 7 TS packets = 1316 bytes per
// SRT packet. Like RtmpDestination it reconnects with capped backoff, drops while disconnected,
// and starts every connection (every new caller) at a keyframe with SPS/PPS in front.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { withDefaults, type ReconnectOptions } from '../../backoff.js';
import { attemptUntilReady } from '../../delivery/attempts.js';
import { EncodedSink } from '../../gst/encoded-sink.js';
import { GstError } from '../../gst/pipeline.js';
import type { AccessUnit } from '../../h264/access-unit.js';
import { Redactor } from '../../log.js';
import { DestinationError, type Destination, type DestinationEvents, type DestinationLink, type DestinationState, type DestinationStats, type VideoInfo } from '../destination.js';
import { backlog, DrainPoll } from '../drain.js';
import { ParameterSets } from '../parameter-sets.js';
import { DestinationStatus, KeyframeGate } from '../status.js';
import { parseSrtStats, srtTarget, type SrtDestinationOptions, type SrtMode, type SrtStats, type SrtTarget } from './srt-target.js';

export type { SrtDestinationOptions, SrtMode, SrtStats } from './srt-target.js';

export type SrtErrorCode = 'SRT_REJECTED' | 'SRT_UNREACHABLE' | 'SRT_CONNECTION_LOST' | 'SRT_LISTEN_FAILED' | 'SRT_ERROR';

export class SrtError extends GstError {
  constructor(readonly code: SrtErrorCode, message: string, element: string, debug?: string) {
    super(message, element, debug);
    this.name = 'SrtError';
  }
}

export interface SrtDestinationStats extends DestinationStats {
  /** SRT's own figures for the current connection (callers summed); absent while there is none. */
  srt?: SrtStats;
}

/** write() returns false while appsrc holds this many buffers or more. */
export const SRT_QUEUE_LIMIT = 8;
/**
 * libsrt gives up a connect after 3 s without an answer. A caller whose attempt failed well
 * before that had an answer: the listener refused the handshake. libsrt 1.5 through srtsink 1.22
 * reports a bad passphrase and a refused stream id with the same words as a lost connection
 * ("Connection does not exist"), so the timing is what tells them apart.
 */
const REJECTED_WITHIN_MS = 2800;
/** ...and the failure followed the first unit at once: srtsink reports it on its first send. */
const REJECTED_AFTER_PUSH_MS = 1000;
/** Refusals in a row after which retrying stops: a wrong passphrase does not get right by itself. */
export const SRT_MAX_REJECTIONS = 3;
const SINK = 'srt';
const POLL_MS = 50;
const ATTEMPT_MARGIN_MS = 2000;
const DISPOSE_TIMEOUT_MS = 5000;

interface Connection {
  sink: EncodedSink;
  startedAt: number;
  /** When the first unit went in: srtsink tells a connect's outcome only when it has data. */
  firstPushAt: number | undefined;
  /** Caller: the listener accepted us. Listener: the socket listens. */
  up: boolean;
  /** Peers the sink sends to now (caller: 0 or 1; listener: its callers). */
  peers: number;
  ptsBase: number | undefined;
  monitor: NodeJS.Timeout | undefined;
}

interface Session {
  abort: AbortController;
  video: VideoInfo;
  link: DestinationLink;
  log: Logger;
  connection: Connection | undefined;
  connections: number;
  /** Bytes of connections that ended. */
  bytesBefore: number;
  rejections: number;
}

export class SrtDestination extends EventEmitter<DestinationEvents> implements Destination {
  readonly kind = 'srt';
  readonly live = true;
  /** `srt://host:port` (listener: with ?mode=listener): never the passphrase or stream id. */
  readonly name: string;
  readonly mode: SrtMode;
  /** ES private fields: inspecting or serializing the destination never shows them. */
  readonly #target: SrtTarget;
  readonly #passphrase: string | undefined;
  readonly #streamId: string | undefined;
  private readonly backoff: Required<ReconnectOptions>;
  private readonly status: DestinationStatus;
  private readonly gate = new KeyframeGate();
  private readonly parameterSets = new ParameterSets();
  private readonly redactor = new Redactor();
  private session: Session | undefined;
  private closing: Promise<void> | undefined;
  private lastStats: SrtStats | undefined;
  private readonly drain = new DrainPoll(
    () => (this.session?.connection?.sink.level() ?? 0) < SRT_QUEUE_LIMIT / 2,
    () => this.emit('drain'),
  );

  /** Throws TypeError/RangeError for options that cannot work (the passphrase is never in the message). */
  constructor(options: SrtDestinationOptions) {
    super();
    if (!options || typeof options !== 'object') throw new TypeError("SrtDestination needs options: { url: 'srt://host:port' } or { mode: 'listener', port }");
    this.#target = srtTarget(options);
    this.#passphrase = options.passphrase;
    this.#streamId = options.streamId;
    for (const s of this.#target.secrets) this.redactor.add(s);
    this.backoff = withDefaults(options.reconnect);
    this.mode = this.#target.mode;
    this.name = this.#target.masked;
    this.status = new DestinationStatus(this, this.kind, this.name);
  }

  get state(): DestinationState {
    return this.status.state;
  }

  /** True while video reaches someone: the listener accepted us (caller), or a caller is connected (listener). */
  get connected(): boolean {
    const c = this.session?.connection;
    return this.status.is('streaming') && c !== undefined && c.up && c.peers > 0;
  }

  async open(video: VideoInfo, link: DestinationLink): Promise<void> {
    if (!this.status.is('idle')) throw new Error(`${this.name}: open() while ${this.status.state} (close() it first)`);
    for (const s of this.#target.secrets) link.addSecret(s);
    this.status.reset();
    this.parameterSets.clear();
    this.lastStats = undefined;
    this.status.to('opening');
    const session: Session = { abort: new AbortController(), video, link, log: link.log, connection: undefined, connections: 0, bytesBefore: 0, rejections: 0 };
    this.session = session;
    session.log.info({ destination: this.name, mode: this.mode, latencyMs: this.#target.latencyMs, encrypted: this.#passphrase !== undefined }, 'SRT destination opening');
    try {
      await this.connect(session);
    } catch (err) {
      this.endSession(session);
      const e = new DestinationError(this.name, this.redactor.scrubError(err as Error));
      this.status.lastError = e.message;
      this.status.to('failed');
      throw e;
    }
  }

  write(au: AccessUnit): boolean {
    const conn = this.session?.connection;
    this.parameterSets.see(au);
    // A caller still connecting takes units too: srtsink reports the connect's outcome only
    // when it has something to send (they go out once connected, or are lost with the attempt).
    const sending = conn !== undefined && this.status.is('streaming', 'opening', 'reconnecting') && (this.mode === 'caller' ? !conn.up || conn.peers > 0 : conn.peers > 0);
    if (sending && (this.gate.open || au.keyframe)) {
      if (conn.sink.level() >= SRT_QUEUE_LIMIT) {
        if (conn.up && this.status.is('streaming')) {
          this.drain.arm();
          return false;
        }
        // Connecting: never hold the producer up for a peer that may not come.
        this.status.unitsIn++;
        this.status.unitsDropped++;
        return true;
      }
      this.status.unitsIn++;
      this.gate.pass(au.keyframe);
      // SPS/PPS before every keyframe: a receiver may join at any of them.
      const unit = au.keyframe ? this.parameterSets.complete(au) : au;
      conn.ptsBase ??= au.ptsNs;
      conn.firstPushAt ??= Date.now();
      conn.sink.push(unit, au.ptsNs - conn.ptsBase);
      return true;
    }
    this.status.unitsIn++;
    this.status.unitsDropped++;
    return true;
  }

  close(signal: AbortSignal): Promise<void> {
    this.closing ??= this.closeSession(signal).finally(() => (this.closing = undefined));
    return this.closing;
  }

  private async closeSession(signal: AbortSignal): Promise<void> {
    const session = this.session;
    if (!session) {
      if (this.status.is('failed')) this.status.to('idle');
      return;
    }
    const conn = session.connection;
    const flush = this.status.is('streaming') && conn !== undefined && conn.peers > 0;
    this.status.to('closing');
    this.drain.cancel();
    // What mpegtsmux and srtsink hold goes out before the socket closes.
    if (flush) await conn.sink.finish(signal);
    this.endSession(session);
    this.status.to('idle');
    session.log.info({ destination: this.name, connections: session.connections }, 'SRT destination closed');
  }

  async dispose(): Promise<void> {
    if (!this.status.is('idle')) await this.close(AbortSignal.timeout(DISPOSE_TIMEOUT_MS));
  }

  stats(): SrtDestinationStats {
    const s = this.readStats();
    const session = this.session;
    if (session) this.status.bytesOut = session.bytesBefore + (s?.bytesSent ?? 0);
    const base = this.status.stats(backlog(session?.connection?.sink));
    return s && session?.connection ? { ...base, srt: s } : base;
  }

  private readStats(): SrtStats | undefined {
    const conn = this.session?.connection;
    if (!conn) return undefined;
    const s = parseSrtStats(conn.sink.get(SINK, 'stats'), this.mode);
    if (s) this.lastStats = s;
    return s;
  }

  /** Attempts with backoff until connected (caller) or listening (listener); see RtmpDestination.connect. */
  private connect(session: Session, first?: Error): Promise<void> {
    const signal = session.abort.signal;
    return new Promise<void>((resolve, reject) => {
      let retrying = false;
      attemptUntilReady(
        {
          attempt: (s) => this.attempt(session, s),
          undo: () => this.dropConnection(session),
          retryable: (err, tries) => this.retryable(session, err, tries),
          retrying: (info) => {
            if (!retrying) {
              retrying = true;
              this.status.to('reconnecting');
              resolve();
            }
            const reason = this.redactor.scrubError(info.reason);
            this.status.error(reason);
            this.emit('reconnect', { attempt: info.attempt, delayMs: info.delayMs, reason: reason.message });
            session.log.info({ destination: this.name, attempt: info.attempt, delayMs: info.delayMs, err: reason.message }, 'reconnecting SRT');
          },
        },
        { backoff: this.backoff, attemptTimeoutMs: this.#target.connectTimeoutMs + ATTEMPT_MARGIN_MS, signal, first },
      ).then(
        () => {
          if (signal.aborted || this.session !== session) return resolve();
          session.connections++;
          this.status.reconnects = session.connections - 1;
          session.log.info({ destination: this.name, connection: session.connections }, this.mode === 'caller' ? 'SRT connected' : 'SRT listening');
          this.status.to('streaming');
          resolve();
        },
        (err: Error) => {
          if (signal.aborted || this.session !== session) return resolve();
          if (!retrying && this.status.is('opening')) return reject(err);
          this.fail(session, err);
          resolve();
        },
      );
    });
  }

  private retryable(session: Session, err: Error, tries: number): boolean {
    // Not srtsink's: the pipeline could not be built (final), or an attempt's time ran out.
    if (!(err instanceof SrtError)) return tries > 1;
    if (err.code !== 'SRT_REJECTED') return err.code !== 'SRT_LISTEN_FAILED' || session.connections > 0;
    session.rejections++;
    return session.rejections < SRT_MAX_REJECTIONS;
  }

  /** One try: a fresh run of the pipeline; resolves once connected (caller) or listening (listener). */
  private attempt(session: Session, signal: AbortSignal): Promise<void> {
    // Pooled pipelines are shared by description: a passphrase or stream id set on one must never
    // linger in a destination without, so those have descriptions (names) of their own.
    const variant = `${this.#passphrase ? 'e' : ''}${this.#streamId ? 's' : ''}`;
    const sink = new EncodedSink(session.video, `mpegtsmux name=mux${variant} alignment=7 ! srtsink name=${SINK} sync=false`, 'byte-stream');
    const conn: Connection = { sink, startedAt: Date.now(), firstPushAt: undefined, up: false, peers: 0, ptsBase: undefined, monitor: undefined };
    session.connection = conn;
    // The uri first: setting it resets what its query does not name. Secrets after, as properties.
    sink.set(SINK, 'uri', this.#target.uri);
    if (this.#passphrase) sink.set(SINK, 'passphrase', this.#passphrase);
    if (this.#streamId) sink.set(SINK, 'streamid', this.#streamId);
    // Each connection starts at a keyframe: ask for one rather than wait a whole GOP.
    this.gate.reset();
    if (session.connections > 0 || session.rejections > 0 || this.status.is('reconnecting')) session.link.requestKeyframe();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err) {
          clearInterval(conn.monitor);
          return reject(err);
        }
        conn.up = true;
        if (this.mode === 'caller') session.rejections = 0;
        resolve();
      };
      const onAbort = () => settle(new SrtError('SRT_UNREACHABLE', this.noAnswer(), SINK));
      signal.addEventListener('abort', onAbort, { once: true });
      const timeout = setTimeout(onAbort, this.#target.connectTimeoutMs);
      timeout.unref();
      sink.start({
        onStarted: () => {
          if (this.mode === 'listener') {
            clearTimeout(timeout);
            settle();
          }
        },
        onError: (err) => {
          clearTimeout(timeout);
          const e = this.explain(err, conn);
          if (!settled) return settle(e);
          this.connectionLost(session, conn, e);
        },
        onEos: () => this.connectionLost(session, conn, new SrtError('SRT_CONNECTION_LOST', 'the SRT pipeline ended unexpectedly', SINK)),
      });
      // srtsink's stats say when a caller is connected, and how many callers a listener has.
      conn.monitor = setInterval(() => {
        const s = parseSrtStats(sink.get(SINK, 'stats'), this.mode);
        if (!s) return;
        this.lastStats = s;
        const before = conn.peers;
        conn.peers = s.peers;
        if (this.mode === 'caller') {
          if (s.peers > 0 && !settled) {
            clearTimeout(timeout);
            settle();
          } else if (s.peers === 0 && before > 0) {
            this.connectionLost(session, conn, new SrtError('SRT_CONNECTION_LOST', `the SRT connection to ${this.peer} was closed by the listener`, SINK));
          }
        } else if (s.peers > before) {
          // A new caller starts at a keyframe with parameter sets.
          this.gate.reset();
          session.link.requestKeyframe();
          session.log.info({ destination: this.name, callers: s.peers }, 'SRT caller connected');
        } else if (s.peers < before) {
          session.log.info({ destination: this.name, callers: s.peers }, 'SRT caller left');
          if (s.peers === 0 && this.drain.cancel()) this.emit('drain');
        }
      }, POLL_MS);
      conn.monitor.unref();
    });
  }

  /** host:port, for messages: the destination's name is put in front of them already. */
  private get peer(): string {
    return `${this.#target.host}:${this.#target.port}`;
  }

  private noAnswer(): string {
    return this.mode === 'caller'
      ? `no SRT connection to ${this.peer} within ${this.#target.connectTimeoutMs / 1000} s: nothing listens there, or it is unreachable`
      : `could not listen on UDP ${this.peer}`;
  }

  /** srtsink's error in words a user can act on, secrets masked. */
  private explain(err: GstError, conn: Connection): SrtError {
    const text = this.redactor.scrub(`${err.message}`);
    const debug = err.debug === undefined ? undefined : this.redactor.scrub(err.debug);
    if (err instanceof SrtError) return err;
    if (this.mode === 'listener' && !conn.up) return new SrtError('SRT_LISTEN_FAILED', `could not listen on UDP ${this.peer} (is the port taken?): ${text}`, err.element, debug);
    if (/authenticat|passphrase|badsecret/i.test(text)) return new SrtError('SRT_REJECTED', `the SRT listener at ${this.peer} refused the passphrase: ${text}`, err.element, debug);
    if (this.mode === 'caller' && !conn.up) {
      const now = Date.now();
      if (now - conn.startedAt < REJECTED_WITHIN_MS && now - (conn.firstPushAt ?? conn.startedAt) < REJECTED_AFTER_PUSH_MS) {
        return new SrtError(
          'SRT_REJECTED',
          `the SRT listener at ${this.peer} refused the connection: a wrong or missing passphrase, a pbkeylen it does not take, or a streamId it refuses (${text})`,
          err.element, debug,
        );
      }
      return new SrtError('SRT_UNREACHABLE', `no SRT connection to ${this.peer}: nothing listens there, or it is unreachable (${text})`, err.element, debug);
    }
    return new SrtError('SRT_CONNECTION_LOST', `lost the SRT connection to ${this.peer}: ${text}`, err.element, debug);
  }

  private connectionLost(session: Session, conn: Connection, err: SrtError): void {
    if (this.session !== session || session.connection !== conn || !this.status.is('streaming')) return;
    const producerWaits = this.drain.cancel();
    session.log.warn({ destination: this.name, err: err.message }, 'lost the SRT connection');
    void this.connect(session, err);
    if (producerWaits) this.emit('drain');
  }

  private fail(session: Session, err: Error): void {
    this.status.error(this.redactor.scrubError(err));
    session.log.error({ destination: this.name, err: this.status.lastError }, 'SRT destination failed for good');
    this.endSession(session);
    this.status.to('failed');
  }

  private dropConnection(session: Session): void {
    const conn = session.connection;
    if (!conn) return;
    session.connection = undefined;
    clearInterval(conn.monitor);
    session.bytesBefore += parseSrtStats(conn.sink.get(SINK, 'stats'), this.mode)?.bytesSent ?? this.lastStats?.bytesSent ?? 0;
    this.lastStats = undefined;
    // Only a run that connected goes back to the pool: srtsink 1.22 played again after a connect
    // that failed blocks for ever on the next refusal, where a fresh one reports it at once.
    conn.sink.stop(conn.up);
  }

  private endSession(session: Session): void {
    this.drain.cancel();
    session.abort.abort(new Error('closed'));
    this.dropConnection(session);
    this.status.bytesOut = session.bytesBefore;
    if (this.session === session) this.session = undefined;
  }
}
