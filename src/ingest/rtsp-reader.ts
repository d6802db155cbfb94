/**
 * An RTSP client in Node (RFC 2326): DESCRIBE, SETUP, PLAY, keep-alive, TEARDOWN; RTP over the
 * RTSP connection (interleaved) or over UDP; Basic and Digest credentials; H.264 depacketized by
 * src/rtp. Node's net and dgram only: no GStreamer, no libuv threadpool thread.
 *
 * Why not rtspsrc: capture times. RTCP sender reports map RTP time to the sender's wall clock;
 * rtspsrc consumes them inside rtpbin and the binding cannot hand the mapping out. Here each
 * unit gets the capture time the sender stated. Status codes also come straight from the
 * server (401 → UNAUTHORIZED, 404 → NOT_FOUND) instead of being guessed from GStreamer's text.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import type { Redactor } from '../log.js';
import { H264Depacketizer, type DepacketizedUnit } from '../rtp/depacketizer.js';
import { parseRtp } from '../rtp/packet.js';
import { ntpToEpochMs, RTCP_SR } from '../rtp/rtcp.js';
import { digestAuthorization } from '../rtsp/auth.js';
import { RtspParser } from '../rtsp/message.js';
import { parseFmtp, parseSdp } from '../rtsp/sdp.js';
import { rtspStatusError, SourceError } from './errors.js';
import type { Reader, ReaderEvents } from './gst-reader.js';
import { H264Normalizer } from './units.js';

export interface RtspTarget {
  /** URL without credentials. */
  url: string;
  username?: string;
  password?: string;
  /** rtsps://: RTSP over TLS (default port 322), media interleaved in the same connection. */
  tls?: boolean;
}

/** How an rtsps:// server's certificate is checked (Node's TLS options of the same names). */
export interface RtspTlsOptions {
  /** Certificates to trust besides Node's own CA list (a camera's self-signed certificate, say). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** false accepts any certificate: the connection is encrypted but the server is not authenticated. Default true. */
  rejectUnauthorized?: boolean;
}

export interface RtspReaderOptions {
  /** 'udp' asks for RTP over UDP; rtsps:// always interleaves (SRTP over UDP is not spoken). */
  transport: 'tcp' | 'udp';
  tls?: RtspTlsOptions;
  /** Longest wait for each RTSP answer, ms. */
  timeoutMs: number;
  /**
   * Answer a Basic challenge over plain rtsp://, where it sends the password in clear text (a man
   * in the middle can offer Basic in place of the camera's Digest). Default false.
   */
  basicWithoutTls?: boolean;
}

interface Response {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: Buffer;
}

/** Units wait this long for the first sender report before they go out with arrival times. */
const SR_WAIT_MS = 3000;

/** The capture time of RTP time `rtp` (32-bit) given a sender report's mapping. */
export function captureFromSr(rtp: number, sr: { rtp: number; ntpMs: number }, clockRate = 90_000): number {
  const delta = (rtp - sr.rtp) | 0; // signed 32-bit distance: works across wrap-around
  return sr.ntpMs + (delta * 1000) / clockRate;
}

/** Sender report fields (RFC 3550 §6.4.1) from a compound RTCP packet; undefined when it has none. */
export function readSenderReport(buf: Buffer): { ssrc: number; ntpMs: number; rtp: number } | undefined {
  let off = 0;
  while (off + 4 <= buf.length) {
    if (buf[off]! >> 6 !== 2) return undefined;
    const len = (buf.readUInt16BE(off + 2) + 1) * 4;
    if (off + len > buf.length) return undefined;
    if (buf[off + 1] === RTCP_SR && len >= 28) {
      return { ssrc: buf.readUInt32BE(off + 4), ntpMs: ntpToEpochMs(buf.readUInt32BE(off + 8), buf.readUInt32BE(off + 12)), rtp: buf.readUInt32BE(off + 16) };
    }
    off += len;
  }
  return undefined;
}

