/**
 * RTSP/1.0 messages (RFC 2326) over a TCP byte stream: an incremental request parser that also
 * extracts `$` interleaved binary frames (RFC 2326 §10.12), and a response serializer.
 *
 * The parser never throws on bad input: it reports one error with the status code the server should
 * answer with (400, 413, 414, 431, 505) and then ignores everything after it, because the byte stream
 * can no longer be framed reliably and the connection must be closed.
 */

export interface RtspRequest {
  readonly method: string;
  readonly uri: string;
  /** Header names lower-cased; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface RtspParseError {
  readonly status: number;
  readonly message: string;
  /** CSeq of the offending request when it could be read, so the error reply can carry it. */
  readonly cseq?: string;
}

export interface RtspParserLimits {
  /** Longest request line or header line, bytes. */
  maxLineBytes: number;
  /** Longest request URI, bytes (414 beyond it). */
  maxUriBytes: number;
  /** Whole header block (request line and headers), bytes (431 beyond it). */
  maxHeaderBytes: number;
  /** Most header lines in one message. */
  maxHeaders: number;
  /** Largest body (Content-Length), bytes (413 beyond it). */
  maxBodyBytes: number;
}

export const DEFAULT_PARSER_LIMITS: Readonly<RtspParserLimits> = {
  maxLineBytes: 4096,
  maxUriBytes: 2048,
  maxHeaderBytes: 16384,
  maxHeaders: 64,
  maxBodyBytes: 16384,
};

export interface RtspParserHandlers {
  onRequest(req: RtspRequest): void;
  /** A `$` frame: RTP or RTCP sent by the client over the RTSP connection. */
  onInterleaved?(channel: number, payload: Buffer): void;
  /** A response (a server ignores these: it sends no requests; clients and tests read them). */
  onResponse?(status: number, headers: Readonly<Record<string, string>>, body: Buffer): void;
  onError(err: RtspParseError): void;
}

const CR = 0x0d;
const LF = 0x0a;
const DOLLAR = 0x24;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export class RtspParser {
  private readonly limits: RtspParserLimits;
  private buf: Buffer = Buffer.alloc(0);
  private failed = false;

  constructor(
    private readonly handlers: RtspParserHandlers,
    limits: Partial<RtspParserLimits> = {},
  ) {
    this.limits = { ...DEFAULT_PARSER_LIMITS, ...limits };
  }

  /** Bytes waiting for the rest of their message (bounded by the limits). */
  get pendingBytes(): number {
    return this.buf.length;
  }

  /** True once a message could not be framed; the connection should be answered and closed. */
  get broken(): boolean {
    return this.failed;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let off = 0;
    while (!this.failed && off < this.buf.length) {
      const used = this.parseOne(off);
      if (used === 0) break;
      off += used;
    }
    if (this.failed) {
      this.buf = Buffer.alloc(0);
      return;
    }
    // Keep only the unparsed tail; copy it so a large chunk is not pinned by a small remainder.
    this.buf = off === 0 ? this.buf : off >= this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(off));
  }

  /** Parses one message at `off`; returns bytes consumed, or 0 when more input is needed. */
  private parseOne(off: number): number {
    const buf = this.buf;
    // Blank lines between messages are tolerated (some clients send a stray CRLF).
    if (buf[off] === CR || buf[off] === LF) return 1;

    if (buf[off] === DOLLAR) {
      if (buf.length - off < 4) return 0;
      const channel = buf[off + 1]!;
      const len = buf.readUInt16BE(off + 2);
      if (buf.length - off < 4 + len) return 0;
      this.handlers.onInterleaved?.(channel, buf.subarray(off + 4, off + 4 + len));
      return 4 + len;
    }

    const end = findHeaderEnd(buf, off, this.limits.maxHeaderBytes);
    if (end.index < 0) {
      if (buf.length - off > this.limits.maxHeaderBytes) {
        return this.fail(431, 'request header too large', readCSeq(buf.subarray(off, off + this.limits.maxHeaderBytes)));
      }
      // A single line that is already too long will never become valid.
      const firstLf = buf.indexOf(LF, off);
      const lineLen = firstLf < 0 ? buf.length - off : firstLf - off;
      if (lineLen > this.limits.maxLineBytes) {
        const status = firstLf < 0 && looksLikeRequestLine(buf, off) ? 414 : 400;
        return this.fail(status, status === 414 ? 'request URI too long' : 'line too long');
      }
      return 0;
    }

    const head = buf.toString('latin1', off, end.index);
    const lines = head.split(/\r?\n/);
    const startLine = lines.shift() ?? '';
    const headers: Record<string, string> = {};
    let lastName: string | undefined;
    let count = 0;
    for (const line of lines) {
      if (line.length > this.limits.maxLineBytes) return this.fail(400, 'header line too long', headers['cseq']);
      if (line.length === 0) continue;
      if ((line[0] === ' ' || line[0] === '\t') && lastName !== undefined) {
        headers[lastName] += ' ' + line.trim(); // obsolete line folding
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) return this.fail(400, 'malformed header line', headers['cseq']);
      const name = line.slice(0, colon).trim().toLowerCase();
      if (!TOKEN.test(name)) return this.fail(400, 'malformed header name', headers['cseq']);
      if (++count > this.limits.maxHeaders) return this.fail(431, 'too many headers', headers['cseq']);
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      lastName = name;
    }
    const cseq = headers['cseq'];

    let bodyLen = 0;
    const cl = headers['content-length'];
    if (cl !== undefined) {
      if (!/^\d{1,9}$/.test(cl)) return this.fail(400, 'bad Content-Length', cseq);
      bodyLen = Number(cl);
      if (bodyLen > this.limits.maxBodyBytes) return this.fail(413, 'request body too large', cseq);
    }
    const total = end.index + end.length - off + bodyLen;
    if (buf.length - off < total) return 0;
    const body = Buffer.from(buf.subarray(end.index + end.length, end.index + end.length + bodyLen));

    if (startLine.startsWith('RTSP/')) {
      const m = /^RTSP\/\d\.\d (\d{3})(?: .*)?$/.exec(startLine);
      if (!m) return this.fail(400, 'malformed status line', cseq);
      this.handlers.onResponse?.(Number(m[1]), headers, body);
      return total;
    }

    const parts = startLine.split(' ');
    if (parts.length !== 3) return this.fail(400, 'malformed request line', cseq);
    const [method, uri, version] = parts as [string, string, string];
    if (!TOKEN.test(method)) return this.fail(400, 'malformed method', cseq);
    if (uri.length === 0) return this.fail(400, 'empty request URI', cseq);
    if (uri.length > this.limits.maxUriBytes) return this.fail(414, 'request URI too long', cseq);
    if (/[\x00-\x20\x7f]/.test(uri)) return this.fail(400, 'malformed request URI', cseq);
    const v = /^RTSP\/(\d)\.(\d)$/.exec(version);
    if (!v) return this.fail(400, 'malformed protocol version', cseq);
    if (v[1] !== '1') return this.fail(505, 'RTSP version not supported', cseq);
    this.handlers.onRequest({ method, uri, headers, body });
    return total;
  }

  private fail(status: number, message: string, cseq?: string): number {
    this.failed = true;
    this.handlers.onError(cseq !== undefined && /^\d{1,10}$/.test(cseq) ? { status, message, cseq } : { status, message });
    return 0;
  }
}

