/**
 * KVSSkyLine: streams to AWS Kinesis Video Streams. Without AWS's kvssink plugin
 * (most machines) it uses our own PutMedia producer: encoded access units come
 * to Node, are cut into MKV fragments and sent with acks, resends and credential
 * refresh. With kvssink found (GST_PLUGIN_PATH) and chosen, kvssink ends the
 * pipeline and reads credentials from a file we keep fresh.
 */
import type { AccessUnit } from '../h264/access-unit.js';
import type { GstError } from '../gst/pipeline.js';
import { SkyLine, type SessionInfo, type SinkSpec, type SkyLineEvents, type SkyLineOptions, type SkyLineStats } from '../skyline.js';
import { ControlPlane, DEFAULT_CONTROL_PLANE_TIMEOUT_MS, type StreamDescription } from './control-plane.js';
import { CredentialSource, KvssinkCredentialFile, type CredentialsOption } from './credentials.js';
import { KvsError } from './errors.js';
import { KVSSINK, kvssinkAvailable, kvssinkLaunch, STREAM_NAME } from './kvssink.js';
import { PutMediaProducer, type KvsAckEvent, type ProducerLog, type ProducerStats } from './producer.js';

export type KvsSinkChoice = 'putmedia' | 'kvssink' | 'auto';

export interface KVSSkyLineOptions extends SkyLineOptions {
  streamName: string;
  region: string;
  /** Static credentials or an AWS SDK v3 provider. Default: the standard Node chain (env, files, SSO, web identity, container/instance roles). */
  credentials?: CredentialsOption;
  /** Control-plane endpoint override (VPC endpoints, tests). */
  endpoint?: string;
  /** Create the stream when it does not exist. Default false. */
  createStream?: boolean;
  /** Retention for a created stream, hours. Default 24. */
  retentionHours?: number;
  /** Unpersisted video kept for resending after faults, s. Default 120. */
  bufferSeconds?: number;
  /** Target fragment duration, s (KVS caps fragments at 10 s). Default 2. */
  fragmentSeconds?: number;
  /** 'auto' (default): kvssink when the plugin is found, else our PutMedia producer. */
  sink?: KvsSinkChoice;
  /** PutMedia connections are replaced after this long, ms. Default 40 min. */
  connectionRotationMs?: number;
  /** kvssink content store, MB. Default 128. */
  storageSizeMb?: number;
  /**
   * Longest wait for a control-plane call (DescribeStream, CreateStream, GetDataEndpoint) and for
   * the credential provider, ms. Default 10000. stopStreaming() and close() do not wait for it.
   */
  networkTimeoutMs?: number;
}

export interface KVSSkyLineEvents extends SkyLineEvents {
  /** A PutMedia acknowledgement (PutMedia mode). */
  ack: [ack: KvsAckEvent];
  /** KvsError (with `details`: errorType, status, errorId, remedy) for what the service said; Error otherwise. */
  error: [err: KvsError | Error];
  stats: [stats: KVSSkyLineStats];
}

export interface KVSSkyLineStats extends SkyLineStats {
  /** PutMedia mode: fragments, acks, latency, buffer. */
  kvs?: ProducerStats;
}

export class KVSSkyLine extends SkyLine<KVSSkyLineEvents> {
  readonly streamName: string;
  readonly region: string;
  /** The options without credentials (those live only in the CredentialSource, out of sight of inspect/JSON). */
  private readonly kvsOpts: Omit<KVSSkyLineOptions, 'credentials' | 'logger'>;
  private readonly credentials: CredentialSource;
  private controlPlane?: ControlPlane;
  private producer?: PutMediaProducer;
  private lastProducerStats?: ProducerStats;
  private credentialFile?: KvssinkCredentialFile;
  private mode?: 'putmedia' | 'kvssink';
  private description?: StreamDescription;

