/**
 * One client's RTSP control connection: frames requests off the socket, answers them in order,
 * and carries interleaved RTP/RTCP for sessions that asked for RTP over TCP.
 */
import type net from 'node:net';
import { RtspParser, serializeResponse, type RtspParserLimits, type RtspRequest, type RtspResponse } from './message.js';

export interface ConnectionHandler {
  /** Answers one request; requests of a connection are handled one at a time, in order. */
  handle(conn: RtspConnection, req: RtspRequest): Promise<RtspResponse> | RtspResponse;
  /** A `$` frame from the client (RTCP receiver reports, mostly). The payload is only valid during the call. */
  interleaved(conn: RtspConnection, channel: number, payload: Buffer): void;
  /** A request could not be parsed; the connection is answered and closed. */
  malformed(conn: RtspConnection, status: number, message: string): void;
  closed(conn: RtspConnection): void;
}

/** Requests a client may have waiting for an answer before it is cut off. */
const MAX_QUEUED_REQUESTS = 16;

export class RtspConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Ids of the sessions this connection set up. */
  readonly sessions = new Set<string>();
  /** Interleaved channels in use by this connection's sessions. */
  readonly channels = new Set<number>();
  readonly openedAt = Date.now();
  /** Last time a whole request or frame arrived, ms. */
  lastActivity = Date.now();
  /** When the bytes of an unfinished request started to wait, ms (0: none waiting). */
  partialSince = 0;
  requests = 0;

  private readonly parser: RtspParser;
  private readonly queue: RtspRequest[] = [];
  private busy = false;
  private closing = false;
  private closedFlag = false;

  constructor(
    readonly id: number,
    private readonly socket: net.Socket,
    private readonly handler: ConnectionHandler,
    limits: Partial<RtspParserLimits>,
  ) {
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    this.parser = new RtspParser(
      {
        onRequest: (req) => this.enqueue(req),
        onInterleaved: (channel, payload) => {
          // Only a session's RTCP is a sign of life: `$` frames on a connection without one would
          // keep it open forever, never reaped as idle.
          if (this.sessions.size === 0) return;
          this.lastActivity = Date.now();
          this.handler.interleaved(this, channel, payload);
        },
        onError: (err) => {
          this.handler.malformed(this, err.status, err.message);
          this.fail(serializeResponse({ status: err.status, headers: { CSeq: err.cseq } }));
        },
      },
      limits,
    );
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 15_000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.onClose());
  }

  get isClosed(): boolean {
    return this.closedFlag || this.closing;
  }

  /** Bytes waiting in the socket to go out to the client. */
  writableLength(): number {
    return this.socket.writableLength;
  }

  writeInterleaved(frame: Buffer): void {
    if (this.closing || this.closedFlag) return;
    this.socket.write(frame);
  }

  /** Sends a final reply and closes (e.g. 408 for a request that never completed). */
  fail(reply: Buffer): void {
    if (this.closing || this.closedFlag) return;
    this.closing = true;
    this.queue.length = 0;
    this.socket.end(reply);
    // A client that does not read its last reply must not keep the socket open.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /** Closes after what was already written has gone out (bounded). */
  end(): void {
    if (this.closing || this.closedFlag) return;
    this.closing = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    try {
      this.parser.push(chunk);
    } catch {
      // A handler threw: this connection ends, the server goes on.
      this.socket.destroy();
      return;
    }
    if (this.parser.pendingBytes > 0) {
      if (this.partialSince === 0) this.partialSince = Date.now();
    } else {
      this.partialSince = 0;
    }
  }

  private enqueue(req: RtspRequest): void {
    this.lastActivity = Date.now();
    this.requests++;
    if (this.queue.length >= MAX_QUEUED_REQUESTS) {
      this.fail(serializeResponse({ status: 503, headers: { CSeq: safeCSeq(req) } }));
      return;
    }
    this.queue.push(req);
    if (!this.busy) void this.drain();
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.closing && !this.closedFlag) {
        const req = this.queue.shift()!;
        let res: RtspResponse;
        try {
          res = await this.handler.handle(this, req);
        } catch {
          res = { status: 500 };
        }
        if (this.closing || this.closedFlag) break;
        const headers = { CSeq: safeCSeq(req), ...(res.headers ?? {}) };
        let bytes: Buffer;
        try {
          bytes = serializeResponse({ ...res, headers });
        } catch {
          bytes = serializeResponse({ status: 500, headers: { CSeq: safeCSeq(req) } });
        }
        this.socket.write(bytes);
        this.lastActivity = Date.now();
      }
    } finally {
      this.busy = false;
    }
  }

  private onClose(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.queue.length = 0;
    this.handler.closed(this);
  }
}

function safeCSeq(req: RtspRequest): string | undefined {
  const c = req.headers['cseq'];
  return c !== undefined && /^\d{1,10}$/.test(c) ? c : undefined;
}