export class RtspReader extends EventEmitter<ReaderEvents> implements Reader {
  private socket: net.Socket | undefined;
  private parser: RtspParser | undefined;
  private udp: dgram.Socket[] = [];
  private cseq = 0;
  private waiting: ((r: Response | SourceError) => void) | undefined;
  private session: string | undefined;
  private authHeader: ((method: string, uri: string) => string) | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private ended = false;
  private playing = false;
  private readonly h264 = new H264Normalizer();
  private readonly depacketizer = new H264Depacketizer((u) => this.onDepacketized(u));
  private sr: { rtp: number; ntpMs: number } | undefined;
  private held: DepacketizedUnit[] = [];
  private firstUnitAt = 0;
  private rtpChannel = 0;
  private rtcpChannel = 1;
  /** UDP: where media may come from (the server's address and ports from SETUP); other senders are ignored. */
  private peer: { address: string; rtp?: number; rtcp?: number } | undefined;
  /** The stream's SSRC: from SETUP's Transport, else the first packet of the server's. */
  private ssrc: number | undefined;

  constructor(
    private readonly target: RtspTarget,
    private readonly o: RtspReaderOptions,
    private readonly redactor: Redactor,
  ) {
    super();
  }

  start(): void {
    this.run().catch((err: unknown) => this.finish(err instanceof SourceError ? err : new SourceError('ERROR', this.redactor.scrub(String((err as Error)?.message ?? err)))));
  }

  pause(): void {
    // A live stream cannot wait: nothing to do.
  }

