// What an SrtDestination connects to, checked once in the constructor: caller or listener, the
// srtsink URI (no secret in it: the passphrase and the stream id are set as properties after
// parsing), and srtsink's `stats` read into numbers.
import type { ReconnectOptions } from '../../backoff.js';

export type SrtMode = 'caller' | 'listener';

export interface SrtDestinationOptions {
  /**
   * `srt://host:port`. Caller mode: the listener to connect to. Listener mode: the address to
   * listen on (`srt://0.0.0.0:9000`); or give `port` alone. No query: passphrase, stream id and
   * latency are options here, so no secret ever sits in a URL that may be shown.
   */
  url?: string;
  /** 'caller' (default): we connect to `url`. 'listener': we wait for callers on `port`. */
  mode?: SrtMode;
  /** Listener mode: the UDP port to listen on (or the port of `url`). */
  port?: number;
  /** AES encryption: 10 to 79 characters; the peer must use the same. Never logged. */
  passphrase?: string;
  /** AES key length in bytes with a passphrase: 16 (default), 24 or 32. */
  pbkeylen?: 16 | 24 | 32;
  /**
   * SRT stream id, at most 512 characters: MediaMTX takes `publish:<path>` (or
   * `publish:<path>:<user>:<pass>`), SRS and others the standard `#!::r=<path>,m=publish`.
   */
  streamId?: string;
  /** SRT latency: how long the receiver waits for retransmissions, ms. Default 120. */
  latencyMs?: number;
  /** Backoff between attempts while the peer is away. */
  reconnect?: ReconnectOptions;
  /** Longest an attempt to connect may take, ms. Default 5000 (libsrt itself gives up after 3 s). */
  connectTimeoutMs?: number;
}

export interface SrtTarget {
  mode: SrtMode;
  host: string;
  port: number;
  /** srtsink's uri: host, port, mode, latency, key length; nothing secret. */
  uri: string;
  /** Safe to show: `srt://host:port` (listener: `srt://host:port?mode=listener`). */
  masked: string;
  latencyMs: number;
  connectTimeoutMs: number;
  pbkeylen: 16 | 24 | 32 | undefined;
  /** Strings to mask in logs: the passphrase, the password inside a MediaMTX stream id. */
  secrets: string[];
}

const MAX_STREAM_ID = 512;

/** Checks the options (TypeError/RangeError with what is wrong; never the passphrase itself). */
export function srtTarget(o: SrtDestinationOptions): SrtTarget {
  const mode = o.mode ?? 'caller';
  if (mode !== 'caller' && mode !== 'listener') throw new RangeError(`SRT mode must be 'caller' or 'listener', got ${JSON.stringify(String(mode).slice(0, 16))}`);
  let host = mode === 'listener' ? '0.0.0.0' : '';
  let port = o.port;
  if (o.url !== undefined) {
    if (typeof o.url !== 'string' || !/^srt:\/\//i.test(o.url)) throw new TypeError('SRT url must look like srt://host:port');
    let u: URL;
    try {
      u = new URL(o.url);
    } catch {
      throw new TypeError('SRT url must look like srt://host:port (not shown: it may hold a secret)');
    }
    if (u.search || u.username || u.password) {
      throw new TypeError('SRT url takes no query or credentials: give passphrase, streamId and latencyMs as options');
    }
    host = u.hostname.replace(/^\[|\]$/g, '');
    if (u.port) port ??= Number(u.port);
  }
  if (mode === 'caller' && !host) throw new TypeError("SRT caller mode needs url: 'srt://host:port'");
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`SRT ${mode} needs a port from 1 to 65535${mode === 'listener' ? " (port, or url 'srt://0.0.0.0:PORT')" : " in url 'srt://host:port'"}`);
  }
  const passphrase = o.passphrase;
  if (passphrase !== undefined && (typeof passphrase !== 'string' || passphrase.length < 10 || passphrase.length > 79)) {
    throw new RangeError(`SRT passphrase must be 10 to 79 characters (got ${typeof passphrase === 'string' ? passphrase.length : typeof passphrase})`);
  }
  if (o.pbkeylen !== undefined && ![16, 24, 32].includes(o.pbkeylen)) throw new RangeError(`SRT pbkeylen must be 16, 24 or 32, got ${String(o.pbkeylen).slice(0, 8)}`);
  if (o.pbkeylen !== undefined && passphrase === undefined) throw new RangeError('SRT pbkeylen needs a passphrase');
  if (o.streamId !== undefined && (typeof o.streamId !== 'string' || o.streamId.length === 0 || o.streamId.length > MAX_STREAM_ID)) {
    throw new RangeError(`SRT streamId must be 1 to ${MAX_STREAM_ID} characters`);
  }
  const latencyMs = o.latencyMs ?? 120;
  if (!Number.isInteger(latencyMs) || latencyMs < 0 || latencyMs > 60_000) throw new RangeError(`SRT latencyMs must be an integer from 0 to 60000, got ${latencyMs}`);
  const connectTimeoutMs = o.connectTimeoutMs ?? 5000;
  if (!(connectTimeoutMs > 0)) throw new RangeError(`connectTimeoutMs must be positive, got ${connectTimeoutMs}`);
  const pbkeylen = passphrase === undefined ? undefined : (o.pbkeylen ?? 16);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  // Everything but the secrets goes in the URI: srtsink re-reads its mode, latency and key length
  // from the uri when it is set, so the properties alone would be overwritten.
  const query = [`mode=${mode}`, `latency=${latencyMs}`, 'auto-reconnect=false', 'wait-for-connection=false', ...(pbkeylen ? [`pbkeylen=${pbkeylen}`] : [])];
  const secrets: string[] = [];
  if (passphrase) secrets.push(passphrase);
  // MediaMTX's publish:<path>:<user>:<pass>: the password part.
  const mtxPass = o.streamId ? /^(?:publish|read):[^:]*:[^:]*:(.+)$/.exec(o.streamId)?.[1] : undefined;
  if (mtxPass) secrets.push(mtxPass);
  return {
    mode,
    host,
    port,
    uri: `srt://${hostPart}:${port}?${query.join('&')}`,
    masked: `srt://${hostPart}:${port}${mode === 'listener' ? '?mode=listener' : ''}`,
    latencyMs,
    connectTimeoutMs,
    pbkeylen,
    secrets,
  };
}