  constructor(options: KVSSkyLineOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('KVSSkyLine needs options: { streamName, region }');
    if (typeof options.streamName !== 'string' || !STREAM_NAME.test(options.streamName)) {
      throw new RangeError(`streamName must be 1-256 characters of a-z A-Z 0-9 _ . -, got ${JSON.stringify(options.streamName)}`);
    }
    if (typeof options.region !== 'string' || options.region.length === 0) throw new RangeError('region is required (e.g. "us-west-2")');
    const sink = options.sink ?? 'auto';
    if (!['auto', 'putmedia', 'kvssink'].includes(sink)) throw new RangeError(`sink must be 'putmedia', 'kvssink' or 'auto', got ${JSON.stringify(sink)}`);
    const fragmentSeconds = options.fragmentSeconds ?? 2;
    if (!(fragmentSeconds > 0 && fragmentSeconds <= 9.5)) throw new RangeError(`fragmentSeconds must be in (0, 9.5], got ${fragmentSeconds}`);
    const bufferSeconds = options.bufferSeconds ?? 120;
    if (!(bufferSeconds >= fragmentSeconds)) throw new RangeError(`bufferSeconds must be at least fragmentSeconds, got ${bufferSeconds}`);
    const retention = options.retentionHours ?? 24;
    if (!(Number.isInteger(retention) && retention >= 0)) throw new RangeError(`retentionHours must be a non-negative integer, got ${retention}`);
    super(options);
    const { credentials: c, logger: _logger, ...kvsOpts } = options;
    this.kvsOpts = { ...kvsOpts, sink, fragmentSeconds, bufferSeconds, retentionHours: retention };
    this.streamName = options.streamName;
    this.region = options.region;
    if (c && typeof c === 'object') {
      this.redactor.add(c.accessKeyId);
      this.redactor.add(c.secretAccessKey);
      this.redactor.add(c.sessionToken);
    }
    const networkTimeoutMs = options.networkTimeoutMs ?? DEFAULT_CONTROL_PLANE_TIMEOUT_MS;
    if (!(networkTimeoutMs > 0)) throw new RangeError(`networkTimeoutMs must be a positive number of ms, got ${networkTimeoutMs}`);
    this.kvsOpts.networkTimeoutMs = networkTimeoutMs;
    this.credentials = new CredentialSource(c, { onSecret: (s) => this.redactor.add(s), timeoutMs: networkTimeoutMs });
  }

  /** The destination in use: known after startStreaming(). */
  get sinkMode(): 'putmedia' | 'kvssink' | undefined {
    return this.mode;
  }

  /** The stream as DescribeStream/CreateStream reported it. */
  get stream(): StreamDescription | undefined {
    return this.description;
  }

  override stats(): KVSSkyLineStats {
    const base = super.stats();
    const kvs = this.producer?.stats() ?? this.lastProducerStats;
    return kvs ? { ...base, kvs } : base;
  }

  override async stopStreaming(): Promise<void> {
    // A control-plane call still in flight (an endpoint that does not answer) is given up, not waited for.
    this.controlPlane?.cancel();
    await super.stopStreaming();
  }

  override async close(): Promise<void> {
    this.controlPlane?.cancel();
    await super.close();
    await this.credentialFile?.dispose();
    this.credentialFile = undefined;
    this.controlPlane?.destroy();
    this.controlPlane = undefined;
  }

  // ---- SkyLine hooks ----------------------------------------------------------------

  protected async sink(): Promise<SinkSpec> {
    this.mode = await this.chooseMode();
    if (this.mode === 'putmedia') return { kind: 'tap' };
    // One file path for every session: it is in the launch string, and a new string would be a new
    // native pipeline each session (the binding never frees one).
    this.credentialFile ??= new KvssinkCredentialFile(this.credentials, (err) =>
      this.reportError(this.clean(new Error(`KVS: refreshing the kvssink credential file failed: ${err.message}`))),
    );
    const credentialPath = await this.credentialFile.start();
    return {
      kind: 'gst',
      streamFormat: 'avc',
      launch: kvssinkLaunch({
        streamName: this.streamName,
        region: this.region,
        credentialPath,
        retentionHours: this.kvsOpts.retentionHours,
        fragmentMs: this.kvsOpts.fragmentSeconds! * 1000,
        bufferSeconds: this.kvsOpts.bufferSeconds,
        storageSizeMb: this.kvsOpts.storageSizeMb,
      }),
    };
  }

