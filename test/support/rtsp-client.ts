/**
 * A bare RTSP client for protocol tests: sends exactly what a test writes and records every reply
 * and interleaved frame, so the server's answers can be checked field by field.
 */
import net from 'node:net';
import { RtspParser } from '../../src/rtsp/message.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export class RawRtspClient {
  readonly frames: Array<{ channel: number; payload: Buffer }> = [];
  readonly responses: RawResponse[] = [];
  closed = false;
  private waiting: Array<(r: RawResponse) => void> = [];
  private cseq = 0;
  private parser: RtspParser;

  private constructor(readonly socket: net.Socket) {
    this.parser = new RtspParser(
      {
        onRequest: () => undefined,
        onInterleaved: (channel, payload) => {
          if (this.frames.length < 100_000) this.frames.push({ channel, payload: Buffer.from(payload) });
        },
        onResponse: (status, headers, body) => {
          const r = { status, headers: { ...headers }, body };
          this.responses.push(r);
          this.waiting.shift()?.(r);
        },
        onError: () => socket.destroy(),
      },
      { maxBodyBytes: 1 << 20 },
    );
    socket.on('data', (d: Buffer) => this.parser.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w({ status: 0, headers: {}, body: Buffer.alloc(0) });
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawRtspClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(new RawRtspClient(s)));
      s.once('error', reject);
    });
  }

  /** Sends a request (CSeq added unless given) and waits for its reply; status 0 when the server closed. */
  request(method: string, uri: string, headers: Record<string, string> = {}, body = '', timeoutMs = 10_000): Promise<RawResponse> {
    const h: Record<string, string> = { CSeq: String(++this.cseq), ...headers };
    if (body) h['Content-Length'] = String(Buffer.byteLength(body));
    const text = `${method} ${uri} RTSP/1.0\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`;
    return this.sendRaw(text, timeoutMs);
  }

  /** Writes bytes as they are and waits for the next reply. */
  sendRaw(data: string | Buffer, timeoutMs = 10_000): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no RTSP reply in time')), timeoutMs);
      this.waiting.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.socket.write(data);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