  resume(): void {}

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.cleanup(true);
  }

  private async run(): Promise<void> {
    const u = new URL(this.target.url);
    const port = u.port ? Number(u.port) : this.target.tls ? 322 : 554;
    await this.connect(u.hostname.replace(/^\[|\]$/g, ''), port);

    let res = await this.request('DESCRIBE', this.target.url, { Accept: 'application/sdp' });
    if (res.status === 401) {
      this.authHeader = this.authFor(res);
      res = await this.request('DESCRIBE', this.target.url, { Accept: 'application/sdp' });
    }
    if (res.status !== 200) throw rtspStatusError(res.status, 'DESCRIBE', '');
    const base = res.headers['content-base'] ?? res.headers['content-location'] ?? this.target.url;
    const sdp = parseSdp(res.body.toString('utf8'));
    const video = sdp.media.filter((m) => m.media === 'video');
    if (video.length === 0) throw new SourceError('NOT_A_STREAM', `the server's description has no video (media: ${sdp.media.map((m) => m.media).join(', ') || 'none'})`);
    const h264 = video.find((m) => m.attributes.some(([k, v]) => k === 'rtpmap' && /\sH264\/90000/i.test(v)));
    if (!h264) {
      const codecs = video.flatMap((m) => m.attributes.filter(([k]) => k === 'rtpmap').map(([, v]) => v.split(' ')[1] ?? v));
      const formats = video.flatMap((m) => m.formats);
      throw new SourceError('UNSUPPORTED_CODEC', `the stream is ${codecs.join(', ') || `RTP payload type ${formats.join(', ')}`}; LiveSource decodes H.264 over RTSP`);
    }
    const fmtp = h264.attributes.find(([k]) => k === 'fmtp');
    const sprop = fmtp ? parseFmtp(fmtp[1]).params['sprop-parameter-sets'] : undefined;
    if (sprop) {
      const sets = sprop.split(',').map((s) => Buffer.from(s, 'base64')).filter((b) => b.length > 0);
      this.h264.setParameterSets(sets.filter((b) => (b[0]! & 0x1f) === 7), sets.filter((b) => (b[0]! & 0x1f) === 8));
      if (this.h264.width) this.emit('caps', { codec: 'video/x-h264', width: this.h264.width, height: this.h264.height });
    }
    const control = h264.attributes.find(([k]) => k === 'control')?.[1];
    const trackUrl = !control || control === '*' ? base : /^rtsps?:\/\//i.test(control) ? control : new URL(control, base.endsWith('/') ? base : `${base}/`).href;

    let transport: string;
    if (this.o.transport === 'udp' && !this.target.tls) {
      const [rtpPort, rtcpPort] = await this.bindUdp();
      transport = `RTP/AVP;unicast;client_port=${rtpPort}-${rtcpPort}`;
    } else {
      transport = 'RTP/AVP/TCP;unicast;interleaved=0-1';
    }
    res = await this.request('SETUP', trackUrl, { Transport: transport });
    if (res.status !== 200) throw rtspStatusError(res.status, 'SETUP', '');
    this.session = res.headers['session']?.split(';')[0]?.trim();
    const reply = res.headers['transport'] ?? '';
    const ssrc = /;\s*ssrc=([0-9A-Fa-f]{1,8})/.exec(reply);
    if (ssrc) this.ssrc = parseInt(ssrc[1]!, 16) >>> 0;
    const serverPorts = /server_port=(\d+)-(\d+)/.exec(reply);
    const source = /;\s*source=([0-9A-Fa-f.:]+)/.exec(reply)?.[1];
    this.peer = {
      address: unmapped(source && net.isIP(source) ? source : this.socket?.remoteAddress ?? ''),
      ...(serverPorts ? { rtp: Number(serverPorts[1]), rtcp: Number(serverPorts[2]) } : {}),
    };
    const ch = /interleaved=(\d+)-(\d+)/.exec(reply);
    if (ch) {
      this.rtpChannel = Number(ch[1]);
      this.rtcpChannel = Number(ch[2]);
    }
    const timeout = Number(/timeout=(\d+)/.exec(res.headers['session'] ?? '')?.[1] ?? 60);
    res = await this.request('PLAY', base, { Range: 'npt=0.000-' });
    if (res.status !== 200) throw rtspStatusError(res.status, 'PLAY', '');
    this.playing = true;
    // Keep-alive well inside the session timeout (RFC 2326 §12.37).
    this.keepAlive = setInterval(() => {
      this.request('GET_PARAMETER', base, {}).catch(() => undefined);
    }, Math.max(1000, (timeout * 1000) / 2));
    this.keepAlive.unref();
  }

  private connect(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const secure = this.target.tls;
      const socket = secure
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ca: this.o.tls?.ca, rejectUnauthorized: this.o.tls?.rejectUnauthorized ?? true })
        : net.connect({ host, port, noDelay: true });
      if (secure) socket.setNoDelay(true);
      this.socket = socket;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SourceError('UNREACHABLE', `no ${secure ? 'TLS' : 'TCP'} connection to ${host}:${port} within ${this.o.timeoutMs / 1000} s`));
      }, this.o.timeoutMs);
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const e = socketError(err, host, port);
        if (!this.playing) reject(e);
        this.waiting?.(e);
        this.finish(e);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        const e = new SourceError(this.playing ? 'STREAM_LOST' : 'PROTOCOL_ERROR', this.playing ? 'the RTSP server closed the connection' : 'the RTSP server closed the connection before the stream started');
        this.waiting?.(e);
        this.finish(e);
      });
      this.parser = new RtspParser(
        {
          onRequest: () => undefined, // servers may send requests (ANNOUNCE, GET_PARAMETER); we answer none
          onInterleaved: (channel, payload) => this.onInterleaved(channel, payload),
          onResponse: (status, headers, body) => {
            const w = this.waiting;
            this.waiting = undefined;
            w?.({ status, headers, body });
          },
          onError: (err) => {
            const e = new SourceError('PROTOCOL_ERROR', `the server does not speak RTSP: ${err.message}`);
            this.waiting?.(e);
            this.finish(e);
          },
        },
        { maxBodyBytes: 1 << 20, maxHeaderBytes: 65536 },
      );
      socket.on('data', (d: Buffer) => this.parser?.push(d));
    });
  }

  private request(method: string, uri: string, headers: Record<string, string>): Promise<Response> {
    return new Promise((resolve, reject) => {
      if (!this.socket || this.socket.destroyed) {
        reject(new SourceError('STREAM_LOST', 'the RTSP connection is gone'));
        return;
      }
      const h: Record<string, string> = { CSeq: String(++this.cseq), 'User-Agent': 'gst-skyline', ...headers };
      if (this.session) h['Session'] = this.session;
      if (this.authHeader) h['Authorization'] = this.authHeader(method, uri);
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new SourceError(this.playing ? 'STREAM_LOST' : 'PROTOCOL_ERROR', `no answer to RTSP ${method} within ${this.o.timeoutMs / 1000} s`));
      }, this.o.timeoutMs);
      this.waiting = (r) => {
        clearTimeout(timer);
        if (r instanceof SourceError) reject(r);
        else resolve(r);
      };
      this.socket.write(`${method} ${uri} RTSP/1.0\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
    });
  }

  private authFor(res: Response): (method: string, uri: string) => string {
    const { username, password } = this.target;
    if (username === undefined || password === undefined) throw new SourceError('UNAUTHORIZED', 'the RTSP server wants credentials: put them in the URL (rtsp://user:password@host/path)');
    const challenge = res.headers['www-authenticate'] ?? '';
    // Several challenges may be joined with ", ": prefer Digest.
    const digestAt = challenge.search(/digest\s/i);
    if (digestAt >= 0) {
      // Only this challenge's parameters: another scheme's challenge may follow it.
      const rest = challenge.slice(digestAt + 7);
      const param = (name: string) => new RegExp(`(?:^|[\\s,])${name}\\s*=\\s*(?:"([^"]*)"|([^\\s,]*))`, 'i').exec(rest);
      const read = (name: string) => {
        const m = param(name);
        return m ? (m[1] ?? m[2] ?? '') : '';
      };
      const realm = read('realm');
      const nonce = read('nonce');
      const qop = read('qop').split(',').map((s) => s.trim()).includes('auth');
      let nc = 0;
      return (method, uri) =>
        digestAuthorization({
          username,
          password,
          realm,
          nonce,
          method,
          uri,
          qop: qop ? { nc: (++nc).toString(16).padStart(8, '0'), cnonce: randomBytes(8).toString('hex') } : undefined,
        });
    }
    if (/basic/i.test(challenge)) {
      if (!this.target.tls && !this.o.basicWithoutTls) {
        throw new SourceError('UNAUTHORIZED', 'the RTSP server asks for Basic authentication, which would send the password in clear text over rtsp://: use rtsps://, or set rtspBasicWithoutTls if this network is trusted');
      }
      const token = Buffer.from(`${username}:${password}`).toString('base64');
      this.redactor.add(token);
      return () => `Basic ${token}`;
    }
    throw new SourceError('UNAUTHORIZED', 'the RTSP server asks for an authentication scheme other than Basic or Digest');
  }

  private async bindUdp(): Promise<[number, number]> {
    // RTP on an even port, RTCP on the next one (RFC 3550 §11); a few tries for a free pair. Bound
    // to the address our RTSP connection left from (the interface that reaches the camera), not
    // to every interface.
    const local = this.socket?.localAddress ?? '';
    const type = net.isIPv6(local) ? 'udp6' : 'udp4';
    const address = local || undefined;
    for (let attempt = 0; attempt < 20; attempt++) {
      const rtp = dgram.createSocket(type);
      const port = await new Promise<number>((resolve, reject) => {
        rtp.once('error', reject);
        rtp.bind(0, address, () => resolve(rtp.address().port));
      });
      const even = port % 2 === 0 ? port : port + 1;
      let rtpSock = rtp;
      if (even !== port) {
        rtp.close();
        rtpSock = dgram.createSocket(type);
        if (!(await tryBind(rtpSock, even, address))) continue;
      }
      const rtcp = dgram.createSocket(type);
      if (!(await tryBind(rtcp, even + 1, address))) {
        rtpSock.close();
        continue;
      }
      rtpSock.on('message', (m: Buffer, from: dgram.RemoteInfo) => {
        if (this.fromServer(from, this.peer?.rtp)) this.onRtp(m);
      });
      rtcp.on('message', (m: Buffer, from: dgram.RemoteInfo) => {
        if (this.fromServer(from, this.peer?.rtcp)) this.onRtcp(m);
      });
      rtpSock.on('error', () => undefined);
      rtcp.on('error', () => undefined);
      // Big enough for bursts of a keyframe at high bitrate.
      try {
        rtpSock.setRecvBufferSize(4 * 2 ** 20);
      } catch {
        // the system may cap it; the default still works at moderate rates
      }
      this.udp = [rtpSock, rtcp];
      return [even, even + 1];
    }
    throw new SourceError('ERROR', 'no pair of free UDP ports for RTP/RTCP');
  }

  private onInterleaved(channel: number, payload: Buffer): void {
    if (channel === this.rtpChannel) this.onRtp(payload);
    else if (channel === this.rtcpChannel) this.onRtcp(payload);
  }

  /** A datagram from the server's address and, when SETUP named them, its port; before SETUP's answer, none. */
  private fromServer(from: dgram.RemoteInfo, port: number | undefined): boolean {
    return this.peer !== undefined && unmapped(from.address) === this.peer.address && (port === undefined || from.port === port);
  }

  /** Only the stream's SSRC counts (a forged sender report would shift every capture time). */
  private ownSsrc(ssrc: number): boolean {
    this.ssrc ??= ssrc;
    return ssrc === this.ssrc;
  }

  private onRtp(buf: Buffer): void {
    if (this.ended) return;
    const p = parseRtp(buf);
    if (p && this.ownSsrc(p.ssrc)) this.depacketizer.push(p);
  }

  private onRtcp(buf: Buffer): void {
    const sr = readSenderReport(buf);
    if (!sr || !this.ownSsrc(sr.ssrc)) return;
    this.sr = { rtp: sr.rtp, ntpMs: sr.ntpMs };
    this.flushHeld();
  }

  private onDepacketized(u: DepacketizedUnit): void {
    if (this.ended) return;
    if (!this.sr) {
      // Hold the first units briefly: the first sender report usually follows within a second.
      if (this.firstUnitAt === 0) {
        this.firstUnitAt = Date.now();
        setTimeout(() => this.flushHeld(true), SR_WAIT_MS).unref();
      }
      if (Date.now() - this.firstUnitAt < SR_WAIT_MS && this.held.length < 300) {
        this.held.push(u);
        return;
      }
    }
    this.flushHeld(true);
    this.emitUnit(u);
  }

  private flushHeld(force = false): void {
    if (!force && !this.sr) return;
    const held = this.held;
    this.held = [];
    for (const u of held) this.emitUnit(u);
  }

  private emitUnit(u: DepacketizedUnit): void {
    if (this.ended) return;
    const { data, keyframe } = this.h264.fromNalus(u.nalus);
    if (this.h264.width && !this.sentCaps) {
      this.sentCaps = true;
      this.emit('caps', { codec: 'video/x-h264', width: this.h264.width, height: this.h264.height });
    }
    const rtp32 = u.timestamp % 0x1_0000_0000;
    this.emit('unit', {
      data,
      keyframe,
      ptsNs: Math.round((u.timestamp * 1e9) / 90_000),
      captureMs: this.sr ? captureFromSr(rtp32, this.sr) : undefined,
    });
  }

  private sentCaps = false;

  private finish(err: SourceError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.cleanup(false);
    if (err) this.redactor.scrubError(err);
    this.emit('end', err);
  }

  private cleanup(teardown: boolean): void {
    clearInterval(this.keepAlive);
    const s = this.socket;
    if (s && !s.destroyed) {
      if (teardown && this.session) {
        s.write(`TEARDOWN ${this.target.url} RTSP/1.0\r\nCSeq: ${++this.cseq}\r\nSession: ${this.session}\r\n\r\n`);
        s.end();
        setTimeout(() => s.destroy(), 500).unref();
      } else {
        s.destroy();
      }
    }
    for (const u of this.udp) u.close();
    this.udp = [];
  }
}