/** SRT's own view of the link (srtsink's `stats`); listener mode sums its callers. */
export interface SrtStats {
  /** Callers connected (listener), or 1/0 (caller). */
  peers: number;
  /** Round-trip time, ms (the worst caller's in listener mode). */
  rttMs: number;
  packetsSent: number;
  packetsRetransmitted: number;
  /** Packets the receiver reported lost (then retransmitted, or dropped). */
  packetsLost: number;
  /** Packets dropped unsent: too late for the latency budget. */
  packetsDropped: number;
  /** Estimated link bandwidth, Mbit/s. */
  bandwidthMbps: number;
  sendRateMbps: number;
  negotiatedLatencyMs: number;
  /** Bytes srtsink sent in this run of the pipeline. */
  bytesSent: number;
}

function field(text: string, name: string): number {
  const m = new RegExp(`(?:^|[ ,])${name}=\\([a-z0-9]+\\)([-\\d.e+]+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * Reads srtsink's `stats` text: `application/x-srt-statistics, packets-sent=(gint64)21, ...,
 * rtt-ms=(double)0.13, bytes-sent-total=(guint64)25380;`. A listener's has `callers=<"...">`,
 * one escaped structure per caller. A caller without a connection has only bytes-sent-total.
 */
export function parseSrtStats(raw: unknown, mode: SrtMode): SrtStats | undefined {
  if (typeof raw !== 'string' || !raw.startsWith('application/x-srt-statistics')) return undefined;
  const text = raw.replace(/\\/g, '');
  const parts = mode === 'listener' ? [...text.matchAll(/"application\/x-srt-statistics,([^"]*)"/g)].map((m) => m[1]!) : /packets-sent=/.test(text) ? [text] : [];
  const s: SrtStats = {
    peers: parts.length, rttMs: 0, packetsSent: 0, packetsRetransmitted: 0, packetsLost: 0, packetsDropped: 0,
    bandwidthMbps: 0, sendRateMbps: 0, negotiatedLatencyMs: 0, bytesSent: field(text.replace(/callers=[^>]*>/, ''), 'bytes-sent-total'),
  };
  for (const p of parts) {
    s.rttMs = Math.max(s.rttMs, field(p, 'rtt-ms'));
    s.packetsSent += field(p, 'packets-sent');
    s.packetsRetransmitted += field(p, 'packets-retransmitted');
    s.packetsLost += field(p, 'packets-sent-lost');
    s.packetsDropped += field(p, 'packets-sent-dropped');
    s.bandwidthMbps = Math.max(s.bandwidthMbps, field(p, 'bandwidth-mbps'));
    s.sendRateMbps += field(p, 'send-rate-mbps');
    s.negotiatedLatencyMs = Math.max(s.negotiatedLatencyMs, field(p, 'negotiated-latency-ms'));
    if (mode === 'caller') s.bytesSent = Math.max(s.bytesSent, field(p, 'bytes-sent'));
  }
  return s;
}
