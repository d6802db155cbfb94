/**
 * PutMedia producer: fragments encoded H.264 into MKV clusters, streams them
 * over PutMedia, and keeps every fragment until KVS says PERSISTED. On faults it
 * reconnects with backoff, sends the MKV header again and resends what is not yet
 * persisted; fragments older than the buffer window are dropped and counted.
 * Connections are rotated before service limits and before credentials expire.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AccessUnit } from '../h264/access-unit.js';
import { clusterStart, simpleBlock, streamHeader, type VideoTrackInfo } from '../mkv/writer.js';
import type { Ack } from './acks.js';
import type { ControlPlane, StreamDescription } from './control-plane.js';
import type { CredentialSource } from './credentials.js';
import { ackError, KvsError, type Remedy } from './errors.js';
import { Fragmenter, type Fragment } from './fragmenter.js';
import { PutMediaConnection } from './putmedia-connection.js';

export interface ProducerOptions {
  streamName: string;
  region: string;
  credentials: CredentialSource;
  controlPlane: ControlPlane;
  width: number;
  height: number;
  fps?: number;
  /** Unpersisted fragments are kept this long for resending (default 120 s, like kvssink). */
  bufferSeconds?: number;
  /** Target fragment duration in seconds (default 2). */
  fragmentSeconds?: number;
  requestKeyframe?: () => void;
  /** Rotate the PutMedia connection after this long (default 40 min). */
  rotateAfterMs?: number;
  /** Backoff after faults: first delay and cap, ms. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Reconnect when sent fragments get no ack at all for this long. */
  stallTimeoutMs?: number;
  /** A fragment answered with retryable ERROR acks this often is dropped. */
  maxFragmentAttempts?: number;
  log?: ProducerLog;
}

export interface ProducerLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface KvsAckEvent extends Ack {
  connectionId: number;
  /** PERSISTED only: ms from the arrival of the fragment's last frame to this ack. */
  latencyMs?: number;
}

export interface ProducerStats {
  fragmentsStarted: number;
  fragmentsPersisted: number;
  /** Fragments that fell out of the buffer window unpersisted. */
  fragmentsDropped: number;
  /** Fragments KVS refused as invalid (ERROR acks that resending cannot fix). */
  fragmentsRejected: number;
  /** Frames dropped while waiting for a keyframe. */
  framesDropped: number;
  framesIn: number;
  bufferedFragments: number;
  bufferedMs: number;
  connections: number;
  reconnects: number;
  rotations: number;
  errorAcks: Record<string, number>;
  bytesSent: number;
  /** put()-to-PERSISTED latency, ms: from the arrival of a fragment's last frame to its PERSISTED ack. */
  persistLatencyMs: { last?: number; p50?: number; p95?: number; max?: number; samples: number };
  /** Same, from the fragment's first frame (includes the fragment's own duration). */
  persistLatencyFromFirstFrameMs: { p50?: number; max?: number };
  lastPersistedAt?: number;
}

export interface ProducerEvents {
  ack: [KvsAckEvent];
  /** A fault that was handled (the stream goes on). */
  fault: [KvsError];
  /** A permanent failure: the producer has stopped. */
  error: [KvsError];
}

interface Active {
  conn: PutMediaConnection;
  /** Next fragment seq / frame index to write. */
  seq: number;
  frame: number;
  /** The cluster header for `seq` has been written. */
  started: boolean;
  track: VideoTrackInfo;
  credentialsExpireAt?: number;
  lastAckAt: number;
  waitingDrain: boolean;
}

