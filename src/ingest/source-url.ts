/**
 * What a LiveSource URL means: which reader takes it and, for the GStreamer readers, the
 * gst-launch description of the ingest pipeline. Pure functions, no I/O.
 *
 * Every GStreamer reader ends the same way: parsebin (or an encoder for raw sources) hands over
 * the encoded video, and gdppay frames it onto the worker's stdout. Secrets (passwords, stream
 * keys, URLs that carry them) are set as properties after parsing, never written into the
 * description, and are listed so a Redactor can scrub them from every message.
 */
import { SourceError } from './errors.js';

export type SourceKind = 'rtsp' | 'rtmp' | 'http' | 'srt' | 'file' | 'v4l2' | 'testsrc';

export interface TestPatternOptions {
  width: number;
  height: number;
  fps: number;
  /** videotestsrc pattern name, e.g. 'ball', 'smpte'. */
  pattern: string;
}

export interface SourceSpec {
  kind: SourceKind;
  /** The URL as it may be shown: passwords and stream keys replaced by ****. */
  masked: string;
  /** Strings a Redactor must scrub. */
  secrets: string[];
  /** GStreamer readers: the launch description (secrets absent) and properties to set after parsing. */
  launch?: string;
  properties?: Record<string, Record<string, string | number | boolean>>;
  /** Files play at their own pace (like a camera) unless asked to go as fast as they can be read. */
  live: boolean;
  /**
   * A clean end of stream is the end (state 'ended'), not a lost connection to recover: files,
   * and HLS playlists, whose demuxer ends only at #EXT-X-ENDLIST (a recording, or a live
   * stream that was finished).
   */
  finite?: boolean;
  /** RTSP: the URL without credentials, and the credentials. */
  rtsp?: { url: string; username?: string; password?: string; tls?: boolean };
  /** File sources: the path, for the timestamps sidecar. */
  path?: string;
}

export interface SpecOptions {
  /** file sources: 'realtime' (default) paces units like a live camera; 'fast' reads as fast as they are consumed. */
  filePace?: 'realtime' | 'fast';
  /** Raw sources (V4L2, test pattern): keyframe interval of the ingest encoder, frames. */
  keyframeInterval?: number;
}

/** Encoded video LiveSource takes from parsebin; other codecs get through so they can be named in an error. */
export const ENCODED_CAPS = 'video/x-h264,alignment=au;image/jpeg;video/x-h265;video/x-vp8;video/x-vp9;video/x-av1;video/mpeg;video/x-theora;video/x-divx;video/x-wmv';

const MASK = '****';

function tail(live: boolean): string {
  // sync on the sink paces a file at its own frame rate; live sources are paced by the source.
  return `capsfilter caps="${ENCODED_CAPS}" ! gdppay ! fdsink fd=1 sync=${live ? 'false' : 'true'}`;
}

function encoderTail(keyint: number): string {
  return `videoconvert ! video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=${keyint} bframes=0 ! h264parse config-interval=-1 ! ${tail(true)}`;
}

/** Query values this short are shown masked but not scrubbed from free text (they would mask ordinary words). */
const MIN_QUERY_SECRET = 4;

/**
 * The URL as it may be shown and what a Redactor must scrub: the password, and every query value
 * (access tokens, signatures, a KVS HLS SessionToken), masked whatever its length. A password is
 * a secret whatever its length; query values are scrubbed from free text from 4 characters on.
 */
