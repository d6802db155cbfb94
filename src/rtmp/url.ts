/**
 * RTMP ingest URLs: rtmp[s]://[user[:password]@]host[:port]/app[/more/app]/streamKey[?query]
 *
 * The last path segment, with any query after it, is the stream key: whoever
 * has it can publish in our place, so it is a secret. `masked` is the form
 * that may be shown (logs, errors, events); `secrets` is what a redactor must scrub.
 * The secret fields are non-enumerable: JSON.stringify and util.inspect of a target
 * show only what may be shown.
 *
 * Parsed by hand rather than with WHATWG URL so the text handed to GStreamer is
 * exactly what the user gave (no re-encoding of the key).
 */

import { Redactor } from '../log.js';

export type RtmpScheme = 'rtmp' | 'rtmps';

export interface RtmpTarget {
  readonly scheme: RtmpScheme;
  readonly host: string;
  readonly port: number;
  /** Application path, without leading or trailing slash; may have several segments ("live/eu"). */
  readonly app: string;
  /** Secret. The last path segment plus any query string. */
  readonly streamKey: string;
  readonly username?: string;
  /** Secret. */
  readonly password?: string;
  /** Full URL including the key: for the sink only, never to be shown. */
  readonly url: string;
  /** The URL with the key (and password) replaced by ****. */
  readonly masked: string;
  /** The secret parts, for a redactor: stream key, password. */
  readonly secrets: readonly string[];
}

export interface RtmpTargetOptions {
  /** A full ingest URL, e.g. rtmp://relay.example.com/live/STREAM_KEY. Other fields are ignored when given. */
  url?: string;
  host?: string;
  /** Default 1935 for rtmp, 443 for rtmps. */
  port?: number;
  /** Default 'live'. */
  app?: string;
  streamKey?: string;
  /** Default 'rtmp'. */
  scheme?: RtmpScheme;
}

export const DEFAULT_PORTS: Readonly<Record<RtmpScheme, number>> = { rtmp: 1935, rtmps: 443 };
const MASK = '****';

/** An invalid RTMP destination. The message never contains the stream key. */
export class RtmpUrlError extends Error {
  override readonly name = 'RtmpUrlError';
}

