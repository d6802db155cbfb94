/**
 * One PutMedia call: a SigV4-signed POST {dataEndpoint}/putMedia whose body is
 * streamed (chunked) MKV, and whose response is the JSON ack stream.
 * The producer owns what is written; this class only moves bytes and acks.
 */
import { EventEmitter } from 'node:events';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from '@smithy/types';
import { AckParser, type Ack } from './acks.js';
import { fatalMessage, httpErrorRemedy, KvsError } from './errors.js';

export interface PutMediaConnectionOptions {
  dataEndpoint: string;
  streamName: string;
  region: string;
  credentials: AwsCredentialIdentity;
  /** Epoch ms sent as x-amzn-producer-start-timestamp. */
  producerStartMs: number;
  /** Give up when the response has not started this long after the request. */
  responseTimeoutMs?: number;
}

export interface PutMediaConnectionEvents {
  ack: [Ack];
  close: [KvsError | undefined];
}

let nextId = 1;

/** Producer start timestamp: seconds since the epoch with milliseconds. */
export function producerTimestamp(ms: number): string {
  return (ms / 1000).toFixed(3);
}

export class PutMediaConnection extends EventEmitter<PutMediaConnectionEvents> {
  readonly id = nextId++;
  readonly openedAt = Date.now();
  /** Bytes handed to the socket. */
  bytesWritten = 0;
  private req?: ClientRequest;
  private closed = false;
  private ending = false;
  private responseTimer?: NodeJS.Timeout;
  private pendingWrites: Buffer[] = [];
  readonly opts: Omit<PutMediaConnectionOptions, 'credentials'>;
  /** An ES private field: inspecting or serializing the connection never shows the keys. */
  readonly #credentials: AwsCredentialIdentity;

  constructor({ credentials, ...opts }: PutMediaConnectionOptions) {
    super();
    this.opts = opts;
    this.#credentials = credentials;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True once end() was called: no more writes, acks still arrive. */
  get isEnding(): boolean {
    return this.ending;
  }

  /** Signs and starts the request. Writes made before it resolves are queued. */
  async open(): Promise<void> {
    const url = new URL(this.opts.dataEndpoint);
    const secure = url.protocol === 'https:';
    const port = url.port ? Number(url.port) : secure ? 443 : 80;
    const path = `${url.pathname.replace(/\/$/, '')}/putMedia`;
    const unsigned = new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port,
      path,
      headers: {
        host: url.host,
        'x-amzn-stream-name': this.opts.streamName,
        'x-amzn-fragment-timecode-type': 'ABSOLUTE',
        'x-amzn-producer-start-timestamp': producerTimestamp(this.opts.producerStartMs),
        'x-amzn-fragment-acknowledgment-required': '1',
      },
    });
    const signer = new SignatureV4({
      service: 'kinesisvideo',
      region: this.opts.region,
      credentials: this.#credentials,
      sha256: Hash.bind(null, 'sha256'),
    });
    // No body on the request object: the signer then signs the empty payload hash, as PutMedia producers do.
    const signed = await signer.sign(unsigned);
    if (this.closed) return;
    const send = secure ? httpsRequest : httpRequest;
    const req = send({
      method: 'POST',
      host: url.hostname,
      port,
      path,
      headers: { ...signed.headers, 'transfer-encoding': 'chunked', 'user-agent': 'gst-skyline' },
      agent: false,
    });
    this.req = req;
    req.setNoDelay(true);
    req.on('response', (res) => this.onResponse(res));
    req.on('error', (err) => this.close(new KvsError(`PutMedia connection failed: ${err.message}`, { remedy: 'retry' })));
    this.responseTimer = setTimeout(() => {
      this.destroy(new KvsError('PutMedia: no response from KVS in time', { remedy: 'retry' }));
    }, this.opts.responseTimeoutMs ?? 15_000);
    this.responseTimer.unref();
    for (const b of this.pendingWrites) this.rawWrite(b);
    this.pendingWrites = [];
    if (this.ending) req.end();
  }

  /** Queues body bytes; false when the socket wants the caller to wait for 'drain'. */
  write(chunk: Buffer): boolean {
    if (this.closed || this.ending) return true;
    if (!this.req) {
      this.pendingWrites.push(chunk);
      return true;
    }
    return this.rawWrite(chunk);
  }

  /** Resolves when the body can take more. */
  drain(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.req || this.closed) return resolve();
      const done = (): void => {
        this.req?.off('drain', done);
        this.off('close', done);
        resolve();
      };
      this.req.once('drain', done);
      this.once('close', done);
    });
  }

  private rawWrite(chunk: Buffer): boolean {
    this.bytesWritten += chunk.length;
    return this.req!.write(chunk);
  }

  /** Ends the body; KVS then acks what it has and closes the response. */
  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.req?.end();
  }

  /** Drops the connection now. */
  destroy(err?: KvsError): void {
    if (this.closed) return;
    this.req?.destroy();
    this.close(err);
  }

  private onResponse(res: IncomingMessage): void {
    clearTimeout(this.responseTimer);
    if (res.statusCode !== 200) {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 65536) body += d;
      });
      res.on('end', () => this.close(this.httpError(res, body)));
      res.on('error', () => this.close(this.httpError(res, body)));
      return;
    }
    const parser = new AckParser();
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      let acks: Ack[];
      try {
        acks = parser.push(d);
      } catch (err) {
        this.destroy(new KvsError(`PutMedia ack stream unreadable: ${(err as Error).message}`, { remedy: 'retry' }));
        return;
      }
      for (const a of acks) {
        if (this.closed) return;
        this.emit('ack', a);
      }
    });
    res.on('end', () => {
      this.close(this.ending ? undefined : new KvsError('KVS closed the PutMedia connection', { remedy: 'retry' }));
    });
    res.on('error', (err) => this.close(new KvsError(`PutMedia response failed: ${err.message}`, { remedy: 'retry' })));
    res.on('aborted', () => this.close(new KvsError('PutMedia response aborted', { remedy: 'retry' })));
  }

  private httpError(res: IncomingMessage, body: string): KvsError {
    const status = res.statusCode ?? 0;
    let type = String(res.headers['x-amzn-errortype'] ?? '').split(':')[0] || undefined;
    let msg = '';
    try {
      const j = JSON.parse(body) as Record<string, unknown>;
      type ??= String(j.__type ?? j.code ?? j.Code ?? '').split('#').pop() || undefined;
      msg = String(j.message ?? j.Message ?? '');
    } catch {
      msg = body.slice(0, 200);
    }
    const remedy = httpErrorRemedy(type, status);
    const base = `PutMedia rejected: HTTP ${status}${type ? ` ${type}` : ''}${msg ? `: ${msg}` : ''}`;
    const message = remedy === 'fatal' || remedy === 'auth' ? `${fatalMessage(this.opts.streamName, type, base)} [HTTP ${status}]` : base;
    return new KvsError(message, { errorType: type, status, remedy });
  }

  private close(err: KvsError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.responseTimer);
    this.req?.destroy();
    this.emit('close', err);
  }
}