export function maskUrl(u: URL): { masked: string; secrets: string[] } {
  const secrets: string[] = [];
  const m = new URL(u.href);
  if (m.password) {
    secrets.push(safeDecode(m.password), m.password);
    m.password = MASK;
  }
  if (u.search.length > 1) {
    const shown: string[] = [];
    for (const part of u.search.slice(1).split('&')) {
      const eq = part.indexOf('=');
      if (eq < 0) {
        shown.push(part);
        continue;
      }
      const raw = part.slice(eq + 1);
      if (raw.length >= MIN_QUERY_SECRET) secrets.push(raw, safeDecode(raw.replace(/\+/g, ' ')));
      shown.push(`${part.slice(0, eq)}=${MASK}`);
    }
    if (u.search.length - 1 >= MIN_QUERY_SECRET) secrets.push(u.search.slice(1));
    m.search = '';
    return { masked: `${m.href.replace(/\?$/, '')}?${shown.join('&')}`, secrets };
  }
  return { masked: m.href, secrets };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function parseSourceUrl(url: string, o: SpecOptions = {}): SourceSpec {
  if (typeof url !== 'string' || url.trim() === '') throw new SourceError('BAD_URL', 'LiveSource needs a url: rtsp://, rtmp://, http(s)://, a file path, /dev/videoN or testsrc://');
  const text = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  const keyint = o.keyframeInterval ?? 30;
  // It is written into the ingest pipeline's description: anything but a number would be parsed there.
  if (typeof keyint !== 'number' || !Number.isInteger(keyint) || keyint < 1 || keyint > 100_000) {
    throw new RangeError(`keyframeInterval must be an integer from 1 to 100000, got ${typeof keyint === 'string' ? JSON.stringify(String(keyint).slice(0, 32)) : String(keyint)}`);
  }

  if (scheme === 'rtsp' || scheme === 'rtsps') {
    const u = parseUrl(text);
    const { masked, secrets } = maskUrl(u);
    const username = u.username ? decodeURIComponent(u.username) : undefined;
    const password = u.password ? decodeURIComponent(u.password) : undefined;
    const plain = new URL(u.href);
    plain.username = '';
    plain.password = '';
    return { kind: 'rtsp', masked, secrets, live: true, rtsp: { url: plain.href, username, password, ...(scheme === 'rtsps' ? { tls: true } : {}) } };
  }
  if (scheme === 'rtmp' || scheme === 'rtmps') {
    const u = parseUrl(text);
    const segments = u.pathname.split('/').filter(Boolean);
    if (segments.length < 2) throw new SourceError('BAD_URL', `RTMP URL ${u.protocol}//${u.host}/… needs an application and a stream name: rtmp://HOST/APP/STREAM`);
    // The last path segment is the stream key, a secret as in RtmpSkyLine, and so is any query
    // (keys given as ?key=...). Taken from the segments: a trailing slash does not hide it.
    const { secrets } = maskUrl(u);
    const key = segments[segments.length - 1]!;
    secrets.push(key, safeDecode(key), `${key}${u.search}`);
    const shown = new URL(u.href);
    const base = `${shown.protocol}//${shown.username ? `${shown.username}${shown.password ? `:${MASK}` : ''}@` : ''}${shown.host}/${segments.slice(0, -1).join('/')}/${MASK}`;
    return {
      kind: 'rtmp',
      masked: base,
      secrets,
      live: true,
      launch: `rtmp2src name=in ! parsebin ! ${tail(true)}`,
      properties: { in: { location: text } },
    };
  }
  if (scheme === 'http' || scheme === 'https') {
    const u = parseUrl(text);
    const { masked, secrets } = maskUrl(u);
    // urisourcebin follows HLS playlists (and buffers); parsebin finds the demuxer: MPEG-TS for
    // HLS, multipart for MJPEG.
    const finite = /\.m3u8$/i.test(u.pathname);
    return { kind: 'http', masked, secrets, live: true, finite, launch: `urisourcebin name=in ! parsebin ! ${tail(true)}`, properties: { in: { uri: text } } };
  }
  if (scheme === 'srt') return srtSpec(text);
  if (scheme === 'testsrc') {
    const u = parseUrl(text);
    const q = u.searchParams;
    const p: TestPatternOptions = {
      width: num(q.get('width'), 640, 'width'),
      height: num(q.get('height'), 480, 'height'),
      fps: num(q.get('fps'), 30, 'fps'),
      pattern: (q.get('pattern') ?? u.hostname) || 'ball',
    };
    if (!/^[a-z0-9-]+$/.test(p.pattern)) throw new SourceError('BAD_URL', `testsrc pattern "${p.pattern.slice(0, 32)}" is not a videotestsrc pattern name`);
    return {
      kind: 'testsrc',
      masked: text,
      secrets: [],
      live: true,
      launch: `videotestsrc is-live=true pattern=${p.pattern} ! video/x-raw,width=${p.width},height=${p.height},framerate=${Math.round(p.fps * 1000)}/1000 ! ${encoderTail(keyint)}`,
    };
  }
  if (scheme === 'v4l2' || /^\/dev\/video\d+$/.test(text)) {
    const device = scheme === 'v4l2' ? text.replace(/^v4l2:\/\//i, '') || '/dev/video0' : text;
    if (!/^\/dev\/[A-Za-z0-9/_-]+$/.test(device)) throw new SourceError('BAD_URL', `V4L2 device "${device.slice(0, 64)}" is not a /dev path`);
    // Cameras that give MJPEG keep it (each image is a keyframe); raw ones are encoded once here.
    return {
      kind: 'v4l2',
      masked: device,
      secrets: [],
      live: true,
      launch: `v4l2src name=in ! decodebin ! ${encoderTail(keyint)}`,
      properties: { in: { device } },
    };
  }
  if (scheme === 'file' || scheme === undefined || /^[a-z]:[\\/]/i.test(text)) {
    const path = scheme === 'file' ? decodeURIComponent(new URL(text).pathname) : text;
    const live = o.filePace === 'fast';
    return {
      kind: 'file',
      masked: path,
      secrets: [],
      finite: true,
      // 'fast' reads as fast as Node takes the units: the pipe's backpressure paces it.
      live,
      path,
      launch: `filesrc name=in ! parsebin ! ${tail(live)}`,
      properties: { in: { location: path } },
    };
  }
  throw new SourceError('BAD_URL', `unsupported URL scheme "${scheme.slice(0, 16)}:": expected rtsp://, rtmp://, http(s)://, srt://, file://, a path, /dev/videoN, v4l2:// or testsrc://`);
}

/** SRT query keys LiveSource passes on; the values of the last two are secrets. */
const SRT_KEYS = ['mode', 'latency', 'pbkeylen', 'passphrase', 'streamid'];

/**
 * srt://host:port?mode=caller|listener&latency=MS&passphrase=...&streamid=... (srt://:port for a
 * listener on every address). srtsrc ! tsdemux ! h264parse: the TS's H.264 as access units. The
 * passphrase and stream id (MediaMTX's read:<path>:<user>:<pass> holds a password) are shown
 * masked and set as properties, never in the uri. Capture times are arrival times (the
 * ArrivalClock of every source without sender reports): SRT carries no wall clock, its
 * timestamps and the TS's PCR/PTS are relative to the connection.
 */
function srtSpec(text: string): SourceSpec {
  const u = parseUrl(text.replace(/^srt:\/\/:/i, 'srt://0.0.0.0:'));
  if (!u.port) throw new SourceError('BAD_URL', `SRT URL srt://${u.hostname}… needs a port: srt://HOST:PORT`);
  const q = u.searchParams;
  for (const k of q.keys()) {
    if (!SRT_KEYS.includes(k)) throw new SourceError('BAD_URL', `SRT URL query "${k.slice(0, 16)}" is not one LiveSource takes (${SRT_KEYS.join(', ')})`);
  }
  const mode = q.get('mode') ?? 'caller';
  if (mode !== 'caller' && mode !== 'listener') throw new SourceError('BAD_URL', `SRT mode must be caller or listener, got "${mode.slice(0, 16)}"`);
  const latency = q.get('latency');
  if (latency !== null && !/^\d{1,5}$/.test(latency)) throw new SourceError('BAD_URL', `SRT latency must be milliseconds, got "${latency.slice(0, 8)}"`);
  const pbkeylen = q.get('pbkeylen');
  if (pbkeylen !== null && !['16', '24', '32'].includes(pbkeylen)) throw new SourceError('BAD_URL', 'SRT pbkeylen must be 16, 24 or 32');
  const passphrase = q.get('passphrase') ?? undefined;
  if (passphrase !== undefined && (passphrase.length < 10 || passphrase.length > 79)) throw new SourceError('BAD_URL', `SRT passphrase must be 10 to 79 characters (got ${passphrase.length})`);
  const streamid = q.get('streamid') ?? undefined;
  const { secrets } = maskUrl(u);
  for (const s of [passphrase, streamid]) if (s && s.length >= MIN_QUERY_SECRET) secrets.push(s);
  if (passphrase) secrets.push(passphrase);
  const host = u.hostname.includes(':') ? `[${u.hostname.replace(/^\[|\]$/g, '')}]` : u.hostname;
  const shown = [...q.entries()].map(([k, v]) => `${k}=${k === 'passphrase' || k === 'streamid' ? MASK : v}`);
  const query = [`mode=${mode}`, ...(latency !== null ? [`latency=${latency}`] : []), ...(pbkeylen !== null ? [`pbkeylen=${pbkeylen}`] : []), 'auto-reconnect=false'];
  // The uri first: srtsrc re-reads what its query names when it is set; secrets after it.
  const props: Record<string, string | number | boolean> = { uri: `srt://${host}:${u.port}?${query.join('&')}` };
  if (passphrase) props.passphrase = passphrase;
  if (streamid) props.streamid = streamid;
  return {
    kind: 'srt',
    masked: `srt://${host}:${u.port}${shown.length ? `?${shown.join('&')}` : ''}`,
    secrets,
    live: true,
    launch: `srtsrc name=in ! tsdemux ! h264parse ! ${tail(true)}`,
    properties: { in: props },
  };
}

function parseUrl(text: string): URL {
  try {
    return new URL(text);
  } catch {
    // The text may hold a password or a stream key: not shown.
    throw new SourceError('BAD_URL', `invalid ${text.split(':')[0]!.slice(0, 8)} URL (not shown, it may contain credentials)`);
  }
}

function num(v: string | null, dflt: number, name: string): number {
  if (v === null) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 10_000) throw new SourceError('BAD_URL', `testsrc ${name}=${v.slice(0, 16)} is not a positive number`);
  return n;
}