// scheme :// [userinfo@] host [:port] path [?query]; nothing else (no fragments: # may be part of a key? no — keys
// with # would be cut by any URL parser, so we refuse them rather than guess).
const URL_RE = /^(rtmps?):\/\/(?:([^@/?#]*)@)?(\[[0-9A-Fa-f:.]+\]|[^:/?#@[\]]+)(?::(\d{1,5}))?(\/[^?#]*)?(\?[^#]*)?$/i;

export function parseRtmpUrl(url: string): RtmpTarget {
  if (typeof url !== 'string') throw new RtmpUrlError('RTMP URL must be a string');
  const m = URL_RE.exec(url.trim());
  if (!m) {
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url.trim())?.[0];
    throw new RtmpUrlError(
      scheme && !/^rtmps?:$/i.test(scheme)
        ? `unsupported URL scheme "${scheme.slice(0, 16)}": expected rtmp:// or rtmps://`
        : 'invalid RTMP URL (not shown, it may contain the stream key): expected rtmp[s]://host[:port]/app/streamKey',
    );
  }
  const [, schemeRaw, userinfo, host, portRaw, path = '', query = ''] = m;
  const scheme = schemeRaw.toLowerCase() as RtmpScheme;
  const port = portRaw === undefined ? DEFAULT_PORTS[scheme] : Number(portRaw);
  const segments = path.split('/').filter((s) => s.length > 0);
  const hostPort = `${scheme}://${host}:${port}`;
  if (segments.length < 2) {
    throw new RtmpUrlError(
      `RTMP URL ${hostPort}/${segments.length ? MASK : ''} needs an application and a stream key: ${hostPort}/APP/STREAM_KEY`,
    );
  }
  let username: string | undefined;
  let password: string | undefined;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    username = colon < 0 ? userinfo : userinfo.slice(0, colon);
    password = colon < 0 ? undefined : userinfo.slice(colon + 1);
  }
  return build(scheme, host, port, segments.slice(0, -1).join('/'), segments[segments.length - 1] + query, username, password);
}

/** Resolve `{ url }` or `{ host, port, app, streamKey }` to a target. */
export function rtmpTarget(options: RtmpTargetOptions): RtmpTarget {
  if (options.url !== undefined) return parseRtmpUrl(options.url);
  const scheme = options.scheme ?? 'rtmp';
  if (scheme !== 'rtmp' && scheme !== 'rtmps') throw new RtmpUrlError(`unsupported RTMP scheme "${String(scheme)}"`);
  const host = options.host?.trim();
  if (!host) throw new RtmpUrlError('RTMP destination needs a url, or a host and a streamKey');
  if (/[/?#@\s]/.test(host) || (host.includes(':') && !/^\[[0-9A-Fa-f:.]+\]$/.test(host))) {
    // An IPv6 literal must come in brackets; anything else with those characters is not a host name.
    throw new RtmpUrlError('RTMP host must be a host name or IP address (IPv6 in [brackets]), without scheme, port or path');
  }
  const port = options.port ?? DEFAULT_PORTS[scheme];
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RtmpUrlError(`RTMP port must be 1-65535, got ${port}`);
  const app = (options.app ?? 'live').replace(/^\/+|\/+$/g, '');
  if (!app || /[?#\s]/.test(app)) throw new RtmpUrlError(`RTMP app must be a non-empty path such as "live", got "${app}"`);
  const streamKey = options.streamKey;
  if (typeof streamKey !== 'string' || streamKey.length === 0) {
    throw new RtmpUrlError(`RTMP destination ${scheme}://${host}:${port}/${app}/ needs a streamKey`);
  }
  if (/[/#\s]/.test(streamKey)) {
    throw new RtmpUrlError(`RTMP streamKey for ${scheme}://${host}:${port}/${app}/${MASK} must not contain "/", "#" or spaces`);
  }
  return build(scheme, host, port, app, streamKey);
}

function build(
  scheme: RtmpScheme,
  host: string,
  port: number,
  app: string,
  streamKey: string,
  username?: string,
  password?: string,
): RtmpTarget {
  if (port < 1 || port > 65535) throw new RtmpUrlError(`RTMP port must be 1-65535, got ${port}`);
  const user = username === undefined ? '' : password === undefined ? `${username}@` : `${username}:${password}@`;
  const maskedUser = username === undefined ? '' : password === undefined ? `${username}@` : `${username}:${MASK}@`;
  const base = `${host}:${port}/${app}/`;
  // The key without its query and each query value too: a relay's error may quote either alone
  // (query values from 4 characters on, as LiveSource's: "?a=1" would mask every digit 1).
  const q = streamKey.indexOf('?');
  const values = q < 0 ? [] : streamKey.slice(q + 1).split('&').map((p) => p.slice(p.indexOf('=') + 1)).filter((v) => v.length >= 4);
  const parts = q < 0 ? [] : [streamKey.slice(0, q), ...values];
  const secrets = [streamKey, password, ...parts].filter((s): s is string => typeof s === 'string' && s.length > 0);
  const target = { scheme, host, port, app, username, masked: `${scheme}://${maskedUser}${base}${MASK}` };
  const hidden = (value: unknown) => ({ value, enumerable: false });
  return Object.defineProperties(target, {
    streamKey: hidden(streamKey),
    password: hidden(password),
    url: hidden(`${scheme}://${user}${base}${streamKey}`),
    secrets: hidden(secrets),
  }) as RtmpTarget;
}

/** Registers the target's secrets: the full URL is shown as its masked form, a stray key or password as ****. */
export function redactTarget(redactor: Redactor, target: Pick<RtmpTarget, 'secrets' | 'url' | 'masked'>): Redactor {
  redactor.add(target.url, target.masked);
  for (const s of target.secrets) redactor.add(s);
  return redactor;
}

/**
 * Mask the target's secrets in text (e.g. a GStreamer error that quotes the location): the full URL
 * becomes the masked URL, and any other occurrence of a secret becomes ****.
 */
export function maskSecrets(text: string, target: Pick<RtmpTarget, 'secrets' | 'url' | 'masked'>): string {
  return redactTarget(new Redactor(), target).scrub(text);
}