function tryBind(s: dgram.Socket, port: number, address: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, address, () => resolve(true));
  });
}

/** An IPv4-mapped IPv6 address as IPv4, so both spellings of one sender compare equal. */
function unmapped(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

/** OpenSSL's verification failures, as Node names them (err.code). */
const CERTIFICATE_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME_INVALID/;

function socketError(err: NodeJS.ErrnoException, host: string, port: number): SourceError {
  if (err.code && CERTIFICATE_CODES.test(err.code)) {
    return new SourceError('UNTRUSTED_CERTIFICATE', `the TLS certificate of ${host}:${port} is not trusted (${err.code}): pass tls.ca with the camera's certificate, or tls.rejectUnauthorized: false to accept it unchecked`);
  }
  switch (err.code) {
    case 'ECONNREFUSED':
      return new SourceError('UNREACHABLE', `nothing listens at ${host}:${port} (connection refused)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new SourceError('UNREACHABLE', `the host ${host} does not resolve`);
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new SourceError('UNREACHABLE', `${host}:${port} cannot be reached (${err.code})`);
    case 'ECONNRESET':
    case 'EPIPE':
      return new SourceError('STREAM_LOST', `the RTSP connection to ${host}:${port} was reset`);
    default:
      return new SourceError('ERROR', `RTSP connection to ${host}:${port}: ${err.message}`);
  }
}
