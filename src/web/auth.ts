/**
 * Who may watch a preview. The RTSP credentials' shape (user name and password, checked as
 * HTTP Basic) or a bearer token. Browsers prove it once per page load by POSTing to
 * `<path>/session` (Basic: the browser's own login prompt; token: `Authorization: Bearer`,
 * which the page takes from its URL fragment, never sent to a server or written to its logs)
 * and get an HttpOnly, SameSite=Strict cookie scoped to the stream's path. The page and the
 * WebSocket upgrade then accept that cookie, or the same Authorization header (tools).
 * Cookies are signed with a per-process key: a server restart invalidates them, and the page
 * simply asks again.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { RtspAuthenticator, type RtspAuthOptions } from '../rtsp/auth.js';

export interface WebTokenAuth {
  /** A bearer token (at least 8 characters). */
  token: string;
  realm?: string;
}

/** RTSP-style user and password (Basic), or a token. */
export type WebAuthOptions = Pick<RtspAuthOptions, 'username' | 'password' | 'realm'> | WebTokenAuth;

export type WebAuthResult = 'ok' | 'missing' | 'denied';

const COOKIE_LIFETIME_S = 12 * 3600;

export class WebAuth {
  readonly realm: string;
  readonly scheme: 'basic' | 'bearer';
  readonly cookieName: string;
  private readonly key = randomBytes(32);
  private readonly basic: RtspAuthenticator | undefined;
  private readonly tokenHash: Buffer | undefined;

  constructor(
    opts: WebAuthOptions,
    readonly path: string,
    private readonly now: () => number = Date.now,
    /** Mark the cookie Secure (sent only over https): for servers behind a TLS terminator. */
    private readonly secureCookie = false,
  ) {
    this.realm = opts.realm ?? 'gst-skyline';
    if (/["\\\r\n]/.test(this.realm)) throw new TypeError('auth realm must not contain quotes, backslashes or newlines');
    if ('token' in opts) {
      if (typeof opts.token !== 'string' || opts.token.length < 8) throw new TypeError('auth token must be a string of at least 8 characters');
      if (/[\s,"]/.test(opts.token)) throw new TypeError('auth token must not contain spaces, commas or quotes');
      this.scheme = 'bearer';
      this.tokenHash = sha256(opts.token);
    } else {
      this.scheme = 'basic';
      this.basic = new RtspAuthenticator({ username: opts.username, password: opts.password, realm: this.realm, schemes: ['basic'] });
    }
    this.cookieName = `skyline_${createHash('sha256').update(path).digest('hex').slice(0, 10)}`;
  }

  /** The WWW-Authenticate value of a 401. */
  challenge(): string {
    return this.scheme === 'basic' ? `Basic realm="${this.realm}", charset="UTF-8"` : `Bearer realm="${this.realm}"`;
  }

  /** A request carrying our cookie, or valid credentials in Authorization. */
  check(req: IncomingMessage): WebAuthResult {
    if (this.validCookie(req.headers.cookie)) return 'ok';
    return this.checkAuthorization(req.headers.authorization);
  }

  /** A request carrying a valid session cookie of this stream. */
  hasSession(req: IncomingMessage): boolean {
    return this.validCookie(req.headers.cookie);
  }

  /** Authorization header only (the session endpoint trades it for a cookie). */
  checkAuthorization(header: string | undefined): WebAuthResult {
    if (header === undefined || header.trim() === '') return 'missing';
    if (this.basic) return this.basic.check('GET', header).ok ? 'ok' : 'denied';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return 'denied';
    return timingSafeEqual(sha256(m[1]!), this.tokenHash!) ? 'ok' : 'denied';
  }

  /** Set-Cookie value of a fresh session cookie for this stream's path. */
  sessionCookie(): string {
    const expires = Math.floor(this.now() / 1000) + COOKIE_LIFETIME_S;
    const value = `${expires}.${this.sign(String(expires))}`;
    return `${this.cookieName}=${value}; Path=${this.path}; Max-Age=${COOKIE_LIFETIME_S}; HttpOnly; SameSite=Strict${this.secureCookie ? '; Secure' : ''}`;
  }

  private validCookie(header: string | undefined): boolean {
    if (!header) return false;
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0 || part.slice(0, eq).trim() !== this.cookieName) continue;
      const m = /^(\d{1,12})\.([0-9a-f]{64})$/.exec(part.slice(eq + 1).trim());
      if (!m) continue;
      const good = timingSafeEqual(Buffer.from(this.sign(m[1]!), 'hex'), Buffer.from(m[2]!, 'hex'));
      if (good && Number(m[1]) * 1000 > this.now()) return true;
    }
    return false;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(`${this.path}\n${body}`).digest('hex');
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