/** Finds the blank line ending a header block, accepting CRLFCRLF and bare LFLF. */
function findHeaderEnd(buf: Buffer, off: number, max: number): { index: number; length: number } {
  const limit = Math.min(buf.length, off + max + 4);
  for (let i = buf.indexOf(LF, off); i >= 0 && i < limit; i = buf.indexOf(LF, i + 1)) {
    if (buf[i + 1] === LF) return { index: i, length: 2 };
    if (buf[i + 1] === CR && buf[i + 2] === LF) {
      return buf[i - 1] === CR ? { index: i - 1, length: 4 } : { index: i, length: 3 };
    }
    if (i + 2 >= buf.length) break;
  }
  return { index: -1, length: 0 };
}

function looksLikeRequestLine(buf: Buffer, off: number): boolean {
  const sp = buf.indexOf(0x20, off);
  return sp > off && sp - off < 32;
}

function readCSeq(head: Buffer): string | undefined {
  const m = /\r?\ncseq[ \t]*:[ \t]*(\d{1,10})\r?\n/i.exec(head.toString('latin1'));
  return m?.[1];
}

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Large',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  451: 'Parameter Not Understood',
  453: 'Not Enough Bandwidth',
  454: 'Session Not Found',
  455: 'Method Not Valid in This State',
  457: 'Invalid Range',
  459: 'Aggregate Operation Not Allowed',
  460: 'Only Aggregate Operation Allowed',
  461: 'Unsupported Transport',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'RTSP Version Not Supported',
  551: 'Option not supported',
};

export interface RtspResponse {
  status: number;
  /** Header values; an array repeats the header (e.g. several WWW-Authenticate challenges). */
  headers?: Record<string, string | number | readonly string[] | undefined>;
  body?: Buffer | string;
}

/** Serializes a response. Header values with CR or LF are rejected so nothing echoed can inject headers. */
export function serializeResponse(res: RtspResponse): Buffer {
  const reason = STATUS_TEXT[res.status] ?? 'Unknown';
  let head = `RTSP/1.0 ${res.status} ${reason}\r\n`;
  const body = res.body === undefined ? undefined : typeof res.body === 'string' ? Buffer.from(res.body, 'utf8') : res.body;
  for (const [name, value] of Object.entries(res.headers ?? {})) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      const s = String(v);
      if (/[\r\n]/.test(s) || /[\r\n:]/.test(name)) throw new Error(`invalid RTSP header ${name}`);
      head += `${name}: ${s}\r\n`;
    }
  }
  if (body && body.length > 0) head += `Content-Length: ${body.length}\r\n`;
  head += '\r\n';
  const h = Buffer.from(head, 'latin1');
  return body && body.length > 0 ? Buffer.concat([h, body]) : h;
}

/** Frames an RTP/RTCP packet for RTP-over-RTSP: 0x24, channel, 16-bit length, payload. */
export function interleavedHeader(channel: number, length: number): Buffer {
  if (length > 0xffff) throw new RangeError('interleaved frame larger than 65535 bytes');
  const h = Buffer.allocUnsafe(4);
  h[0] = DOLLAR;
  h[1] = channel & 0xff;
  h.writeUInt16BE(length, 2);
  return h;
}
