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
import type { StreamDescription } from './control-plane.js';
import { KvssinkCredentialFile } from './credentials.js';
import type { KvsError } from './errors.js';
import { KVSSINK, kvssinkAvailable, kvssinkLaunch } from './kvssink.js';
import { KvsPutMedia, kvsSettings, type KvsSettings, type KvsStreamOptions } from './kvs-stream.js';
import type { KvsAckEvent, ProducerStats } from './producer.js';

export type KvsSinkChoice = 'putmedia' | 'kvssink' | 'auto';

export interface KVSSkyLineOptions extends SkyLineOptions, KvsStreamOptions {
  /** 'auto' (default): kvssink when the plugin is found, else our PutMedia producer. */
  sink?: KvsSinkChoice;
  /** kvssink content store, MB. Default 128. */
  storageSizeMb?: number;
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
  /** The options checked, without credentials (those live only in the CredentialSource, out of sight of inspect/JSON). */
  private readonly kvsOpts: KvsSettings & { sink: KvsSinkChoice; storageSizeMb?: number };
  private readonly kvs: KvsPutMedia;
  private credentialFile?: KvssinkCredentialFile;
  private mode?: 'putmedia' | 'kvssink';
  private description?: StreamDescription;

  constructor(options: KVSSkyLineOptions) {
    const settings = kvsSettings(options, 'KVSSkyLine');
    const sink = options.sink ?? 'auto';
    if (!['auto', 'putmedia', 'kvssink'].includes(sink)) throw new RangeError(`sink must be 'putmedia', 'kvssink' or 'auto', got ${JSON.stringify(sink)}`);
    super(options);
    this.kvsOpts = { ...settings, sink, storageSizeMb: options.storageSizeMb };
    this.streamName = settings.streamName;
    this.region = settings.region;
    this.kvs = new KvsPutMedia(settings, options.credentials, this.redactor);
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
    const kvs = this.kvs.stats();
    return kvs ? { ...base, kvs } : base;
  }

  override async stopStreaming(): Promise<void> {
    // A control-plane call still in flight (an endpoint that does not answer) is given up, not waited for.
    this.kvs.cancel();
    await super.stopStreaming();
  }

  override async close(): Promise<void> {
    this.kvs.cancel();
    await super.close();
    await this.credentialFile?.dispose();
    this.credentialFile = undefined;
    this.kvs.destroy();
  }

  // ---- SkyLine hooks ----------------------------------------------------------------

  protected async sink(): Promise<SinkSpec> {
    this.mode = await this.chooseMode();
    if (this.mode === 'putmedia') return { kind: 'tap' };
    // One file path for every session: it is in the launch string, and a new string would be a new
    // native pipeline each session (the binding never frees one).
    this.credentialFile ??= new KvssinkCredentialFile(this.kvs.credentials, (err) =>
      this.reportError(this.kvs.clean(new Error(`KVS: refreshing the kvssink credential file failed: ${err.message}`))),
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
    if (this.mode === 'kvssink') {
      // Check the stream and credentials up front so mistakes fail startStreaming() clearly.
      this.description = await this.kvs.controlPlane.ensureStream().catch((e) => Promise.reject(this.kvs.clean(e)));
      this.log.info({ stream: this.streamName, region: this.region, sink: KVSSINK }, 'streaming to KVS through kvssink');
      return;
    }
    const producer = this.kvs.createProducer({ ...session, requestKeyframe: () => this.requestKeyframe(), log: this.log });
    producer.on('ack', (ack) => this.emit('ack', ack));
    producer.on('fault', (err) => this.log.warn({ err: this.kvs.clean(err).message }, 'KVS: fault handled, resending'));
    producer.on('error', (err) => this.fail(this.kvs.clean(err)));
    try {
      this.description = await producer.start();
    } catch (err) {
      this.kvs.destroyProducer();
      throw this.kvs.clean(err);
    }
    this.log.info(
      { stream: this.streamName, region: this.region, created: this.description.created, sink: 'putmedia' },
      'streaming to KVS with PutMedia',
    );
  }

  protected override onAccessUnit(au: AccessUnit): void {
    // au.captureMs is the session origin + PTS: the put() timestamp, kept strictly
    // increasing, as KVS ABSOLUTE fragment timecodes must be.
    this.kvs.push(au);
  }

  protected override async closeDestination(signal?: AbortSignal): Promise<void> {
    // Waits for PERSISTED acks, but only as long as the SkyLine's stop may take (stopTimeoutMs).
    const left = await this.kvs.stop(signal);
    if (left > 0) this.log.warn({ fragments: left }, 'KVS: stopped with fragments not persisted');
    await this.credentialFile?.stop();
  }

  protected override bytesDelivered(): number {
    if (this.mode === 'putmedia') return this.kvs.stats()?.bytesSent ?? 0;
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
}
