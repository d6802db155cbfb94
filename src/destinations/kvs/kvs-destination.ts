/**
 * KvsDestination: encoded video to AWS Kinesis Video Streams, as one destination among others.
 * PutMedia mode: our producer cuts the access units into MKV fragments, streams them with acks,
 * resends after faults and keeps what KVS has not PERSISTED (src/kvs/). The options, checks and
 * producer life are KVSSkyLine's (src/kvs/kvs-stream.ts).
 */
import { EventEmitter } from 'node:events';
import type { AccessUnit } from '../../h264/access-unit.js';
import type { StreamDescription } from '../../kvs/control-plane.js';
import { KvsError } from '../../kvs/errors.js';
import { KvsPutMedia, kvsSettings, type KvsStreamOptions } from '../../kvs/kvs-stream.js';
import type { KvsAckEvent, ProducerStats } from '../../kvs/producer.js';
import { backoffDelay, sleep, withDefaults } from '../../backoff.js';
import { Redactor } from '../../log.js';
import type { Destination, DestinationEvents, DestinationLink, DestinationState, DestinationStats, VideoInfo } from '../destination.js';
import { DrainPoll } from '../drain.js';
import { KvssinkOutput } from './kvssink-output.js';
import { kvssinkAvailable } from '../../kvs/kvssink.js';
import { DestinationStatus, KeyframeGate } from '../status.js';

export type KvsDestinationMode = 'putmedia' | 'kvssink' | 'auto';

export interface KvsDestinationOptions extends KvsStreamOptions {
  /**
   * How video reaches KVS: 'putmedia' (default: our producer, no plugin needed), 'kvssink'
   * (AWS's GStreamer plugin, found through GST_PLUGIN_PATH, in a pipeline of its own), or
   * 'auto' (kvssink when the plugin is found, else PutMedia).
   */
  mode?: KvsDestinationMode;
  /** kvssink content store, MB. Default 128. */
  storageSizeMb?: number;
  /**
   * When the service cannot be reached at open(): true (default) resolves in 'reconnecting' and
   * keeps trying, buffering; false rejects (KVSSkyLine: startStreaming() fails naming the endpoint).
   */
  retryStart?: boolean;
}

type Listener<K extends keyof DestinationEvents> = (...args: DestinationEvents[K]) => void;

/**
 * The destination events plus 'ack' (a PutMedia acknowledgement: BUFFERING, RECEIVED, PERSISTED,
 * ERROR or IDLE). Declared as overloads: an emitter typed with an extra event would not be a
 * Destination (its eventNames() would not match).
 */
export interface KvsDestination {
  on(event: 'ack', listener: (ack: KvsAckEvent) => void): this;
  on<K extends keyof DestinationEvents>(event: K, listener: Listener<K>): this;
  once(event: 'ack', listener: (ack: KvsAckEvent) => void): this;
  once<K extends keyof DestinationEvents>(event: K, listener: Listener<K>): this;
  off(event: 'ack', listener: (ack: KvsAckEvent) => void): this;
  off<K extends keyof DestinationEvents>(event: K, listener: Listener<K>): this;
}

export interface KvsDestinationStats extends DestinationStats {
  /** The producer's own figures: fragments, acks, persist latency, buffer. */
  kvs?: ProducerStats;
}

/** Remedies that mean "the service or the network is not there now", not "this cannot work". */
const RETRYABLE = new Set(['retry', 'throttle', 'endpoint', 'reconnect']);

function retryable(e: Error): boolean {
  // No credentials at all is configuration, not weather.
  return e instanceof KvsError && RETRYABLE.has(e.details.remedy) && e.details.errorType !== 'CredentialsProviderError';
}

export class KvsDestination extends EventEmitter<DestinationEvents> implements Destination {
  readonly kind = 'kvs';
  readonly live = true;
  /** The producer keeps every fragment until PERSISTED, across reconnects. */
  readonly buffersWhileReconnecting = true;
  readonly name: string;
  readonly streamName: string;
  readonly region: string;
  // ES private fields: inspecting the destination never shows a secret.
  readonly #status: DestinationStatus;
  readonly #redactor = new Redactor();
  /** Every secret seen, replayed to each link so the producer masks them too. */
  readonly #secrets = new Set<string>();
  readonly #kvs: KvsPutMedia;
  readonly #gate = new KeyframeGate();
  #link: DestinationLink | undefined;
  /** Aborts the background retries of a start that met a network fault. */
  #starting: AbortController | undefined;
  #description: StreamDescription | undefined;
  /** Units taken while the destination could not deliver (failed) or before a keyframe. */
  #dropped = 0;
  readonly #mode: KvsDestinationMode;
  readonly #retryStartOpt: boolean;
  #using: 'putmedia' | 'kvssink' | undefined;
  readonly #kvssink: KvssinkOutput;
  readonly #drain = new DrainPoll(() => this.#kvssink.hasRoom(), () => this.emit('drain'));

