/**
 * KVS control plane through the AWS SDK v3 client: make sure the stream exists
 * (creating it when asked) and find the PutMedia data endpoint, cached about
 * 45 minutes as the service recommends and fetched again after errors.
 */
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetDataEndpointCommand,
  KinesisVideoClient,
} from '@aws-sdk/client-kinesis-video';
import type { CredentialSource } from './credentials.js';
import { fatalMessage, httpErrorRemedy, KvsError } from './errors.js';

export const DATA_ENDPOINT_TTL_MS = 45 * 60_000;

export interface ControlPlaneOptions {
  streamName: string;
  region: string;
  credentials: CredentialSource;
  /** Overrides the control-plane endpoint (tests, VPC endpoints). */
  endpoint?: string;
  createStream?: boolean;
  retentionHours?: number;
  /** How long a data endpoint is used before it is fetched again. */
  endpointTtlMs?: number;
}

export interface StreamDescription {
  streamName: string;
  streamArn?: string;
  status?: string;
  retentionHours?: number;
  created: boolean;
}

/** Turns an AWS SDK error into a KvsError with a clear, secret-free message. */
export function toKvsError(err: unknown, streamName: string, what: string): KvsError {
  if (err instanceof KvsError) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const remedy = httpErrorRemedy(e.name, status);
  const base = `${what} failed: ${e.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}${e.message ? `: ${e.message}` : ''}`;
  const message = remedy === 'fatal' || remedy === 'auth' ? fatalMessage(streamName, e.name, base) : base;
  return new KvsError(message, { errorType: e.name, status, remedy });
}

export class ControlPlane {
  readonly client: KinesisVideoClient;
  private cached?: { url: string; at: number };
  private readonly ttl: number;

  constructor(private readonly opts: ControlPlaneOptions) {
    this.ttl = opts.endpointTtlMs ?? DATA_ENDPOINT_TTL_MS;
    this.client = new KinesisVideoClient({
      region: opts.region,
      credentials: opts.credentials.asProvider(),
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      maxAttempts: 3,
    });
  }

  /** DescribeStream; CreateStream when missing and createStream is set. */
  async ensureStream(): Promise<StreamDescription> {
    const { streamName } = this.opts;
    try {
      const out = await this.client.send(new DescribeStreamCommand({ StreamName: streamName }));
      const info = out.StreamInfo;
      if (info?.Status && info.Status !== 'ACTIVE' && info.Status !== 'UPDATING') {
        throw new KvsError(`KVS stream "${streamName}" is ${info.Status}, not ACTIVE`, { remedy: 'fatal' });
      }
      return {
        streamName,
        streamArn: info?.StreamARN,
        status: info?.Status,
        retentionHours: info?.DataRetentionInHours,
        created: false,
      };
    } catch (err) {
      const e = err as { name?: string };
      if (e.name !== 'ResourceNotFoundException' || !this.opts.createStream) {
        throw toKvsError(err, streamName, `DescribeStream "${streamName}"`);
      }
    }
    try {
      const out = await this.client.send(
        new CreateStreamCommand({
          StreamName: streamName,
          DataRetentionInHours: this.opts.retentionHours ?? 24,
          MediaType: 'video/h264',
        }),
      );
      return { streamName, streamArn: out.StreamARN, retentionHours: this.opts.retentionHours ?? 24, created: true };
    } catch (err) {
      // Someone else created it in between: fine.
      if ((err as { name?: string }).name === 'ResourceInUseException') return { streamName, created: false };
      throw toKvsError(err, streamName, `CreateStream "${streamName}"`);
    }
  }

  /** PUT_MEDIA data endpoint, cached for the TTL. */
  async dataEndpoint(): Promise<string> {
    if (this.cached && Date.now() - this.cached.at < this.ttl) return this.cached.url;
    try {
      const out = await this.client.send(
        new GetDataEndpointCommand({ StreamName: this.opts.streamName, APIName: 'PUT_MEDIA' }),
      );
      if (!out.DataEndpoint) throw new KvsError('GetDataEndpoint returned no endpoint', { remedy: 'retry' });
      this.cached = { url: out.DataEndpoint, at: Date.now() };
      return out.DataEndpoint;
    } catch (err) {
      throw toKvsError(err, this.opts.streamName, 'GetDataEndpoint');
    }
  }

  /** Forget the cached endpoint (after connection errors or InvalidEndpoint). */
  invalidateEndpoint(): void {
    this.cached = undefined;
  }

  destroy(): void {
    this.client.destroy();
  }
}
