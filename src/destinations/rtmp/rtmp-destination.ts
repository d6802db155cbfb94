// RtmpDestination: publishes encoded access units as H.264 in FLV to an RTMP(S) relay. Each
// connection is one run of a pooled `appsrc ! h264parse ! flvmux ! rtmp2sink` pipeline; a relay
// that goes away is reconnected with capped exponential backoff while units are dropped, and
// every new connection starts at a keyframe with its FLV timestamps near 0.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { type ReconnectOptions, withDefaults } from '../../backoff.js';
import { attemptUntilReady } from '../../delivery/attempts.js';
import { EncodedSink } from '../../gst/encoded-sink.js';
import { GstError } from '../../gst/pipeline.js';
import type { AccessUnit } from '../../h264/access-unit.js';
import { Redactor } from '../../log.js';
import { explainRtmpError } from '../../rtmp/errors.js';
import {
  outBytes, pickRtmpSink, retryableRtmpError, RTMP_SINK, RtmpByteCount, rtmpPublishSettings, rtmpTail, waitForPublish,
  type RtmpPublishOptions, type RtmpPublishSettings, type RtmpSinkElement,
} from '../../rtmp/publish.js';
import { redactTarget, rtmpTarget, type RtmpTarget, type RtmpTargetOptions } from '../../rtmp/url.js';
import { DestinationError, type Destination, type DestinationEvents, type DestinationLink, type DestinationState, type DestinationStats, type VideoInfo } from '../destination.js';
import { DrainPoll } from '../drain.js';
import { DestinationStatus, KeyframeGate } from '../status.js';

export interface RtmpDestinationOptions extends RtmpTargetOptions, RtmpPublishOptions {
  /** Backoff between attempts while the relay is away. */
  reconnect?: ReconnectOptions;
}

/** write() returns false while appsrc holds this many buffers or more. */
export const RTMP_QUEUE_LIMIT = 8;
/** An attempt's own bound beyond connectTimeoutMs (the pipeline start). */
const ATTEMPT_MARGIN_MS = 5000;

/** One connection: a run of the pipeline and whether the relay accepted its publish. */
interface Connection {
  sink: EncodedSink;
  published: boolean;
  /** The producer's PTS of the first unit sent on this connection: its FLV time 0. */
  ptsBase: number | undefined;
}

/** One open()..close(): what a late callback of an earlier one must not touch. */
interface Session {
  abort: AbortController;
  video: VideoInfo;
  link: DestinationLink;
  log: Logger;
  connection: Connection | undefined;
  /** Publishes accepted this session. */
  connections: number;
  bytes: RtmpByteCount;
}

/** Longest dispose() waits for a close it has to do itself. */
const DISPOSE_TIMEOUT_MS = 5000;

export class RtmpDestination extends EventEmitter<DestinationEvents> implements Destination {
  readonly kind = 'rtmp';
  readonly live = true;
  /** The relay URL with the stream key masked. */
  readonly name: string;
  /** Holds the stream key: an ES private field, so inspecting or serializing never shows it. */
  readonly #target: RtmpTarget;
  private readonly settings: RtmpPublishSettings;
  private readonly backoff: Required<ReconnectOptions>;
  private readonly status: DestinationStatus;
  private readonly gate = new KeyframeGate();
  private readonly redactor: Redactor;
  private element: RtmpSinkElement | undefined;
  private session: Session | undefined;
  private keyframeAsked = false;
  private readonly drain = new DrainPoll(
    () => (this.session?.connection?.sink.level() ?? 0) < RTMP_QUEUE_LIMIT / 2,
    () => {
      if (this.status.is('streaming')) this.emit('drain');
    },
  );

