/**
 * A local stand-in for AWS Kinesis Video Streams, strict where the real service
 * is strict: SigV4 on every call, the control-plane JSON APIs the AWS SDK v3
 * client sends (DescribeStream, CreateStream, GetDataEndpoint), and putMedia with
 * a streamed MKV body checked fragment by fragment and answered with a JSON ack
 * stream. Stores fragments so tests can decode them, and injects faults on demand.
 *
 * Loopback only (127.0.0.1, port 0). Modelled on what the service documents;
 * not a copy of any other emulator.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { MkvParseError, MkvReader, type MkvTrackEntry } from '../../src/mkv/reader.js';
import { cluster, streamHeader, type MkvFrame } from '../../src/mkv/writer.js';
import { listenOnLoopback } from './ports.js';
import { EMPTY_PAYLOAD_SHA256, parseAuthorization, sha256Hex, SigV4Error, verifySigV4 } from './kvs/sigv4-verify.js';

export interface EmulatorKey {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Epoch ms after which the key is rejected with ExpiredTokenException (and its open putMedia connections are cut). */
  expiresAtMs?: number;
}

export interface StoredFragment {
  streamName: string;
  /** Cluster timecode as the producer sent it (epoch ms in ABSOLUTE mode). */
  timecode: number;
  fragmentNumber: string;
  frames: MkvFrame[];
  track: MkvTrackEntry;
  connectionId: number;
}

export interface StreamRecord {
  name: string;
  arn: string;
  retentionHours: number;
  mediaType?: string;
  createdAt: Date;
  version: string;
  status: 'ACTIVE' | 'DELETING';
}

export type Fault =
  /** Destroy the socket of the next putMedia connection after it has persisted `afterFragments` fragments. */
  | { type: 'reset'; afterFragments: number }
  /** Answer the next `count` putMedia requests with this HTTP status (5xx). */
  | { type: 'http'; status: number; count?: number }
  /** Answer the next `count` putMedia requests with 400 ClientLimitExceededException. */
  | { type: 'throttle'; count?: number }
  /** After `afterFragments` persisted fragments, answer the next fragment with an ERROR ack and close. */
  | { type: 'errorAck'; errorId: 5000 | 5001; afterFragments: number };

export interface EmulatorOptions {
  region?: string;
  keys?: EmulatorKey[];
  /** Streams that exist from the start. */
  streams?: string[];
  /** Delay between RECEIVED and PERSISTED acks. */
  persistDelayMs?: number;
  /** Send IDLE acks after this long without data. */
  idleAckMs?: number;
  /** The service closes a putMedia connection with ERROR 4003 after this long. */
  maxConnectionMs?: number;
}

export interface ConnectionRecord {
  id: number;
  streamName: string;
  accessKeyId: string;
  dataPort: number;
  producerStartTimestamp: string;
  timecodeType: string;
  persisted: number;
  errors: number[];
  closedBy?: 'client' | 'server' | 'reset' | 'error-ack' | 'expired' | 'endpoint-change' | 'max-duration';
  /** Every body byte received on this connection, as it came off the wire (for independent demuxers). */
  readonly wire: Buffer[];
}

const ERROR_CODES: Record<number, string> = {
  4000: 'STREAM_READ_ERROR',
  4001: 'MAX_FRAGMENT_SIZE_REACHED',
  4002: 'MAX_FRAGMENT_DURATION_REACHED',
  4003: 'MAX_CONNECTION_DURATION_REACHED',
  4004: 'FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS',
  4006: 'INVALID_MKV_DATA',
  4008: 'STREAM_NOT_ACTIVE',
  5000: 'INTERNAL_ERROR',
  5001: 'ARCHIVAL_ERROR',
};

const MAX_FRAGMENT_MS = 10_000;
const MAX_FRAGMENT_BYTES = 50 * 1024 * 1024;
/** Control-plane requests are small JSON documents. */
const MAX_CONTROL_BODY = 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

