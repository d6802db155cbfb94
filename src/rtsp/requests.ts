// Request plumbing of the RTSP server: which mount a request URI names, which transport a SETUP
// gets, and the small helpers of replies and logs.
import net from 'node:net';
import type { RtspConnection } from './connection.js';
import type { TransportSpec } from './headers.js';
import type { RtspResponse } from './message.js';
import type { RtspMount } from './mount.js';
import { TcpTransport, UdpTransport, type RtpTransport, type RtspSession } from './session.js';
import type { RtpPair } from './udp.js';

export const SERVER_NAME = 'gst-skyline';

export type Resolved =
  | { kind: 'none' }
  | { kind: 'unknown'; path: string }
  /** base: the aggregate URL with a trailing slash (Content-Base); trackUrl: the track's control URL. */
  | { kind: 'mount'; mount: RtspMount; track: boolean; base: string; trackUrl: string };

/** The first transport the client offers that we serve: RTP/AVP unicast over UDP (to the request's own address) or interleaved TCP. */
export function chooseTransport(conn: RtspConnection, specs: TransportSpec[], udp: RtpPair | undefined): RtpTransport | undefined {
  for (const t of specs) {
    if (t.protocol !== 'RTP/AVP' || t.multicast) continue;
    if (t.mode !== undefined && t.mode !== 'PLAY') continue;
    if (t.lower === 'TCP') {
      let ch = t.interleaved;
      if (!ch || ch[1] !== ch[0] + 1 || conn.channels.has(ch[0]) || conn.channels.has(ch[1])) {
        // Pick a free even/odd pair when the client left it to us or asked for one in use.
        let c = 0;
        while (c < 254 && (conn.channels.has(c) || conn.channels.has(c + 1))) c += 2;
        if (c >= 254) continue;
        ch = [c, c + 1];
      }
      return new TcpTransport(conn, ch);
    }
    if (!t.clientPort || !udp || t.clientPort[0] === 0) continue;
    // Packets go to the address the request came from (never to a third party named in destination=).
    return new UdpTransport(udp.rtp, udp.rtcp, conn.remoteAddress, t.clientPort, udp.ports);
  }
  return undefined;
}

/** Maps a request URI to a mount (and whether it names the track) or to nothing. undefined: unparseable. */
export function resolveUri(uri: string, conn: RtspConnection, mounts: ReadonlyMap<string, RtspMount>, serverHost: string): Resolved | undefined {
  if (uri === '*') return { kind: 'none' };
  let path: string;
  let origin: string;
  try {
    if (uri.startsWith('/')) {
      path = new URL(uri, 'rtsp://x').pathname;
      const host = net.isIPv6(conn.localAddress) ? `[${conn.localAddress}]` : conn.localAddress || serverHost;
      origin = `rtsp://${host}:${conn.localPort}`;
    } else {
      const u = new URL(uri);
      // rtsps: the server behind a TLS terminator (stunnel, a proxy) sees its clients' rtsps:// URIs.
      if (u.protocol !== 'rtsp:' && u.protocol !== 'rtspt:' && u.protocol !== 'rtsps:') return undefined;
      path = u.pathname;
      origin = `${u.protocol}//${u.host}`;
    }
    path = decodeURI(path);
  } catch {
    return undefined;
  }
  const p = normalizePath(path);
  const at = (mount: RtspMount, track: boolean): Resolved => {
    const base = `${origin}${encodeURI(mount.path === '/' ? '' : mount.path)}/`;
    return { kind: 'mount', mount, track, base, trackUrl: `${base}${mount.control}` };
  };
  const exact = mounts.get(p);
  if (exact) return at(exact, false);
  const slash = p.lastIndexOf('/');
  if (slash >= 0) {
    const parent = mounts.get(p.slice(0, slash));
    if (parent && p.slice(slash + 1) === parent.control) return at(parent, true);
  }
  return { kind: 'unknown', path: p };
}

export function normalizePath(path: string): string {
  let p = path.startsWith('/') ? path : `/${path}`;
  while (p.length > 0 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

export function peerKey(address: string, port: number): string {
  return `${address.replace(/^::ffff:/, '')}|${port}`;
}

export function sessionHeaders(s: RtspSession | undefined, timeoutSec: number): Record<string, string> {
  return s ? { Session: `${s.id};timeout=${timeoutSec}` } : {};
}

export function withServerHeaders(r: RtspResponse): RtspResponse {
  return { ...r, headers: { ...(r.headers ?? {}), Server: SERVER_NAME, Date: new Date().toUTCString() } };
}

/** Drops user:password@ from a client's request URI before it is logged (any password, not only ours). */
export function redactUri(uri: string): string {
  return uri.replace(/^([a-z]+:\/\/)[^/@]*@/i, '$1****@');
}