function percentile(sorted: number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

export class PutMediaProducer extends EventEmitter<ProducerEvents> {
  readonly description?: StreamDescription;
  private readonly buffer: Fragment[] = [];
  private readonly fragmenter: Fragmenter;
  private active?: Active;
  private readonly draining = new Set<PutMediaConnection>();
  private connecting = false;
  private reconnectTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private failures = 0;
  private authFailures = 0;
  private closing = false;
  private stopped = false;
  private fatalError?: KvsError;
  private readonly bufferMs: number;
  private readonly rotateAfterMs: number;
  private readonly latencies: number[] = [];
  private readonly latenciesFirst: number[] = [];
  private s = {
    fragmentsStarted: 0,
    fragmentsPersisted: 0,
    fragmentsDropped: 0,
    fragmentsRejected: 0,
    connections: 0,
    reconnects: 0,
    rotations: 0,
    errorAcks: {} as Record<string, number>,
    bytesSent: 0,
    lastLatency: undefined as number | undefined,
    lastPersistedAt: undefined as number | undefined,
  };
  private readonly log: ProducerLog;

  constructor(private readonly opts: ProducerOptions) {
    super();
    this.bufferMs = (opts.bufferSeconds ?? 120) * 1000;
    this.rotateAfterMs = opts.rotateAfterMs ?? 40 * 60_000;
    const noop = (): void => {};
    this.log = opts.log ?? { debug: noop, info: noop, warn: noop, error: noop };
    this.fragmenter = new Fragmenter(
      {
        width: opts.width,
        height: opts.height,
        fps: opts.fps,
        fragmentMs: (opts.fragmentSeconds ?? 2) * 1000,
        requestKeyframe: opts.requestKeyframe ?? noop,
      },
      {
        fragmentStart: (f) => this.onFragmentStart(f),
        frame: () => this.pump(),
        fragmentEnd: () => this.pump(),
      },
    );
  }

  /** Checks (or creates) the stream; connections open when the first keyframe arrives. */
  async start(): Promise<StreamDescription> {
    const d = await this.opts.controlPlane.ensureStream();
    (this as { description?: StreamDescription }).description = d;
    // Fail early on bad credentials or a missing endpoint rather than at the first fragment.
    await this.opts.controlPlane.dataEndpoint();
    this.watchdog = setInterval(() => this.checkStall(), 1000);
    this.watchdog.unref();
    return d;
  }

  /** Feeds one encoded access unit (decode order). */
  push(au: AccessUnit): void {
    if (this.stopped || this.closing) return;
    this.fragmenter.push(au);
  }

  get error(): KvsError | undefined {
    return this.fatalError;
  }

  stats(): ProducerStats {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const sortedFirst = [...this.latenciesFirst].sort((a, b) => a - b);
    const unpersisted = this.buffer.filter((f) => !f.persisted);
    const newest = this.buffer[this.buffer.length - 1];
    return {
      fragmentsStarted: this.s.fragmentsStarted,
      fragmentsPersisted: this.s.fragmentsPersisted,
      fragmentsDropped: this.s.fragmentsDropped,
      fragmentsRejected: this.s.fragmentsRejected,
      framesDropped: this.fragmenter.framesDropped,
      framesIn: this.fragmenter.framesIn,
      bufferedFragments: unpersisted.length,
      bufferedMs: unpersisted.length && newest ? newest.timecodeMs - unpersisted[0]!.timecodeMs : 0,
      connections: this.s.connections,
      reconnects: this.s.reconnects,
      rotations: this.s.rotations,
      errorAcks: { ...this.s.errorAcks },
      bytesSent: this.s.bytesSent,
      persistLatencyMs: {
        last: this.s.lastLatency,
        p50: percentile(sorted, 0.5),
        p95: percentile(sorted, 0.95),
        max: sorted[sorted.length - 1],
        samples: sorted.length,
      },
      persistLatencyFromFirstFrameMs: { p50: percentile(sortedFirst, 0.5), max: sortedFirst[sortedFirst.length - 1] },
      lastPersistedAt: this.s.lastPersistedAt,
    };
  }

  /**
   * Ends the stream: closes the last fragment, waits (up to timeoutMs) for
   * everything buffered to be persisted, then closes all connections.
   * Resolves with the number of fragments left unpersisted.
   */
  async stop(timeoutMs = 10_000): Promise<number> {
    if (this.stopped) return this.buffer.filter((f) => !f.persisted).length;
    this.closing = true;
    this.fragmenter.flush();
    this.pump();
    const deadline = Date.now() + timeoutMs;
    while (!this.fatalError && this.buffer.some((f) => !f.persisted) && Date.now() < deadline) {
      if (this.active && !this.active.conn.isEnding && this.allWritten(this.active)) this.endActive();
      if (!this.active && !this.connecting && !this.reconnectTimer && this.draining.size === 0) void this.connect();
      await new Promise((r) => setTimeout(r, 20));
    }
    const left = this.buffer.filter((f) => !f.persisted).length;
    this.shutdown();
    if (left > 0) this.log.warn({ fragments: left }, 'KVS: fragments not persisted at stop');
    return left;
  }

  /** Stops at once, dropping what is buffered. */
  destroy(): void {
    this.closing = true;
    this.shutdown();
  }

  private shutdown(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    clearInterval(this.watchdog);
    this.active?.conn.destroy();
    this.active = undefined;
    for (const c of this.draining) c.destroy();
    this.draining.clear();
  }

  // ------------------------------------------------------------ fragments

  private onFragmentStart(f: Fragment): void {
    this.s.fragmentsStarted++;
    const a = this.active;
    if (a && !this.closing) {
      const age = Date.now() - a.conn.openedAt;
      const credsDue = a.credentialsExpireAt !== undefined && a.credentialsExpireAt - Date.now() <= this.opts.credentials.refreshMarginMs;
      const trackChanged = !a.track.codecPrivate.equals(f.track.codecPrivate);
      if (age >= this.rotateAfterMs || credsDue || trackChanged) {
        // The previous fragment is complete on the old connection (before this one joins the
        // buffer); the new connection starts at this keyframe.
        this.log.info({ connection: a.conn.id, ageMs: age, credsDue, trackChanged }, 'KVS: rotating PutMedia connection');
        this.s.rotations++;
        this.endActive();
      }
    }
    this.buffer.push(f);
    this.trimBuffer(f.timecodeMs);
    if (!this.active) void this.connect();
    else this.pump();
  }

  /** Drops unpersisted fragments that fell out of the buffer window. */
  private trimBuffer(newestTc: number): void {
    while (this.buffer.length > 1) {
      const oldest = this.buffer[0]!;
      if (oldest.persisted) {
        this.buffer.shift();
        continue;
      }
      if (newestTc - oldest.timecodeMs <= this.bufferMs) break;
      this.buffer.shift();
      this.s.fragmentsDropped++;
      this.log.warn({ timecode: oldest.timecodeMs }, 'KVS: fragment dropped unpersisted (older than bufferSeconds)');
    }
  }

  private findFragment(timecode: number | undefined): Fragment | undefined {
    if (timecode === undefined) return undefined;
    return this.buffer.find((f) => f.timecodeMs === timecode);
  }

  private removeFragment(f: Fragment): void {
    const i = this.buffer.indexOf(f);
    if (i >= 0) this.buffer.splice(i, 1);
  }

  /** First fragment a new connection should send: oldest unpersisted not in flight elsewhere. */
  private firstToSend(): Fragment | undefined {
    const inFlight = new Set([...this.draining].map((c) => c.id));
    return this.buffer.find((f) => !f.persisted && !(f.sentOn !== undefined && inFlight.has(f.sentOn)));
  }

  private allWritten(a: Active): boolean {
    const last = this.buffer[this.buffer.length - 1];
    if (!last) return true;
    return last.complete && (a.seq > last.seq || (a.seq === last.seq && a.frame >= last.frames.length));
  }

  // ------------------------------------------------------------ connections

  private endActive(): void {
    const a = this.active;
    if (!a) return;
    this.active = undefined;
    this.draining.add(a.conn);
    a.conn.end();
  }

  private backoff(remedy: Remedy): number {
    if (remedy === 'reconnect') return 0;
    const base = (remedy === 'throttle' ? 4 : 1) * (this.opts.backoffBaseMs ?? 250);
    const max = this.opts.backoffMaxMs ?? 15_000;
    const d = Math.min(max, base * 2 ** Math.min(this.failures, 16));
    this.failures++;
    return Math.round(d / 2 + (Math.random() * d) / 2);
  }

  private scheduleReconnect(remedy: Remedy): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.backoff(remedy);
    this.s.reconnects++;
    this.log.debug({ delayMs: delay, remedy }, 'KVS: reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
  }

  private async connect(): Promise<void> {
    if (this.stopped || this.active || this.connecting || this.reconnectTimer) return;
    const first = this.firstToSend();
    if (!first) return;
    this.connecting = true;
    try {
      const creds = await this.opts.credentials.get();
      const endpoint = await this.opts.controlPlane.dataEndpoint();
      if (this.stopped) return;
      const again = this.firstToSend();
      if (!again) return;
      const conn = new PutMediaConnection({
        dataEndpoint: endpoint,
        streamName: this.opts.streamName,
        region: this.opts.region,
        credentials: creds,
        producerStartMs: again.timecodeMs,
      });
      this.s.connections++;
      const a: Active = {
        conn,
        seq: again.seq,
        frame: 0,
        started: false,
        track: again.track,
        credentialsExpireAt: creds.expiration?.getTime(),
        lastAckAt: Date.now(),
        waitingDrain: false,
      };
      this.active = a;
      conn.on('ack', (ack) => this.onAck(conn, ack));
      conn.once('close', (err) => this.onClose(conn, err));
      this.write(a, streamHeader(again.track, { segmentUuid: randomBytes(16) })); // counted in bytesSent: it is on the wire
      this.log.debug({ connection: conn.id, fromTimecode: again.timecodeMs }, 'KVS: PutMedia connection opening');
      this.pump();
      await conn.open();
    } catch (err) {
      const e = err instanceof KvsError ? err : new KvsError(`KVS connect failed: ${(err as Error).message}`, { remedy: 'retry' });
      if (this.active && !this.active.conn.isClosed) this.active.conn.destroy(e);
      else void this.handleFailure(e);
    } finally {
      this.connecting = false;
    }
  }

  /** Writes everything after the active connection's cursor. */
  private pump(): void {
    const a = this.active;
    if (!a || a.waitingDrain || a.conn.isEnding || a.conn.isClosed) return;
    let i = this.buffer.findIndex((f) => f.seq >= a.seq);
    if (i < 0) return;
    while (i < this.buffer.length) {
      const f = this.buffer[i]!;
      if (f.seq !== a.seq) {
        a.seq = f.seq;
        a.frame = 0;
        a.started = false;
      }
      if (f.persisted && !a.started) {
        i++;
        a.seq = f.seq + 1;
        continue;
      }
      if (!a.track.codecPrivate.equals(f.track.codecPrivate)) {
        // New SPS/PPS need a new MKV header: continue on a fresh connection.
        this.endActive();
        void this.connect();
        return;
      }
      let ok = true;
      if (!a.started) {
        a.started = true;
        ok = this.write(a, clusterStart(f.timecodeMs));
      }
      while (a.frame < f.frames.length) {
        const fr = f.frames[a.frame++]!;
        ok = this.write(a, simpleBlock(fr.timecodeMs - f.timecodeMs, fr.keyframe, fr.data)) && ok;
        if (!ok) break;
      }
      if (a.frame >= f.frames.length && f.complete) {
        f.sentOn = a.conn.id;
        a.seq = f.seq + 1;
        a.frame = 0;
        a.started = false;
        i++;
      } else if (a.frame >= f.frames.length) {
        if (!ok) this.waitDrain(a);
        return; // open fragment: wait for more frames
      }
      if (!ok) {
        this.waitDrain(a);
        return;
      }
    }
    if (this.closing && this.allWritten(a)) this.endActive();
  }

  private write(a: Active, b: Buffer): boolean {
    this.s.bytesSent += b.length;
    return a.conn.write(b);
  }

  private waitDrain(a: Active): void {
    a.waitingDrain = true;
    void a.conn.drain().then(() => {
      a.waitingDrain = false;
      this.pump();
    });
  }

  private onAck(conn: PutMediaConnection, ack: Ack): void {
    if (this.active?.conn === conn) this.active.lastAckAt = Date.now();
    const event: KvsAckEvent = { ...ack, connectionId: conn.id };
    const f = this.findFragment(ack.FragmentTimecode);
    if (ack.EventType === 'PERSISTED' && f && !f.persisted) {
      f.persisted = true;
      const now = Date.now();
      event.latencyMs = now - f.lastArrivalMs;
      this.s.lastLatency = event.latencyMs;
      this.s.lastPersistedAt = now;
      this.pushSample(this.latencies, event.latencyMs);
      this.pushSample(this.latenciesFirst, now - f.firstArrivalMs);
      this.s.fragmentsPersisted++;
      this.failures = 0;
      this.authFailures = 0;
      if (f.complete) this.removeFragment(f);
    }
    this.emit('ack', event);
    if (ack.EventType !== 'ERROR') return;

    const info = ackError(ack.ErrorId ?? 0, ack.ErrorCode);
    const key = String(ack.ErrorId ?? 'unknown');
    this.s.errorAcks[key] = (this.s.errorAcks[key] ?? 0) + 1;
    const msg = `KVS stream "${this.opts.streamName}": ${info.message} (ErrorId ${ack.ErrorId} ${info.code})`;
    const err = new KvsError(msg, { errorId: ack.ErrorId, remedy: info.remedy });
    if (info.remedy === 'fatal') return this.fatal(err);
    if (f && info.remedy === 'drop') {
      this.removeFragment(f);
      this.s.fragmentsRejected++;
    } else if (f && info.remedy === 'retry' && ++f.attempts >= (this.opts.maxFragmentAttempts ?? 10)) {
      this.removeFragment(f);
      this.s.fragmentsRejected++;
    }
    // KVS ends the connection after an ERROR ack: reconnect and resend what is left.
    conn.destroy(err);
  }

  private pushSample(list: number[], v: number): void {
    list.push(v);
    if (list.length > 512) list.shift();
  }

  private onClose(conn: PutMediaConnection, err: KvsError | undefined): void {
    if (this.draining.delete(conn)) {
      // A rotated connection finished: anything it sent but KVS did not persist is resent.
      const lost = this.buffer.some((f) => !f.persisted && f.sentOn === conn.id);
      if (err) this.emit('fault', err);
      if (lost && !this.stopped) {
        this.log.warn({ connection: conn.id }, 'KVS: rotated connection closed before persisting everything; resending');
        if (this.active) this.active.conn.destroy(new KvsError('resend after rotation', { remedy: 'reconnect' }));
        else void this.connect();
      }
      return;
    }
    if (this.active?.conn !== conn) return;
    this.active = undefined;
    if (this.stopped) return;
    if (!err) {
      void this.connect();
      return;
    }
    void this.handleFailure(err);
  }

  private async handleFailure(err: KvsError): Promise<void> {
    if (this.stopped) return;
    const remedy = err.details.remedy;
    if (remedy === 'fatal') return this.fatal(err);
    this.emit('fault', err);
    this.log.warn({ err: err.message, remedy }, 'KVS: PutMedia fault');
    if (remedy === 'auth') {
      this.authFailures++;
      let fresh = false;
      try {
        fresh = await this.opts.credentials.refresh();
      } catch (e) {
        return this.fatal(new KvsError(`${err.message}; refreshing credentials failed: ${(e as Error).message}`, { remedy: 'fatal' }));
      }
      if (!fresh || this.authFailures >= 3) return this.fatal(new KvsError(err.message, { ...err.details, remedy: 'fatal' }));
    }
    if (remedy === 'endpoint' || remedy === 'retry' || remedy === 'auth') this.opts.controlPlane.invalidateEndpoint();
    this.scheduleReconnect(remedy);
  }

  private checkStall(): void {
    const a = this.active;
    if (!a || this.stopped) return;
    const waiting = this.buffer.some((f) => !f.persisted && f.sentOn === a.conn.id);
    if (waiting && Date.now() - a.lastAckAt > (this.opts.stallTimeoutMs ?? 30_000)) {
      a.conn.destroy(new KvsError('KVS sent no acks in time; reconnecting', { remedy: 'retry' }));
    }
  }

  private fatal(err: KvsError): void {
    if (this.fatalError) return;
    this.fatalError = err;
    this.log.error({ err: err.message }, 'KVS: stopping');
    this.shutdown();
    this.emit('error', err);
  }
}
