// A minimal RTSP viewer that does not decode: DESCRIBE, SETUP (RTP interleaved over the
// RTSP connection), PLAY, then counts pictures (RTP marker bits, distinct timestamps) and
// bytes. Many of them are cheap enough to load a server with 50 viewers on 2 cores.
import { Socket, connect } from 'node:net';

export interface RtpPacketInfo {
  marker: boolean;
  timestamp: number;
  seq: number;
  payload: Buffer;
}

export class CountingViewer {
  pictures = 0;
  packets = 0;
  bytes = 0;
  /** Gaps in RTP sequence numbers (packets lost or skipped by the server). */
  seqGaps = 0;
  playing = false;
  error: string | undefined;
  private socket: Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private cseq = 0;
  private pending: ((r: { status: number; headers: Record<string, string>; body: string }) => void) | undefined;
  private lastSeq = -1;
  private lastTs = -1;

  constructor(private readonly url: string, private readonly onPacket?: (p: RtpPacketInfo) => void) {}

  async start(timeoutMs = 10_000): Promise<void> {
    const u = new URL(this.url);
    const socket = connect(Number(u.port || 554), u.hostname);
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d) => this.onData(d));
    socket.on('error', (e) => (this.error ??= e.message));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const timer = setTimeout(() => socket.destroy(new Error('RTSP handshake timed out')), timeoutMs);
    try {
      const d = await this.request('DESCRIBE', this.url, { Accept: 'application/sdp' });
      if (d.status !== 200) throw new Error(`DESCRIBE ${d.status}`);
      const base = d.headers['content-base'] ?? `${this.url}/`;
      const control = /a=control:(\S+)/.exec(d.body.split('m=video')[1] ?? '')?.[1] ?? 'track1';
      const track = control.startsWith('rtsp://') ? control : new URL(control, base.endsWith('/') ? base : `${base}/`).href;
      const s = await this.request('SETUP', track, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
      if (s.status !== 200) throw new Error(`SETUP ${s.status}`);
      const session = (s.headers.session ?? '').split(';')[0]!;
      const p = await this.request('PLAY', this.url, { Session: session, Range: 'npt=0-' });
      if (p.status !== 200) throw new Error(`PLAY ${p.status}`);
      this.playing = true;
    } finally {
      clearTimeout(timer);
    }
  }

  stop(): void {
    this.socket?.destroy();
    this.playing = false;
  }

  private request(method: string, url: string, headers: Record<string, string>) {
    const lines = [`${method} ${url} RTSP/1.0`, `CSeq: ${++this.cseq}`, 'User-Agent: skyline-bench', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''];
    return new Promise<{ status: number; headers: Record<string, string>; body: string }>((resolve, reject) => {
      this.pending = resolve;
      this.socket!.once('close', () => reject(new Error(this.error ?? 'connection closed')));
      this.socket!.write(lines.join('\r\n'));
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length === 0) return;
      if (this.buf[0] === 0x24) {
        if (this.buf.length < 4) return;
        const len = this.buf.readUInt16BE(2);
        if (this.buf.length < 4 + len) return;
        if (this.buf[1] === 0) this.onRtp(this.buf.subarray(4, 4 + len));
        this.buf = this.buf.subarray(4 + len);
        continue;
      }
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const h of head.slice(1)) {
        const i = h.indexOf(':');
        if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
      }
      const bodyLen = Number(headers['content-length'] ?? 0);
      if (this.buf.length < end + 4 + bodyLen) return;
      const body = this.buf.subarray(end + 4, end + 4 + bodyLen).toString('utf8');
      this.buf = this.buf.subarray(end + 4 + bodyLen);
      const status = Number(head[0]!.split(' ')[1]);
      const p = this.pending;
      this.pending = undefined;
      p?.({ status, headers, body });
    }
  }

  private onRtp(pkt: Buffer): void {
    if (pkt.length < 12) return;
    const marker = (pkt[1]! & 0x80) !== 0;
    const seq = pkt.readUInt16BE(2);
    const timestamp = pkt.readUInt32BE(4);
    this.packets++;
    this.bytes += pkt.length;
    if (this.lastSeq >= 0 && seq !== ((this.lastSeq + 1) & 0xffff)) this.seqGaps++;
    this.lastSeq = seq;
    // A picture: the marker ends it; a new timestamp without one also starts a new one.
    if (marker || (this.lastTs >= 0 && timestamp !== this.lastTs)) {
      if (marker) this.pictures++;
    }
    this.lastTs = timestamp;
    if (this.onPacket) {
      const cc = pkt[0]! & 0x0f;
      this.onPacket({ marker, timestamp, seq, payload: pkt.subarray(12 + cc * 4) });
    }
  }
}
