/**
 * KVSSkyLine: streams to AWS Kinesis Video Streams: a SkyLine with one built-in KvsDestination.
 * Without AWS's kvssink plugin (most machines) it uses our own PutMedia producer: encoded access
 * units are cut into MKV fragments and sent with acks, resends and credential refresh. With
 * kvssink found (GST_PLUGIN_PATH) and chosen, a kvssink pipeline of its own takes them.
 */
import { KvsDestination } from '../destinations/kvs/kvs-destination.js';
import { SkyLine, type SkyLineEvents, type SkyLineOptions, type SkyLineStats } from '../skyline.js';
import type { StreamDescription } from './control-plane.js';
import type { KvsError } from './errors.js';
import type { KvsStreamOptions } from './kvs-stream.js';
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
  private readonly kvs: KvsDestination;

  constructor(options: KVSSkyLineOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('KVSSkyLine needs options: { streamName, region }');
    const sink = options.sink ?? 'auto';
    if (!['auto', 'putmedia', 'kvssink'].includes(sink)) throw new RangeError(`sink must be 'putmedia', 'kvssink' or 'auto', got ${JSON.stringify(sink)}`);
    const kvs = new KvsDestination({ ...options, mode: sink, retryStart: false });
    super(options, { destination: kvs });
    kvs.on('ack', (ack) => this.emit('ack', ack));
    this.kvs = kvs;
    this.streamName = kvs.streamName;
    this.region = kvs.region;
  }

  /** The destination in use: known after startStreaming(). */
  get sinkMode(): 'putmedia' | 'kvssink' | undefined {
    return this.kvs.sinkMode;
  }

  /** The stream as DescribeStream/CreateStream reported it. */
  get stream(): StreamDescription | undefined {
    return this.kvs.stream;
  }

  /** kvssink mode: the launch string of the kvssink pipeline (a credential path, no secret). */
  get kvssinkPipelineDescription(): string | undefined {
    return this.kvs.pipelineDescription;
  }

  override stats(): KVSSkyLineStats {
    const base = super.stats();
    const kvs = this.kvs.kvs;
    return kvs ? { ...base, kvs } : base;
  }
}