export class KvsEmulator {
  readonly region: string;
  readonly streams = new Map<string, StreamRecord>();
  readonly connections: ConnectionRecord[] = [];
  /** Every request the emulator refused, as `status errorType` (for assertions). */
  readonly rejections: string[] = [];
  /** Counts of control-plane calls by API. */
  readonly calls: Record<string, number> = {};
  private readonly keys = new Map<string, EmulatorKey>();
  private readonly denied = new Set<string>();
  private readonly stored = new Map<string, Map<number, StoredFragment>>();
  private faults: Fault[] = [];
  private control!: Server;
  private data: { server: Server; port: number; retired: boolean }[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly live = new Map<
    number,
    {
      key: string;
      dataPort: number;
      stream: string;
      kill: (why: ConnectionRecord['closedBy'], errorId?: number) => void;
      arm: (fault: Extract<Fault, { type: 'reset' | 'errorAck' }>) => void;
    }
  >();
  private nextConnection = 1;
  private nextFragmentNumber = 1n;
  private expiryTimer?: NodeJS.Timeout;
  readonly persistDelayMs: number;
  readonly idleAckMs: number;
  maxConnectionMs: number;
  /** Fragments received again after they were stored (resends after a fault). */
  duplicates = 0;

  private constructor(opts: EmulatorOptions) {
    this.region = opts.region ?? 'us-west-2';
    this.persistDelayMs = opts.persistDelayMs ?? 5;
    this.idleAckMs = opts.idleAckMs ?? 3000;
    this.maxConnectionMs = opts.maxConnectionMs ?? 60 * 60_000;
    for (const k of opts.keys ?? []) this.keys.set(k.accessKeyId, { ...k });
    for (const s of opts.streams ?? []) this.addStream(s, 24);
  }

  static async start(opts: EmulatorOptions = {}): Promise<KvsEmulator> {
    const emu = new KvsEmulator(opts);
    emu.control = await emu.listen((req, res) => void emu.handleControl(req, res));
    await emu.addDataEndpoint();
    emu.expiryTimer = setInterval(() => emu.cutExpired(), 100);
    emu.expiryTimer.unref();
    return emu;
  }

  /** Control-plane endpoint for the SDK client (`endpoint` option). */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.control.address() as AddressInfo).port}`;
  }

  /** The data endpoint GetDataEndpoint currently hands out. */
  get dataEndpoint(): string {
    return `http://127.0.0.1:${this.data[this.data.length - 1]!.port}`;
  }

  // ------------------------------------------------------------ test controls

  addKey(key: EmulatorKey): void {
    this.keys.set(key.accessKeyId, { ...key });
  }

  /** From now on the key is refused with ExpiredTokenException; open connections signed with it are cut. */
  expireKey(accessKeyId: string): void {
    const k = this.keys.get(accessKeyId);
    if (k) k.expiresAtMs = Date.now() - 1;
    this.cutExpired();
  }

  /** The key's principal loses access to KVS (AccessDenied / NotAuthorized). */
  denyAccess(accessKeyId: string): void {
    this.denied.add(accessKeyId);
  }

  addStream(name: string, retentionHours = 24): StreamRecord {
    const rec: StreamRecord = {
      name,
      arn: `arn:aws:kinesisvideo:${this.region}:123456789012:stream/${name}/${Date.now()}`,
      retentionHours,
      createdAt: new Date(),
      version: 'v1',
      status: 'ACTIVE',
    };
    this.streams.set(name, rec);
    return rec;
  }

  /** Deletes the stream: open connections get ERROR 4008, later calls 404. */
  deleteStream(name: string): void {
    this.streams.delete(name);
    for (const c of this.live.values()) if (c.stream === name) c.kill('server', 4008);
  }

  /**
   * Arms a fault. reset/errorAck hit the open putMedia connection (counting
   * fragments from now), or the next one when none is open; http/throttle
   * answer the next requests.
   */
  inject(fault: Fault): void {
    if (fault.type === 'reset' || fault.type === 'errorAck') {
      const live = [...this.live.values()].pop();
      if (live) {
        live.arm({ ...fault });
        return;
      }
    }
    this.faults.push({ ...fault });
  }

  /** Starts a new data endpoint; the old one drops its connections and refuses new ones (InvalidEndpoint). */
  async changeDataEndpoint(): Promise<void> {
    const old = this.data[this.data.length - 1]!;
    await this.addDataEndpoint();
    old.retired = true;
    for (const c of this.live.values()) if (c.dataPort === old.port) c.kill('endpoint-change');
  }

  /** Fragments stored for a stream, by timecode. */
  fragments(streamName: string): StoredFragment[] {
    return [...(this.stored.get(streamName)?.values() ?? [])].sort((a, b) => a.timecode - b.timecode);
  }

  /** The stored fragments as one MKV file (what GetMedia would return), for ffprobe. */
  toMkv(streamName: string): Buffer {
    const frags = this.fragments(streamName);
    if (frags.length === 0) throw new Error(`no fragments stored for ${streamName}`);
    const t = frags[0]!.track;
    const parts = [streamHeader({ width: t.width ?? 0, height: t.height ?? 0, codecPrivate: t.codecPrivate! })];
    for (const f of frags) parts.push(cluster(f.timecode, f.frames));
    return Buffer.concat(parts);
  }

  get openConnections(): number {
    return this.live.size;
  }

  async close(): Promise<void> {
    clearInterval(this.expiryTimer);
    for (const s of this.sockets) s.destroy();
    const servers = [this.control, ...this.data.map((d) => d.server)];
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  // ------------------------------------------------------------ plumbing

  private async listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
    const server = createServer(handler);
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await listenOnLoopback(server);
    return server;
  }

  private async addDataEndpoint(): Promise<void> {
    const entry = { server: undefined as unknown as Server, port: 0, retired: false };
    entry.server = await this.listen((req, res) => this.handleData(req, res, entry));
    entry.port = (entry.server.address() as AddressInfo).port;
    this.data.push(entry);
  }

  private cutExpired(): void {
    const now = Date.now();
    for (const c of this.live.values()) {
      const k = this.keys.get(c.key);
      if (k?.expiresAtMs !== undefined && k.expiresAtMs <= now) c.kill('expired');
    }
  }

  private sendError(res: ServerResponse, err: HttpError): void {
    this.rejections.push(`${err.status} ${err.errorType}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(err.status, { 'content-type': 'application/json', 'x-amzn-errortype': `${err.errorType}:` });
    res.end(JSON.stringify({ message: err.message }));
  }

  /** Checks the signature and the key; returns the access key id. */
  private authenticate(req: IncomingMessage, payloadHash: string, putMedia: boolean): string {
    let auth;
    try {
      auth = parseAuthorization(req.headers.authorization);
    } catch (err) {
      throw new HttpError(403, (err as SigV4Error).errorType, (err as Error).message);
    }
    const key = this.keys.get(auth.accessKeyId);
    if (!key) throw new HttpError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    if ((key.sessionToken ?? undefined) !== (req.headers['x-amz-security-token'] ?? undefined)) {
      throw new HttpError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    }
    try {
      verifySigV4({
        method: req.method ?? '',
        url: req.url ?? '/',
        headers: req.headers,
        payloadHash,
        secretAccessKey: key.secretAccessKey,
        auth,
        expectedService: 'kinesisvideo',
        expectedRegion: this.region,
      });
    } catch (err) {
      throw new HttpError(403, (err as SigV4Error).errorType ?? 'InvalidSignatureException', (err as Error).message);
    }
    if (key.expiresAtMs !== undefined && key.expiresAtMs <= Date.now()) {
      throw new HttpError(403, 'ExpiredTokenException', 'The security token included in the request is expired');
    }
    if (this.denied.has(key.accessKeyId)) {
      if (putMedia) throw new HttpError(403, 'NotAuthorizedException', 'Caller is not authorized to perform PutMedia on this stream');
      throw new HttpError(403, 'AccessDeniedException', 'User is not authorized to perform this action');
    }
    return key.accessKeyId;
  }

  // ------------------------------------------------------------ control plane

  private async handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_CONTROL_BODY) return this.sendError(res, new HttpError(413, 'InvalidArgumentException', 'request body too large'));
      chunks.push(c as Buffer);
    }
    const body = Buffer.concat(chunks);
    try {
      if (req.method !== 'POST') throw new HttpError(404, 'UnknownOperationException', 'Unknown operation');
      const payloadHash = String(req.headers['x-amz-content-sha256'] ?? sha256Hex(body));
      if (payloadHash !== sha256Hex(body)) throw new HttpError(400, 'XAmzContentSHA256Mismatch', 'payload hash mismatch');
      this.authenticate(req, payloadHash, false);
      let input: Record<string, unknown>;
      try {
        input = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        throw new HttpError(400, 'InvalidArgumentException', 'request body is not JSON');
      }
      const api = (req.url ?? '').split('?')[0]!;
      this.calls[api] = (this.calls[api] ?? 0) + 1;
      const out = this.controlApi(api, input);
      const json = JSON.stringify(out);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      res.end(json);
    } catch (err) {
      this.sendError(res, err instanceof HttpError ? err : new HttpError(500, 'InternalFailure', String(err)));
    }
  }

  private streamFor(input: Record<string, unknown>): StreamRecord {
    const name = input.StreamName as string | undefined;
    const arn = input.StreamARN as string | undefined;
    if (name && arn) throw new HttpError(400, 'InvalidArgumentException', 'Specify StreamName or StreamARN, not both');
    const rec = name ? this.streams.get(name) : [...this.streams.values()].find((s) => s.arn === arn);
    if (!rec) throw new HttpError(404, 'ResourceNotFoundException', `The requested stream is not found or not active.`);
    return rec;
  }

  private controlApi(api: string, input: Record<string, unknown>): unknown {
    switch (api) {
      case '/describeStream': {
        const s = this.streamFor(input);
        return {
          StreamInfo: {
            StreamName: s.name,
            StreamARN: s.arn,
            Status: s.status,
            DataRetentionInHours: s.retentionHours,
            CreationTime: s.createdAt.getTime() / 1000,
            Version: s.version,
            MediaType: s.mediaType,
          },
        };
      }
      case '/createStream': {
        const name = input.StreamName;
        if (typeof name !== 'string' || !/^[a-zA-Z0-9_.-]{1,256}$/.test(name)) {
          throw new HttpError(400, 'InvalidArgumentException', 'StreamName is invalid');
        }
        if (this.streams.has(name)) throw new HttpError(400, 'ResourceInUseException', 'The stream already exists');
        const hours = input.DataRetentionInHours ?? 0;
        if (typeof hours !== 'number' || hours < 0 || hours > 87600) {
          throw new HttpError(400, 'InvalidArgumentException', 'DataRetentionInHours is invalid');
        }
        const rec = this.addStream(name, hours);
        if (typeof input.MediaType === 'string') rec.mediaType = input.MediaType;
        return { StreamARN: rec.arn };
      }
      case '/getDataEndpoint': {
        const apiName = input.APIName;
        const allowed = ['PUT_MEDIA', 'GET_MEDIA', 'LIST_FRAGMENTS', 'GET_MEDIA_FOR_FRAGMENT_LIST', 'GET_HLS_STREAMING_SESSION_URL', 'GET_DASH_STREAMING_SESSION_URL', 'GET_CLIP', 'GET_IMAGES'];
        if (typeof apiName !== 'string' || !allowed.includes(apiName)) {
          throw new HttpError(400, 'InvalidArgumentException', 'APIName is invalid');
        }
        this.streamFor(input);
        return { DataEndpoint: this.dataEndpoint };
      }
      default:
        throw new HttpError(404, 'UnknownOperationException', `Unknown operation ${api}`);
    }
  }

  // ------------------------------------------------------------ data plane

  private takeFault<T extends Fault['type']>(type: T): Extract<Fault, { type: T }> | undefined {
    const i = this.faults.findIndex((f) => f.type === type);
    if (i < 0) return undefined;
    const f = this.faults[i] as Extract<Fault, { type: T }>;
    const counted = f as { count?: number };
    if (counted.count !== undefined && counted.count > 1) counted.count--;
    else this.faults.splice(i, 1);
    return f;
  }

  private handleData(req: IncomingMessage, res: ServerResponse, endpoint: { port: number; retired: boolean }): void {
    try {
      if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/putMedia') {
        throw new HttpError(404, 'UnknownOperationException', 'Unknown operation');
      }
      const claimed = req.headers['x-amz-content-sha256'];
      // A streamed body cannot be hashed up front: producers sign the empty payload (or UNSIGNED-PAYLOAD).
      const payloadHash = typeof claimed === 'string' ? claimed : EMPTY_PAYLOAD_SHA256;
      if (payloadHash !== EMPTY_PAYLOAD_SHA256 && payloadHash !== 'UNSIGNED-PAYLOAD') {
        throw new HttpError(400, 'InvalidArgumentException', 'putMedia payload must be signed as empty or unsigned');
      }
      const key = this.authenticate(req, payloadHash, true);
      if (endpoint.retired) throw new HttpError(400, 'InvalidEndpointException', 'Caller used wrong endpoint to write data to a stream');
      const http = this.takeFault('http');
      if (http) throw new HttpError(http.status, 'InternalFailure', 'injected server error');
      if (this.takeFault('throttle')) {
        throw new HttpError(400, 'ClientLimitExceededException', 'Kinesis Video Streams has throttled the request');
      }
      const name = req.headers['x-amzn-stream-name'];
      const arn = req.headers['x-amzn-stream-arn'];
      if (typeof name !== 'string' && typeof arn !== 'string') {
        throw new HttpError(400, 'InvalidArgumentException', 'x-amzn-stream-name or x-amzn-stream-arn is required');
      }
      const stream = this.streamFor({ StreamName: name, StreamARN: arn });
      const tcType = String(req.headers['x-amzn-fragment-timecode-type'] ?? '');
      if (tcType !== 'ABSOLUTE' && tcType !== 'RELATIVE') {
        throw new HttpError(400, 'InvalidArgumentException', 'x-amzn-fragment-timecode-type must be ABSOLUTE or RELATIVE');
      }
      const start = String(req.headers['x-amzn-producer-start-timestamp'] ?? '');
      if (!/^\d+(\.\d+)?$/.test(start)) {
        throw new HttpError(400, 'InvalidArgumentException', 'x-amzn-producer-start-timestamp is required');
      }
      this.putMedia(req, res, {
        key,
        dataPort: endpoint.port,
        stream: stream.name,
        tcType,
        startMs: Math.round(Number(start) * 1000),
        startRaw: start,
      });
    } catch (err) {
      req.resume();
      this.sendError(res, err instanceof HttpError ? err : new HttpError(500, 'InternalFailure', String(err)));
    }
  }

  private putMedia(
    req: IncomingMessage,
    res: ServerResponse,
    p: { key: string; dataPort: number; stream: string; tcType: string; startMs: number; startRaw: string },
  ): void {
    const rec: ConnectionRecord = {
      id: this.nextConnection++,
      streamName: p.stream,
      accessKeyId: p.key,
      dataPort: p.dataPort,
      producerStartTimestamp: p.startRaw,
      timecodeType: p.tcType,
      persisted: 0,
      errors: [],
      wire: [],
    };
    this.connections.push(rec);
    // Armed faults fire after this connection has persisted `at` fragments.
    let reset: { at: number } | undefined;
    let errorAck: { at: number; errorId: number } | undefined;
    const arm = (f: Extract<Fault, { type: 'reset' | 'errorAck' }>): void => {
      if (f.type === 'reset') {
        reset = { at: rec.persisted + f.afterFragments };
        if (f.afterFragments === 0) finish('reset');
      } else errorAck = { at: rec.persisted + f.afterFragments, errorId: f.errorId };
    };
    const openedAt = Date.now();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();

    let done = false;
    let track: MkvTrackEntry | undefined;
    let frag: { timecode: number; frames: MkvFrame[]; bytes: number; number: string } | undefined;
    let lastClusterTc = -Infinity;
    let lastBlockTc = -Infinity;
    let lastData = Date.now();
    let pendingPersists = 0;
    const ack = (o: Record<string, unknown>): void => {
      if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify(o));
    };
    const finish = (why: ConnectionRecord['closedBy']): void => {
      if (done) return;
      done = true;
      rec.closedBy = why;
      clearInterval(idle);
      this.live.delete(rec.id);
      if (why === 'reset' || why === 'expired' || why === 'endpoint-change') {
        res.destroy();
        req.destroy();
        return;
      }
      req.resume();
      // End the response once the last PERSISTED has been written.
      const end = (): void => {
        if (pendingPersists > 0) setTimeout(end, 5).unref();
        else res.end();
      };
      end();
    };
    const fail = (errorId: number, timecode?: number): void => {
      if (done) return;
      rec.errors.push(errorId);
      ack({
        EventType: 'ERROR',
        FragmentTimecode: timecode ?? frag?.timecode ?? 0,
        FragmentNumber: frag?.number ?? '0',
        ErrorId: errorId,
        ErrorCode: ERROR_CODES[errorId] ?? 'UNKNOWN',
      });
      finish(errorId === 4003 ? 'max-duration' : 'error-ack');
    };
    this.live.set(rec.id, {
      arm,
      key: p.key,
      dataPort: p.dataPort,
      stream: p.stream,
      kill: (why, errorId) => (errorId ? fail(errorId) : finish(why)),
    });
    const idle = setInterval(() => {
      if (Date.now() - lastData >= this.idleAckMs) ack({ EventType: 'IDLE' });
    }, Math.max(50, Math.floor(this.idleAckMs / 2)));
    const queuedReset = this.takeFault('reset');
    if (queuedReset) arm(queuedReset);
    const queuedError = this.takeFault('errorAck');
    if (queuedError) arm(queuedError);

    const completeFragment = (): void => {
      if (!frag || done) return;
      const f = frag;
      frag = undefined;
      if (f.frames.length === 0) return fail(4006, f.timecode);
      if (errorAck && rec.persisted >= errorAck.at) {
        const id = errorAck.errorId;
        errorAck = undefined;
        return fail(id, f.timecode);
      }
      ack({ EventType: 'RECEIVED', FragmentTimecode: f.timecode, FragmentNumber: f.number });
      const stored: StoredFragment = {
        streamName: p.stream,
        timecode: f.timecode,
        fragmentNumber: f.number,
        frames: f.frames,
        track: track!,
        connectionId: rec.id,
      };
      pendingPersists++;
      setTimeout(() => {
        pendingPersists--;
        if (done && rec.closedBy !== 'client') return;
        if (!this.streams.has(p.stream)) return;
        let byTc = this.stored.get(p.stream);
        if (!byTc) this.stored.set(p.stream, (byTc = new Map()));
        if (byTc.has(f.timecode)) this.duplicates++;
        else byTc.set(f.timecode, stored);
        rec.persisted++;
        ack({ EventType: 'PERSISTED', FragmentTimecode: f.timecode, FragmentNumber: f.number });
        if (reset && rec.persisted >= reset.at) finish('reset');
      }, this.persistDelayMs).unref(); // a long persist delay does not keep a finished test alive
    };

    const reader = new MkvReader({
      ebmlHeader: () => {
        track = undefined;
      },
      tracks: (tracks) => {
        if (tracks.length !== 1) return fail(4006);
        track = tracks[0];
      },
      clusterStart: () => {
        if (Date.now() - openedAt > this.maxConnectionMs) return fail(4003);
        if (!track || track.codecId !== 'V_MPEG4/ISO/AVC' || !track.codecPrivate?.length || !track.width || !track.height) {
          return fail(4006);
        }
        frag = { timecode: NaN, frames: [], bytes: 0, number: String(this.nextFragmentNumber++).padStart(47, '9') };
      },
      clusterTimestamp: (t) => {
        if (!frag) return;
        const tc = p.tcType === 'ABSOLUTE' ? t : p.startMs + t;
        frag.timecode = tc;
        if (tc <= lastClusterTc) return fail(4004, tc);
        lastClusterTc = tc;
        ack({ EventType: 'BUFFERING', FragmentTimecode: tc, FragmentNumber: frag.number });
      },
      block: (b) => {
        if (!frag || done) return;
        if (b.track !== track?.number) return fail(4006);
        const tc = frag.timecode + b.offset;
        if (frag.frames.length === 0 && !b.keyframe) return fail(4006);
        if (tc <= lastBlockTc) return fail(4004);
        lastBlockTc = tc;
        if (b.offset > MAX_FRAGMENT_MS) return fail(4002);
        frag.bytes += b.data.length;
        if (frag.bytes > MAX_FRAGMENT_BYTES) return fail(4001);
        frag.frames.push({ timecodeMs: tc, keyframe: b.keyframe, data: b.data });
      },
      clusterEnd: () => completeFragment(),
    });

    req.on('data', (chunk: Buffer) => {
      rec.wire.push(chunk);
      if (done) return;
      lastData = Date.now();
      try {
        reader.push(chunk);
      } catch (err) {
        // Not MKV, or a check of ours threw: refuse the data like the service, never crash the test process.
        if (!(err instanceof MkvParseError)) this.rejections.push(`emulator bug: ${(err as Error).message}`);
        fail(4006);
      }
    });
    req.on('end', () => {
      if (done) return;
      try {
        reader.end();
      } catch {
        return fail(4006);
      }
      completeFragment();
      finish('client');
    });
    req.on('error', () => finish('reset'));
    res.on('close', () => {
      if (!done) finish('reset');
    });
  }
}