  /** Throws RtmpUrlError for a bad URL (key never in the message), RangeError for bad settings. */
  constructor(options: RtmpDestinationOptions) {
    super();
    if (!options || typeof options !== 'object') throw new TypeError('RtmpDestination needs options: { url } or { host, streamKey }');
    this.#target = rtmpTarget(options);
    this.settings = rtmpPublishSettings(options);
    this.backoff = withDefaults(options.reconnect);
    // The whole URL too: a key under 4 characters is not scrubbed on its own, but is inside the URL.
    this.redactor = redactTarget(new Redactor(), this.#target);
    this.name = this.#target.masked;
    this.status = new DestinationStatus(this, this.kind, this.name);
  }

  get state(): DestinationState {
    return this.status.state;
  }

  /** True while a publish is accepted and units go to the relay. */
  get connected(): boolean {
    return this.status.is('streaming') && this.session?.connection?.published === true;
  }

  /** The GStreamer element used (known after the first open()). */
  get sinkElement(): RtmpSinkElement | undefined {
    return this.element;
  }

  async open(video: VideoInfo, link: DestinationLink): Promise<void> {
    if (!this.status.is('idle')) throw new Error(`${this.name}: open() while ${this.status.state} (close() it first)`);
    link.addSecret(this.#target.url);
    for (const s of this.#target.secrets) link.addSecret(s);
    this.status.reset();
    this.status.to('opening');
    const session: Session = { abort: new AbortController(), video, link, log: link.log, connection: undefined, connections: 0, bytes: new RtmpByteCount() };
    this.session = session;
    try {
      this.element ??= await pickRtmpSink(this.settings.sinkElement);
      if (session.abort.signal.aborted) return;
      session.log.info({ destination: this.name, sink: this.element }, 'publishing to RTMP relay');
      await this.connect(session);
    } catch (err) {
      // The first attempt failed for good: give back what it took, then report.
      this.endSession(session);
      const e = new DestinationError(this.name, this.redactor.scrubError(err as Error));
      this.status.lastError = e.message;
      this.status.to('failed');
      throw e;
    }
  }

  write(au: AccessUnit): boolean {
    const conn = this.session?.connection;
    if (conn?.published && this.status.is('streaming') && (this.gate.open || au.keyframe)) {
      if (conn.sink.level() >= RTMP_QUEUE_LIMIT) {
        // Not taken: the producer offers it again after 'drain'.
        this.drain.arm();
        return false;
      }
      this.status.unitsIn++;
      this.gate.pass(au.keyframe);
      conn.ptsBase ??= au.ptsNs;
      conn.sink.push(au, au.ptsNs - conn.ptsBase);
      return true;
    }
    // No publish to take it (reconnecting, closed), or waiting for a keyframe: dropped, never
    // held by the producer.
    this.status.unitsIn++;
    this.status.unitsDropped++;
    if (conn?.published && this.status.is('streaming') && !this.keyframeAsked) {
      this.keyframeAsked = true;
      this.session!.link.requestKeyframe();
    }
    return true;
  }

  async close(signal: AbortSignal): Promise<void> {
    const session = this.session;
    if (!session || this.status.is('closing')) {
      if (this.status.is('failed')) this.status.to('idle');
      return;
    }
    const conn = session.connection;
    const flush = this.status.is('streaming') && conn?.published === true;
    this.status.to('closing');
    this.drain.cancel();
    // What flvmux holds goes out before the connection closes.
    if (flush) await conn.sink.finish(signal);
    this.endSession(session);
    this.status.to('idle');
    session.log.info({ destination: this.name, connections: session.connections }, 'RTMP publish closed');
  }

  async dispose(): Promise<void> {
    if (!this.status.is('idle')) await this.close(AbortSignal.timeout(DISPOSE_TIMEOUT_MS));
  }

  stats(): DestinationStats {
    return { ...this.status.stats(), bytesOut: this.bytesOut() };
  }

  private bytesOut(): number {
    const session = this.session;
    if (!session) return this.status.bytesOut;
    const conn = session.connection;
    if (conn && this.element === 'rtmp2sink') this.status.bytesOut = session.bytes.update(outBytes(conn.sink.get(RTMP_SINK, 'stats')));
    else this.status.bytesOut = session.bytes.total;
    return this.status.bytesOut;
  }

  /**
   * Runs attempts with backoff until a publish is accepted. Resolves once streaming, or once the
   * first attempt failed in a way worth retrying (state 'reconnecting'); rejects when the first
   * attempt failed for good. Later outcomes move the state on their own.
   */
  private connect(session: Session, first?: Error): Promise<void> {
    const signal = session.abort.signal;
    return new Promise<void>((resolve, reject) => {
      let retrying = false;
      attemptUntilReady(
        {
          attempt: (s) => this.attempt(session, s),
          undo: () => this.dropConnection(session),
          retryable: (err, tries) => (err instanceof GstError ? retryableRtmpError(err) : tries > 1),
          retrying: (info) => {
            if (!retrying) {
              retrying = true;
              this.status.to('reconnecting');
              resolve();
            }
            const reason = this.redactor.scrubError(info.reason);
            this.status.error(reason);
            this.emit('reconnect', { attempt: info.attempt, delayMs: info.delayMs, reason: reason.message });
            session.log.info({ destination: this.name, attempt: info.attempt, delayMs: info.delayMs, err: reason.message }, 'reconnecting to the RTMP relay');
          },
        },
        { backoff: this.backoff, attemptTimeoutMs: this.settings.connectTimeoutMs + ATTEMPT_MARGIN_MS, signal, first },
      ).then(
        () => {
          if (signal.aborted || this.session !== session) return resolve();
          session.connections++;
          this.status.reconnects = session.connections - 1;
          // Each connection starts at a keyframe: ask for one rather than wait a whole GOP.
          this.gate.reset();
          this.keyframeAsked = session.connections > 1;
          if (this.keyframeAsked) session.link.requestKeyframe();
          session.log.info({ destination: this.name, connection: session.connections }, 'RTMP publish accepted');
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

  /** One try: a fresh run of the pipeline; resolves once the relay accepted the publish. */
  private attempt(session: Session, signal: AbortSignal): Promise<void> {
    const sink = new EncodedSink(session.video, rtmpTail(this.element!, this.#target, this.settings));
    const conn: Connection = { sink, published: false, ptsBase: undefined };
    session.connection = conn;
    // Set after parsing: the key never enters a launch string (pooled, logged, in errors).
    sink.set(RTMP_SINK, 'location', this.#target.url);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) return reject(err);
        conn.published = true;
        resolve();
      };
      sink.start({
        onError: (err) => {
          const explained = this.explain(err, conn);
          if (!settled) return settle(explained);
          this.connectionLost(session, conn, explained);
        },
        onEos: () => this.connectionLost(session, conn, new Error('the RTMP pipeline ended unexpectedly')),
      });
      // rtmpsink (librtmp) connects on its first buffer and reports nothing before: a relay that
      // is down shows as the sink's own error then.
      if (this.element !== 'rtmp2sink') return settle();
      waitForPublish(() => sink.get(RTMP_SINK, 'stats'), this.#target, this.settings.connectTimeoutMs, signal).then(() => settle(), (e: Error) => settle(e));
    });
  }

  /** A bus error on an accepted publish: reconnect when another attempt may cure it, else fail. */
  private connectionLost(session: Session, conn: Connection, err: Error): void {
    if (this.session !== session || session.connection !== conn || !this.status.is('streaming')) return;
    this.drain.cancel();
    if (err instanceof GstError && retryableRtmpError(err)) {
      session.log.warn({ destination: this.name, err: err.message }, 'lost the RTMP publish');
      void this.connect(session, err);
    } else {
      this.fail(session, err);
    }
  }

  private fail(session: Session, err: Error): void {
    this.status.error(this.redactor.scrubError(err));
    session.log.error({ destination: this.name, err: this.status.lastError }, 'RTMP publish failed for good');
    this.endSession(session);
    this.status.to('failed');
  }

  /** The sink's error in words a user can act on, secrets masked. */
  private explain(err: GstError, conn: Connection): GstError {
    if (err.element === RTMP_SINK) return explainRtmpError(err, this.#target, { published: conn.published });
    return new GstError(this.redactor.scrub(`${err.element}: ${err.message}`), err.element, err.debug === undefined ? undefined : this.redactor.scrub(err.debug));
  }

  /** Stops the current connection's pipeline, counting what it sent. */
  private dropConnection(session: Session): void {
    const conn = session.connection;
    if (!conn) return;
    session.connection = undefined;
    if (this.element === 'rtmp2sink') session.bytes.update(outBytes(conn.sink.get(RTMP_SINK, 'stats')));
    session.bytes.connectionEnded();
    this.status.bytesOut = session.bytes.total;
    conn.sink.stop();
  }

  private endSession(session: Session): void {
    this.drain.cancel();
    session.abort.abort(new Error('closed'));
    this.dropConnection(session);
    if (this.session === session) this.session = undefined;
  }
}
