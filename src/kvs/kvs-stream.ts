/**
 * What KVSSkyLine and KvsDestination share: the stream options and their checks, and the life
 * of one PutMedia producer (control plane, credentials whose secrets are masked, a producer log
 * that is scrubbed, errors cleaned of secrets, a stop that waits for PERSISTED acks).
 */
import type { AccessUnit } from '../h264/access-unit.js';
import type { Redactor } from '../log.js';
import { ControlPlane, DEFAULT_CONTROL_PLANE_TIMEOUT_MS } from './control-plane.js';
import { CredentialSource, type CredentialsOption } from './credentials.js';
import { KvsError } from './errors.js';
import { STREAM_NAME } from './kvssink.js';
import { PutMediaProducer, type ProducerLog, type ProducerStats } from './producer.js';

/** Where and how a KVS stream is written (KVSSkyLineOptions and KvsDestinationOptions take these). */
export interface KvsStreamOptions {
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
  /** PutMedia connections are replaced after this long, ms. Default 40 min. */
  connectionRotationMs?: number;
  /**
   * Longest wait for a control-plane call (DescribeStream, CreateStream, GetDataEndpoint) and for
   * the credential provider, ms. Default 10000. Stopping and closing do not wait for it.
   */
  networkTimeoutMs?: number;
}

/** The options checked, defaults filled in, credentials left out (they live only in a CredentialSource). */
export interface KvsSettings {
  streamName: string;
  region: string;
  endpoint: string | undefined;
  createStream: boolean;
  retentionHours: number;
  bufferSeconds: number;
  fragmentSeconds: number;
  connectionRotationMs: number | undefined;
  networkTimeoutMs: number;
}

/** Checks the options (throws TypeError/RangeError with what is wrong) and fills in defaults. */
export function kvsSettings(options: KvsStreamOptions, who: string): KvsSettings {
  if (!options || typeof options !== 'object') throw new TypeError(`${who} needs options: { streamName, region }`);
  if (typeof options.streamName !== 'string' || !STREAM_NAME.test(options.streamName)) {
    throw new RangeError(`streamName must be 1-256 characters of a-z A-Z 0-9 _ . -, got ${JSON.stringify(options.streamName)}`);
  }
  if (typeof options.region !== 'string' || options.region.length === 0) throw new RangeError('region is required (e.g. "us-west-2")');
  const fragmentSeconds = options.fragmentSeconds ?? 2;
  if (!(fragmentSeconds > 0 && fragmentSeconds <= 9.5)) throw new RangeError(`fragmentSeconds must be in (0, 9.5], got ${fragmentSeconds}`);
  const bufferSeconds = options.bufferSeconds ?? 120;
  if (!(bufferSeconds >= fragmentSeconds)) throw new RangeError(`bufferSeconds must be at least fragmentSeconds, got ${bufferSeconds}`);
  const retentionHours = options.retentionHours ?? 24;
  if (!(Number.isInteger(retentionHours) && retentionHours >= 0)) throw new RangeError(`retentionHours must be a non-negative integer, got ${retentionHours}`);
  const networkTimeoutMs = options.networkTimeoutMs ?? DEFAULT_CONTROL_PLANE_TIMEOUT_MS;
  if (!(networkTimeoutMs > 0)) throw new RangeError(`networkTimeoutMs must be a positive number of ms, got ${networkTimeoutMs}`);
  const rotation = options.connectionRotationMs;
  if (rotation !== undefined && !(rotation > 0)) throw new RangeError(`connectionRotationMs must be a positive number of ms, got ${rotation}`);
  return {
    streamName: options.streamName,
    region: options.region,
    endpoint: options.endpoint,
    createStream: options.createStream ?? false,
    retentionHours,
    bufferSeconds,
    fragmentSeconds,
    connectionRotationMs: rotation,
    networkTimeoutMs,
  };
}

/** The secrets inside static credentials (a provider's are reported as they are fetched). */
export function staticSecrets(c: CredentialsOption | undefined): string[] {
  if (!c || typeof c !== 'object') return [];
  return [c.accessKeyId, c.secretAccessKey, c.sessionToken].filter((s): s is string => typeof s === 'string');
}

interface PutMediaHooks {
  width: number;
  height: number;
  fps: number;
  requestKeyframe(): void;
  /** Where the producer logs (scrubbed again here: the producer's objects may carry service text). */
  log: ProducerLog;
}

