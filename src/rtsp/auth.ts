/**
 * Server-side RTSP authentication: Basic (RFC 7617) and Digest with MD5 (RFC 2617, RFC 7616),
 * the two schemes RTSP players implement.
 *
 * Nonces are stateless: a timestamp and random bytes signed with a per-process key, so any number of
 * clients can authenticate without the server keeping per-nonce state. RTSP clients reuse one nonce
 * for a whole session (keep-alives included), so nonces live long; an expired one gets `stale=true`,
 * which tells the client to retry with the new nonce without asking the user again.
 * Every secret comparison is constant-time.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type AuthScheme = 'basic' | 'digest';

export interface RtspAuthOptions {
  username: string;
  password: string;
  realm?: string;
  /** Schemes offered, in order of preference; default both, Digest first. */
  schemes?: AuthScheme[];
  /** How long a Digest nonce is accepted; default 12 hours. */
  nonceLifetimeMs?: number;
}

export type AuthResult =
  | { ok: true; username: string }
  | { ok: false; reason: 'missing' | 'unsupported-scheme' | 'malformed' | 'bad-credentials' | 'stale-nonce' };

export class RtspAuthenticator {
  readonly realm: string;
  private readonly schemes: AuthScheme[];
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
    this.schemes = opts.schemes && opts.schemes.length > 0 ? [...opts.schemes] : ['digest', 'basic'];
    this.lifetimeMs = opts.nonceLifetimeMs ?? 12 * 3600_000;
    this.userHash = sha256(opts.username);
    this.basicHash = sha256(`${opts.username}:${opts.password}`);
    this.ha1 = md5(`${opts.username}:${this.realm}:${opts.password}`);
  }

  /** WWW-Authenticate values for a 401 reply, one per offered scheme. */
  challenges(stale = false): string[] {
    return this.schemes.map((s) =>
      s === 'basic'
        ? `Basic realm="${this.realm}"`
        : `Digest realm="${this.realm}", nonce="${this.makeNonce()}", algorithm="MD5"${stale ? ', stale=TRUE' : ''}`,
    );
  }

  /** Checks an Authorization header for a request with this method. */
  check(method: string, authorization: string | undefined): AuthResult {
    if (authorization === undefined || authorization.trim() === '') return { ok: false, reason: 'missing' };
    const sp = authorization.trim().indexOf(' ');
    const scheme = (sp < 0 ? authorization.trim() : authorization.trim().slice(0, sp)).toLowerCase();
    const rest = sp < 0 ? '' : authorization.trim().slice(sp + 1).trim();
    if (scheme === 'basic' && this.schemes.includes('basic')) return this.checkBasic(rest);
    if (scheme === 'digest' && this.schemes.includes('digest')) return this.checkDigest(method, rest);
    return { ok: false, reason: 'unsupported-scheme' };
  }

  private checkBasic(token: string): AuthResult {
    if (!/^[A-Za-z0-9+/]+=*$/.test(token)) return { ok: false, reason: 'malformed' };
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { ok: false, reason: 'malformed' };
    if (!timingSafeEqual(sha256(decoded), this.basicHash)) return { ok: false, reason: 'bad-credentials' };
    return { ok: true, username: decoded.slice(0, colon) };
  }

  private checkDigest(method: string, params: string): AuthResult {
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
    const nonceState = this.nonceState(nonce);
    if (!(responseOk && userOk && realmOk) || nonceState === 'invalid') return { ok: false, reason: 'bad-credentials' };
    if (nonceState === 'stale') return { ok: false, reason: 'stale-nonce' };
    return { ok: true, username };
  }

  private makeNonce(): string {
    const body = `${this.now().toString(16).padStart(12, '0')}${randomBytes(8).toString('hex')}`;
    return body + this.sign(body);
  }

  private nonceState(nonce: string): 'valid' | 'stale' | 'invalid' {
    if (!/^[0-9a-f]{60}$/.test(nonce)) return 'invalid';
    const body = nonce.slice(0, 28);
    if (!timingSafeEqual(Buffer.from(this.sign(body), 'hex'), Buffer.from(nonce.slice(28), 'hex'))) return 'invalid';
    const issued = parseInt(body.slice(0, 12), 16);
    const age = this.now() - issued;
    return age < -60_000 || age > this.lifetimeMs ? 'stale' : 'valid';
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('hex').slice(0, 32);
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
