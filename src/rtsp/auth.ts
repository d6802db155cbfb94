/**
 * Server-side RTSP authentication: Basic (RFC 7617) and Digest with MD5 (RFC 2617, RFC 7616),
 * the two schemes RTSP players implement.
 *
 * Nonces are stateless: a timestamp and random bytes signed with a per-process key and the scope
 * they were issued for (the server gives its connection), so any number of clients can
 * authenticate without per-nonce state, and a header captured on one connection is worthless on
 * another. They live minutes: RTSP clients authenticate DESCRIBE and SETUP, and a session set up
 * is not asked again. An expired nonce, or one from another connection, gets `stale=true`, which
 * tells the client to retry with the new nonce without asking the user again. The digest's `uri`
 * must be the request's. Every secret comparison is constant-time.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type AuthScheme = 'basic' | 'digest';

export interface RtspAuthOptions {
  username: string;
  password: string;
  realm?: string;
  /**
   * Schemes offered, in order of preference. Default Digest only, plus Basic for requests to an
   * rtsps:// URI (behind a TLS terminator): Basic sends the password in clear text.
   */
  schemes?: AuthScheme[];
  /** How long a Digest nonce is accepted, ms; default 5 minutes. */
  nonceLifetimeMs?: number;
}

/** What a request is checked against besides its Authorization header. */
export interface AuthContext {
  /** The request URI: a Digest `uri` must name it, and rtsps:// allows Basic by default. */
  uri?: string;
  /** Where nonces are valid (e.g. a connection id): one issued for another scope is stale. */
  scope?: string;
}

export type AuthResult =
  | { ok: true; username: string }
  | { ok: false; reason: 'missing' | 'unsupported-scheme' | 'malformed' | 'bad-credentials' | 'stale-nonce' };

export class RtspAuthenticator {
  readonly realm: string;
  private readonly schemes: AuthScheme[];
  /** Basic offered only over TLS (rtsps:// request URIs) unless schemes were given. */
  private readonly basicOverTlsOnly: boolean;
  private readonly key = randomBytes(32);
  private readonly lifetimeMs: number;
  private readonly userHash: Buffer;
  private readonly basicHash: Buffer;
  private readonly ha1: string;