  constructor(options: KvsDestinationOptions) {
    super();
    const settings = kvsSettings(options, 'KvsDestination');
    const mode = options.mode ?? 'putmedia';
    if (!['putmedia', 'kvssink', 'auto'].includes(mode)) throw new RangeError(`mode must be 'putmedia', 'kvssink' or 'auto', got ${JSON.stringify(mode)}`);
    this.#mode = mode;
    this.#retryStartOpt = options.retryStart ?? true;
    this.streamName = settings.streamName;
    this.region = settings.region;
    this.name = `kvs:${settings.region}/${settings.streamName}`;
    this.#status = new DestinationStatus(this, this.kind, this.name);
    this.#kvs = new KvsPutMedia(settings, options.credentials, this.#redactor, (s) => {
      this.#secrets.add(s);
      this.#link?.addSecret(s);
    });
    this.#kvssink = new KvssinkOutput({ ...settings, storageSizeMb: options.storageSizeMb }, this.#kvs, (err) => this.#fail(err));
  }

  /** The way in use: known once opened. */
  get sinkMode(): 'putmedia' | 'kvssink' | undefined {
    return this.#using;
  }

  /** kvssink mode: the launch string of its pipeline (a credential path, no secret). */
  get pipelineDescription(): string | undefined {
    return this.#kvssink.description;
  }

  get state(): DestinationState {
    return this.#status.state;
  }

  /** The stream as DescribeStream/CreateStream reported it (after open()). */
  get stream(): StreamDescription | undefined {
    return this.#description;
  }

  /** The producer's figures: of the session in progress, else of the last one. */
  get kvs(): ProducerStats | undefined {
    return this.#kvs.stats();
  }

  /**
   * Checks (or creates) the stream and the data endpoint and starts the producer. Rejects with a
   * KvsError when retrying cannot help (credentials refused, stream missing); when the service
   * cannot be reached it resolves in 'reconnecting' and keeps trying, buffering up to bufferSeconds.
   */
  async open(video: VideoInfo, link: DestinationLink): Promise<void> {
    if (!this.#status.is('idle', 'failed')) throw new Error(`${this.name}: open() while ${this.state}`);
    this.#status.reset();
    this.#dropped = 0;
    this.#gate.reset();
    this.#link = link;
    for (const s of this.#secrets) link.addSecret(s);
    this.#status.to('opening');
    try {
      this.#using = await this.#chooseMode();
    } catch (err) {
      this.#status.lastError = `${this.name}: ${(err as Error).message}`;
      this.#status.to('failed');
      throw err;
    }
    if (this.#using === 'kvssink') return this.#openKvssink(video, link);
    const producer = this.#kvs.createProducer({
      width: video.width,
      height: video.height,
      fps: video.fps,
      requestKeyframe: () => link.requestKeyframe(),
      log: link.log,
    });
    producer.on('ack', (ack) => {
      if (ack.EventType !== 'ERROR' && this.#status.is('reconnecting') && !this.#starting) this.#status.to('streaming');
      (this as EventEmitter).emit('ack', ack);
    });
    producer.on('reconnect', (info) => {
      if (this.#status.is('streaming')) this.#status.to('reconnecting');
      this.#status.reconnecting(info);
    });
    producer.on('fault', (err) => link.log.warn({ err: this.#kvs.clean(err).message }, 'KVS: fault handled, resending'));
    producer.on('error', (err) => this.#fail(err));
    try {
      this.#description = await producer.start();
    } catch (err) {
      const e = this.#kvs.clean(err);
      this.#status.lastError = `${this.name}: ${e.message}`;
      if (!retryable(e) || !this.#retryStartOpt || this.#status.is('idle', 'closing')) {
        this.#kvs.destroy();
        if (this.#status.is('opening')) this.#status.to('failed');
        throw e;
      }
      link.log.warn({ err: e.message }, 'KVS: service not reachable; buffering and retrying');
      this.#status.to('reconnecting');
      void this.#retryStart(e);
      return;
    }
    if (this.#status.is('opening')) this.#status.to('streaming');
    link.log.info({ stream: this.streamName, region: this.region, created: this.#description.created }, 'streaming to KVS with PutMedia');
  }

  write(au: AccessUnit): boolean {
    if (this.#using === 'kvssink' && this.#status.is('streaming') && (this.#gate.open || au.keyframe)) {
      if (!this.#kvssink.write(au)) {
        this.#drain.arm();
        return false;
      }
      this.#gate.pass(au.keyframe);
      this.#status.unitsIn++;
      return true;
    }
    this.#status.unitsIn++;
    if (!this.#status.is('streaming', 'reconnecting') || !this.#gate.pass(au.keyframe)) {
      this.#dropped++;
      return true;
    }
    // The producer buffers what is not persisted (bufferSeconds); it never refuses a unit.
    this.#kvs.push(au);
    return true;
  }

  /** Sends what it took and waits for KVS to persist it, until `signal` aborts. */
  async close(signal: AbortSignal): Promise<void> {
    if (this.#status.is('idle')) return;
    this.#starting?.abort();
    this.#starting = undefined;
    this.#status.to('closing');
    this.#drain.cancel();
    if (this.#using === 'kvssink') await this.#kvssink.close(signal);
    // A control-plane call in flight (an endpoint that does not answer) is given up, not waited for.
    this.#kvs.cancel();
    const left = await this.#kvs.stop(signal);
    if (left > 0) this.#link?.log.warn({ fragments: left }, 'KVS: closed with fragments not persisted');
    this.#kvs.destroy();
    this.#link = undefined;
    this.#status.to('idle');
  }

  /** Closes it if needed (up to 5 s for KVS to persist what it took); close() already released the AWS client. */
  async dispose(): Promise<void> {
    if (!this.#status.is('idle')) await this.close(AbortSignal.timeout(5000));
    await this.#kvssink.dispose();
    this.#kvs.destroy();
  }

  async #chooseMode(): Promise<'putmedia' | 'kvssink'> {
    if (this.#mode === 'putmedia') return 'putmedia';
    const found = await kvssinkAvailable();
    if (this.#mode === 'kvssink' && !found) {
      throw new Error(
        "mode 'kvssink' was asked for but the kvssink GStreamer plugin was not found: build it from the KVS C++ producer SDK and set GST_PLUGIN_PATH to its directory, or use 'putmedia'",
      );
    }
    return found ? 'kvssink' : 'putmedia';
  }

  /** kvssink: the stream and credentials are checked up front, so mistakes fail open() clearly. */
  async #openKvssink(video: VideoInfo, link: DestinationLink): Promise<void> {
    try {
      this.#description = await this.#kvs.controlPlane.ensureStream();
      await this.#kvssink.open(video);
    } catch (err) {
      const e = this.#kvs.clean(err);
      this.#status.lastError = `${this.name}: ${e.message}`;
      this.#status.to('failed');
      throw e;
    }
    this.#status.to('streaming');
    link.log.info({ stream: this.streamName, region: this.region, sink: 'kvssink' }, 'streaming to KVS through kvssink');
  }

  stats(): KvsDestinationStats {
    const p = this.#kvs.stats();
    const s = this.#status;
    if (p) {
      s.bytesOut = p.bytesSent;
      s.reconnects = p.reconnects;
    }
    s.unitsDropped = this.#dropped + (p ? p.framesDropped + p.framesDiscarded : 0);
    const base = s.stats({ behindMs: p?.bufferedMs ?? 0, backlogBytes: p?.bufferedBytes ?? 0 });
    return p ? { ...base, kvs: p } : base;
  }

  /** A start that met a network fault: tried again with backoff until it works, fails for good, or close(). */
  async #retryStart(first: Error): Promise<void> {
    const controller = new AbortController();
    this.#starting = controller;
    const backoff = withDefaults();
    let reason = first;
    for (let attempt = 1; !controller.signal.aborted; attempt++) {
      const delayMs = backoffDelay(attempt, backoff);
      this.#status.reconnecting({ attempt, delayMs, reason: reason.message });
      await sleep(delayMs, controller.signal);
      const producer = this.#kvs.producer;
      if (controller.signal.aborted || !producer) return;
      try {
        this.#description = await producer.start();
        this.#starting = undefined;
        this.#status.to('streaming');
        return;
      } catch (err) {
        if (controller.signal.aborted) return;
        reason = this.#kvs.clean(err);
        if (!retryable(reason)) {
          this.#starting = undefined;
          this.#fail(reason);
          return;
        }
      }
    }
  }

  #fail(err: Error): void {
    if (this.#status.is('closing', 'idle', 'failed')) return;
    this.#starting?.abort();
    this.#starting = undefined;
    const e = this.#kvs.clean(err);
    this.#link?.log.error({ err: e.message }, 'KVS: stopped');
    // The producer has stopped itself; close() releases the rest.
    this.#status.to('failed');
    this.#status.error(e);
  }
}