  protected override async openDestination(session: SessionInfo): Promise<void> {
    this.controlPlane ??= new ControlPlane({
      streamName: this.streamName,
      region: this.region,
      credentials: this.credentials,
      endpoint: this.kvsOpts.endpoint,
      createStream: this.kvsOpts.createStream,
      retentionHours: this.kvsOpts.retentionHours,
      timeoutMs: this.kvsOpts.networkTimeoutMs,
    });
    if (this.mode === 'kvssink') {
      // Check the stream and credentials up front so mistakes fail startStreaming() clearly.
      this.description = await this.controlPlane.ensureStream().catch((e) => Promise.reject(this.clean(e)));
      this.log.info({ stream: this.streamName, region: this.region, sink: KVSSINK }, 'streaming to KVS through kvssink');
      return;
    }
    const producer = new PutMediaProducer({
      streamName: this.streamName,
      region: this.region,
      credentials: this.credentials,
      controlPlane: this.controlPlane,
      width: session.width,
      height: session.height,
      fps: session.fps,
      bufferSeconds: this.kvsOpts.bufferSeconds,
      fragmentSeconds: this.kvsOpts.fragmentSeconds,
      rotateAfterMs: this.kvsOpts.connectionRotationMs,
      requestKeyframe: () => this.requestKeyframe(),
      log: this.producerLog(),
    });
    producer.on('ack', (ack) => this.emit('ack', ack));
    producer.on('fault', (err) => this.log.warn({ err: this.redactor.scrub(err.message) }, 'KVS: fault handled, resending'));
    producer.on('error', (err) => this.fail(this.clean(err)));
    try {
      this.description = await producer.start();
    } catch (err) {
      producer.destroy();
      throw this.clean(err);
    }
    this.producer = producer;
    this.lastProducerStats = undefined;
    this.log.info(
      { stream: this.streamName, region: this.region, created: this.description.created, sink: 'putmedia' },
      'streaming to KVS with PutMedia',
    );
  }

  protected override onAccessUnit(au: AccessUnit): void {
    // au.captureMs is the session origin + PTS: the put() timestamp, kept strictly
    // increasing, as KVS ABSOLUTE fragment timecodes must be.
    this.producer?.push(au);
  }

  protected override async closeDestination(signal?: AbortSignal): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (producer) {
      // Waits for PERSISTED acks, but only as long as the SkyLine's stop may take (stopTimeoutMs).
      const onAbort = () => producer.destroy();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const left = producer.error || signal?.aborted ? (producer.destroy(), 0) : await producer.stop();
        if (left > 0) this.log.warn({ fragments: left }, 'KVS: stopped with fragments not persisted');
      } finally {
        signal?.removeEventListener('abort', onAbort);
        this.lastProducerStats = producer.stats();
      }
    }
    await this.credentialFile?.stop();
  }

  protected override bytesDelivered(): number {
    if (this.mode === 'putmedia') return (this.producer?.stats() ?? this.lastProducerStats)?.bytesSent ?? 0;
    return super.bytesDelivered();
  }

  protected override retryableSinkError(err: GstError): boolean {
    // kvssink retries network trouble itself; what reaches the bus is mostly configuration or
    // credentials, which a restart does not fix, except plain connection failures.
    return err.element === KVSSINK && /timeout|connect|network|curl/i.test(`${err.message} ${err.debug ?? ''}`) &&
      !/credential|access|denied|forbidden|unauthori[sz]ed/i.test(`${err.message} ${err.debug ?? ''}`);
  }

  // ---- internals -----------------------------------------------------------------------

  private async chooseMode(): Promise<'putmedia' | 'kvssink'> {
    const choice = this.kvsOpts.sink;
    if (choice === 'putmedia') return 'putmedia';
    const found = await kvssinkAvailable();
    if (choice === 'kvssink' && !found) {
      throw new Error(
        'sink: \'kvssink\' was asked for but the kvssink GStreamer plugin was not found: build it from the KVS C++ producer SDK and set GST_PLUGIN_PATH to its directory, or use sink: \'putmedia\'',
      );
    }
    if (found && this.kvsOpts.endpoint) {
      this.log.warn('KVS: endpoint is used for the control-plane checks only; kvssink picks its own endpoints');
    }
    return found ? 'kvssink' : 'putmedia';
  }

  private clean(err: unknown): Error {
    const e = err instanceof Error ? err : new Error(String(err));
    const out = e instanceof KvsError ? new KvsError(e.message, e.details) : new Error(e.message);
    return this.redactor.scrubError(out);
  }

  private producerLog(): ProducerLog {
    const scrub = (o: object): object => JSON.parse(this.redactor.scrub(JSON.stringify(o))) as object;
    return {
      debug: (o, m) => this.log.debug(scrub(o), m),
      info: (o, m) => this.log.info(scrub(o), m),
      warn: (o, m) => this.log.warn(scrub(o), m),
      error: (o, m) => this.log.error(scrub(o), m),
    };
  }
}