  constructor(opts: RtspAuthOptions, private readonly now: () => number = Date.now) {
    if (typeof opts.username !== 'string' || typeof opts.password !== 'string' || opts.username.length === 0) {
      throw new TypeError('auth needs a non-empty username and a password');
    }
    if (opts.username.includes(':')) throw new TypeError('auth username must not contain ":"');
    this.realm = opts.realm ?? 'gst-skyline';
    if (/["\\\r\n]/.test(this.realm)) throw new TypeError('auth realm must not contain quotes, backslashes or newlines');
    this.basicOverTlsOnly = !(opts.schemes && opts.schemes.length > 0);
    this.schemes = this.basicOverTlsOnly ? ['digest', 'basic'] : [...opts.schemes!];
    this.lifetimeMs = opts.nonceLifetimeMs ?? 5 * 60_000;
    this.userHash = sha256(opts.username);
    this.basicHash = sha256(`${opts.username}:${opts.password}`);
    this.ha1 = md5(`${opts.username}:${this.realm}:${opts.password}`);
  }

  /** WWW-Authenticate values for a 401 reply, one per offered scheme. */
  challenges(stale = false, ctx: AuthContext = {}): string[] {
    return this.offered(ctx).map((s) =>
      s === 'basic'
        ? `Basic realm="${this.realm}"`
        : `Digest realm="${this.realm}", nonce="${this.makeNonce(ctx.scope ?? '')}", algorithm="MD5"${stale ? ', stale=TRUE' : ''}`,
    );
  }

  /** Checks an Authorization header for a request with this method. */
  check(method: string, authorization: string | undefined, ctx: AuthContext = {}): AuthResult {
    if (authorization === undefined || authorization.trim() === '') return { ok: false, reason: 'missing' };
    const sp = authorization.trim().indexOf(' ');
    const scheme = (sp < 0 ? authorization.trim() : authorization.trim().slice(0, sp)).toLowerCase();
    const rest = sp < 0 ? '' : authorization.trim().slice(sp + 1).trim();
    const offered = this.offered(ctx);
    if (scheme === 'basic' && offered.includes('basic')) return this.checkBasic(rest);
    if (scheme === 'digest' && offered.includes('digest')) return this.checkDigest(method, rest, ctx);
    return { ok: false, reason: 'unsupported-scheme' };
  }

  private offered(ctx: AuthContext): AuthScheme[] {
    if (!this.basicOverTlsOnly || /^rtsps:/i.test(ctx.uri ?? '')) return this.schemes;
    return this.schemes.filter((s) => s !== 'basic');
  }

  private checkBasic(token: string): AuthResult {
    if (!/^[A-Za-z0-9+/]+=*$/.test(token)) return { ok: false, reason: 'malformed' };
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { ok: false, reason: 'malformed' };
    if (!timingSafeEqual(sha256(decoded), this.basicHash)) return { ok: false, reason: 'bad-credentials' };
    return { ok: true, username: decoded.slice(0, colon) };
  }

  private checkDigest(method: string, params: string, ctx: AuthContext): AuthResult {
    const p = parseAuthParams(params);
    if (!p) return { ok: false, reason: 'malformed' };
    const { username, realm, nonce, uri, response } = p;
    if (username === undefined || nonce === undefined || uri === undefined || response === undefined) {
      return { ok: false, reason: 'malformed' };
    }
    const algorithm = (p['algorithm'] ?? 'MD5').toUpperCase();
    if (algorithm !== 'MD5') return { ok: false, reason: 'malformed' };
    if (!/^[0-9a-fA-F]{32}$/.test(response)) return { ok: false, reason: 'malformed' };
    const qop = p['qop'];
    if (qop !== undefined && qop.toLowerCase() !== 'auth') return { ok: false, reason: 'malformed' };
    if (qop !== undefined && (p['nc'] === undefined || p['cnonce'] === undefined)) return { ok: false, reason: 'malformed' };

    // Compute everything before deciding, so timing does not tell which part was wrong.
    const ha2 = md5(`${method}:${uri}`);
    const expected = qop !== undefined
      ? md5(`${this.ha1}:${nonce}:${p['nc']}:${p['cnonce']}:${qop}:${ha2}`)
      : md5(`${this.ha1}:${nonce}:${ha2}`);
    const responseOk = timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(response.toLowerCase(), 'hex'));
    const userOk = timingSafeEqual(sha256(username), this.userHash);
    const realmOk = realm === this.realm;
    // A digest computed for another URI (a header captured from another request) proves nothing here.
    const uriOk = ctx.uri === undefined || sameUri(uri, ctx.uri);
    const nonceState = this.nonceState(nonce, ctx.scope ?? '');
    if (!(responseOk && userOk && realmOk && uriOk) || nonceState === 'invalid') return { ok: false, reason: 'bad-credentials' };
    if (nonceState === 'stale') return { ok: false, reason: 'stale-nonce' };
    return { ok: true, username };
  }

  /** time (12 hex) + random (16 hex) + MAC of those (32 hex) + MAC of those and the scope (16 hex). */
  private makeNonce(scope: string): string {
    const body = `${this.now().toString(16).padStart(12, '0')}${randomBytes(8).toString('hex')}`;
    return body + this.sign(body).slice(0, 32) + this.sign(`${body}|${scope}`).slice(0, 16);
  }

  /** Valid: ours, for this scope, young. Stale: ours but old or issued for another scope (the client retries quietly). */
  private nonceState(nonce: string, scope: string): 'valid' | 'stale' | 'invalid' {
    if (!/^[0-9a-f]{76}$/.test(nonce)) return 'invalid';
    const body = nonce.slice(0, 28);
    if (!timingSafeEqual(Buffer.from(this.sign(body).slice(0, 32), 'hex'), Buffer.from(nonce.slice(28, 60), 'hex'))) return 'invalid';
    const here = timingSafeEqual(Buffer.from(this.sign(`${body}|${scope}`).slice(0, 16), 'hex'), Buffer.from(nonce.slice(60), 'hex'));
    const issued = parseInt(body.slice(0, 12), 16);
    const age = this.now() - issued;
    return !here || age < -60_000 || age > this.lifetimeMs ? 'stale' : 'valid';
  }

  private sign(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('hex');
  }
}

/** The Digest `uri` names the request URI: the same text, or the same path (one absolute, one not). */
function sameUri(digestUri: string, requestUri: string): boolean {
  if (digestUri === requestUri) return true;
  try {
    const a = new URL(digestUri, 'rtsp://relative.invalid');
    const b = new URL(requestUri, 'rtsp://relative.invalid');
    const bothAbsolute = a.hostname !== 'relative.invalid' && b.hostname !== 'relative.invalid';
    return a.pathname.replace(/\/+$/, '') === b.pathname.replace(/\/+$/, '') && a.search === b.search && (!bothAbsolute || a.host === b.host);
  } catch {
    return false;
  }
}

function md5(s: string): string {
  return createHash('md5').update(s, 'utf8').digest('hex');
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Parses `k=v, k="quoted \" v"` auth-params; undefined when malformed. */
export function parseAuthParams(s: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    while (i < s.length && (s[i] === ' ' || s[i] === ',' || s[i] === '\t')) i++;
    if (i >= s.length) break;
    const eq = s.indexOf('=', i);
    if (eq < 0) return undefined;
    const key = s.slice(i, eq).trim().toLowerCase();
    if (!/^[a-z0-9_-]+$/.test(key)) return undefined;
    i = eq + 1;
    while (s[i] === ' ') i++;
    let value = '';
    if (s[i] === '"') {
      i++;
      let closed = false;
      while (i < s.length) {
        const c = s[i]!;
        if (c === '\\' && i + 1 < s.length) {
          value += s[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          closed = true;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) return undefined;
    } else {
      const end = s.indexOf(',', i);
      value = (end < 0 ? s.slice(i) : s.slice(i, end)).trim();
      i = end < 0 ? s.length : end;
    }
    out[key] = value;
  }
  return out;
}

/** Client side of the same schemes, used by tests and tools to talk to servers. */
export function digestAuthorization(o: {
  username: string;
  password: string;
  realm: string;
  nonce: string;
  method: string;
  uri: string;
  qop?: { nc: string; cnonce: string };
}): string {
  const ha1 = md5(`${o.username}:${o.realm}:${o.password}`);
  const ha2 = md5(`${o.method}:${o.uri}`);
  const response = o.qop ? md5(`${ha1}:${o.nonce}:${o.qop.nc}:${o.qop.cnonce}:auth:${ha2}`) : md5(`${ha1}:${o.nonce}:${ha2}`);
  const q = o.qop ? `, qop=auth, nc=${o.qop.nc}, cnonce="${o.qop.cnonce}"` : '';
  return `Digest username="${o.username}", realm="${o.realm}", nonce="${o.nonce}", uri="${o.uri}", response="${response}"${q}`;
}
