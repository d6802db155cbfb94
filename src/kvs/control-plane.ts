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
  /**
   * Longest wait for one control-plane call, retries included, ms (default 10000). Each
   * attempt also has connection and request timeouts, so an endpoint that accepts the
   * connection and never answers fails the call instead of hanging it.
   */
  timeoutMs?: number;
}

export const DEFAULT_CONTROL_PLANE_TIMEOUT_MS = 10_000;

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

/** Where control-plane calls go, for error messages: scheme, host and port only (no user info, no query). */
export function endpointShown(endpoint: string | undefined, region: string): string {
  if (!endpoint) return `https://kinesisvideo.${region}.amazonaws.com`;
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'the configured endpoint';
  }
}

export class ControlPlane {
  readonly client: KinesisVideoClient;
  private cached?: { url: string; at: number };
  private readonly ttl: number;
  private readonly timeoutMs: number;
  /** Aborted by cancel(): every call in flight gives up at once. */
  private calls = new AbortController();

  constructor(private readonly opts: ControlPlaneOptions) {
    this.ttl = opts.endpointTtlMs ?? DATA_ENDPOINT_TTL_MS;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_CONTROL_PLANE_TIMEOUT_MS;
    const attemptMs = Math.max(100, Math.ceil(this.timeoutMs / 2));
    this.client = new KinesisVideoClient({
      region: opts.region,
      credentials: opts.credentials.asProvider(),
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      maxAttempts: 3,
      // Without these the SDK waits for an answer for ever (requestTimeout alone only warns).
      requestHandler: { connectionTimeout: attemptMs, requestTimeout: attemptMs, throwOnRequestTimeout: true },
    });
  }

  /** Gives up every call in flight (stop/close); later calls work as usual. */
  cancel(): void {
    this.calls.abort(new KvsError('KVS control-plane call abandoned: the SkyLine is stopping', { remedy: 'fatal' }));
    this.calls = new AbortController();
  }

  /**
   * One SDK call bounded by timeoutMs and by cancel(). The race also covers the parts of a call
   * the SDK's abort signal does not reach (a credential provider that never answers).
   */
  private async send<T>(what: string, run: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const cancelled = this.calls.signal;
    const signal = AbortSignal.any([cancelled, AbortSignal.timeout(this.timeoutMs)]);
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        if (cancelled.aborted) reject(cancelled.reason);
        else reject(this.timeoutError(what));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([run(signal), aborted]);
    } catch (err) {
      if (cancelled.aborted) throw cancelled.reason;
      const e = err as { name?: string };
      if (signal.aborted || e.name === 'TimeoutError' || e.name === 'AbortError') throw this.timeoutError(what);
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private timeoutError(what: string): KvsError {
    return new KvsError(
      `${what} failed: no answer from the KVS control-plane endpoint ${endpointShown(this.opts.endpoint, this.opts.region)} within ${this.timeoutMs} ms`,
      { errorType: 'TimeoutError', remedy: 'retry' },
    );
  }

  /** DescribeStream; CreateStream when missing and createStream is set. */
  async ensureStream(): Promise<StreamDescription> {
    const { streamName } = this.opts;
    try {
      const out = await this.send(`DescribeStream "${streamName}"`, (abortSignal) =>
        this.client.send(new DescribeStreamCommand({ StreamName: streamName }), { abortSignal }),
      );
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
      const out = await this.send(`CreateStream "${streamName}"`, (abortSignal) =>
        this.client.send(
          new CreateStreamCommand({
            StreamName: streamName,
            DataRetentionInHours: this.opts.retentionHours ?? 24,
            MediaType: 'video/h264',
          }),
          { abortSignal },
        ),
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
      const out = await this.send('GetDataEndpoint', (abortSignal) =>
        this.client.send(new GetDataEndpointCommand({ StreamName: this.opts.streamName, APIName: 'PUT_MEDIA' }), { abortSignal }),
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
    this.cancel();
    this.client.destroy();
  }
}