/**
 * The KVS side of one KVSSkyLine or KvsDestination: credentials and control plane for its whole
 * life, one PutMedia producer per session (start() to stop()).
 */
export class KvsPutMedia {
  readonly credentials: CredentialSource;
  private plane: ControlPlane | undefined;
  private current: PutMediaProducer | undefined;
  private lastStats: ProducerStats | undefined;

  /** `redactor` gets every secret the credentials bring; errors and the producer log are scrubbed with it. */
  constructor(
    readonly settings: KvsSettings,
    credentials: CredentialsOption | undefined,
    private readonly redactor: Redactor,
    onSecret: (secret: string) => void = () => undefined,
  ) {
    for (const s of staticSecrets(credentials)) {
      redactor.add(s);
      onSecret(s);
    }
    this.credentials = new CredentialSource(credentials, {
      onSecret: (s) => {
        redactor.add(s);
        onSecret(s);
      },
      timeoutMs: settings.networkTimeoutMs,
    });
  }

  get controlPlane(): ControlPlane {
    const s = this.settings;
    this.plane ??= new ControlPlane({
      streamName: s.streamName,
      region: s.region,
      credentials: this.credentials,
      endpoint: s.endpoint,
      createStream: s.createStream,
      retentionHours: s.retentionHours,
      timeoutMs: s.networkTimeoutMs,
    });
    return this.plane;
  }

  /** The producer of the session in progress. */
  get producer(): PutMediaProducer | undefined {
    return this.current;
  }

  /** A producer for a new session; the caller listens to its events, then calls start(). */
  createProducer(h: PutMediaHooks): PutMediaProducer {
    const s = this.settings;
    const scrub = (o: object): object => JSON.parse(this.redactor.scrub(JSON.stringify(o))) as object;
    const producer = new PutMediaProducer({
      streamName: s.streamName,
      region: s.region,
      credentials: this.credentials,
      controlPlane: this.controlPlane,
      width: h.width,
      height: h.height,
      fps: h.fps,
      bufferSeconds: s.bufferSeconds,
      fragmentSeconds: s.fragmentSeconds,
      rotateAfterMs: s.connectionRotationMs,
      requestKeyframe: h.requestKeyframe,
      log: {
        debug: (o, m) => h.log.debug(scrub(o), m),
        info: (o, m) => h.log.info(scrub(o), m),
        warn: (o, m) => h.log.warn(scrub(o), m),
        error: (o, m) => h.log.error(scrub(o), m),
      },
    });
    this.current = producer;
    this.lastStats = undefined;
    return producer;
  }

  push(au: AccessUnit): void {
    this.current?.push(au);
  }

  /** The session's producer stats, or the last session's after stop(). */
  stats(): ProducerStats | undefined {
    return this.current?.stats() ?? this.lastStats;
  }

  /**
   * Ends the session: waits for every fragment to be PERSISTED, but only until `signal` aborts
   * (then drops what is left). Resolves with the number of fragments left unpersisted.
   */
  async stop(signal?: AbortSignal): Promise<number> {
    const producer = this.current;
    this.current = undefined;
    if (!producer) return 0;
    const onAbort = (): void => producer.destroy();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (producer.error || signal?.aborted) {
        producer.destroy();
        return producer.stats().bufferedFragments;
      }
      // The signal bounds the wait; the producer's own timeout is only a backstop.
      return await producer.stop(signal ? 24 * 3600_000 : undefined);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.lastStats = producer.stats();
    }
  }

  /** Drops the session's producer at once (a start that failed). */
  destroyProducer(): void {
    this.current?.destroy();
    this.current = undefined;
  }

  /** Gives up control-plane calls in flight (a stop must not wait for an endpoint that does not answer). */
  cancel(): void {
    this.plane?.cancel();
  }

  /** Drops the producer (no waiting) and the control-plane client. */
  destroy(): void {
    if (this.current) {
      this.current.destroy();
      this.lastStats = this.current.stats();
      this.current = undefined;
    }
    this.plane?.destroy();
    this.plane = undefined;
  }

  /** `err` as an error safe to show: a KvsError keeps its details; secrets masked; no stack from the SDK's internals. */
  clean(err: unknown): Error {
    const e = err instanceof Error ? err : new Error(String(err));
    const out = e instanceof KvsError ? new KvsError(e.message, e.details) : new Error(e.message);
    return this.redactor.scrubError(out);
  }
}
