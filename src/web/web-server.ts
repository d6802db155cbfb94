/**
 * WebServer: serves live previews to browsers. Node's http server for the pages and `ws`
 * for the video: each stream is mounted at a path and has its page there, its WebSocket at
 * `<path>/ws` and a session endpoint at `<path>/session`; `/` lists the streams.
 * Defences: a cap on connections, a short deadline to finish a request or handshake,
 * a small maxPayload for what pages send, pings that reap connections that went silent,
 * and per-viewer backlog limits (src/web/viewer.ts).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { AuthFailures, clientAddress, ConnectionsPerAddress, type AuthLimitOptions } from '../rtsp/guard.js';
import { WebAuth, type WebAuthOptions, type WebAuthResult } from './auth.js';
import { serveFileMount, type FileMount, type FileMountOptions } from './file-mount.js';
import { OriginPolicy } from './origin.js';
import { renderIndex, renderPage } from './page.js';
import { WebStream, type WebStreamStats } from './stream.js';
import { MAX_CLIENT_MESSAGE_BYTES, VIEWER_MODES, type ViewerMode } from './wire.js';

/** How long a connection that has sent no byte is kept. */
const SILENT_CONNECTION_MS = 30_000;

export interface WebServerOptions {
  /** Address to listen on. Default 127.0.0.1: serving video to the network is an explicit choice. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 8889. */
  port?: number;
  /** Credentials for every stream that does not set its own. */
  auth?: WebAuthOptions;
  /** Most simultaneous TCP connections (pages, WebSockets, half-finished requests). Default 256. */
  maxConnections?: number;
  /** Most simultaneous TCP connections from one client address (one host cannot take them all). Default 32. */
  maxConnectionsPerAddress?: number;
  /** Most WebSocket viewers over all streams. Default 200. */
  maxViewers?: number;
  /** Time to send a whole request or upgrade, ms. Default 10000. */
  requestTimeoutMs?: number;
  /** Viewers are pinged this often and dropped when the previous ping went unanswered, ms. Default 15000. */
  heartbeatMs?: number;
  /** Bytes queued to one viewer above which it skips to the next keyframe. Default 1 MiB. */
  maxViewerBacklogBytes?: number;
  /** A viewer behind for this long is disconnected, ms. Default 10000. */
  stallTimeoutMs?: number;
  /**
   * Names the server is reached by, accepted in the Host header besides IP addresses, localhost and
   * `host` (e.g. ["cam.example"]). Other names are refused (421): DNS rebinding. Default none.
   */
  allowedHosts?: string[];
  /**
   * Origins of pages on other hosts or ports allowed to open streams (e.g. ["https://app.example"]).
   * The server's own pages are always allowed; other sites are refused (403). Default none.
   */
  allowedOrigins?: string[];
  /** Wrong passwords or tokens per client address before it gets 429 for a while. Default 10 per 60 s. */
  authLimit?: AuthLimitOptions;
  /** Session cookies marked Secure (browsers send them only over https): set it behind a TLS terminator. Default false. */
  secureCookies?: boolean;
  logger?: Logger;
}

export interface WebMountOptions {
  /** Shown on the page and the index. Default: the path. */
  name?: string;
  /** Credentials for this stream (default: the server's). */
  auth?: WebAuthOptions;
  /** Called when a viewer needs a keyframe (joining); rate-limited by the stream. */
  onKeyframeRequest?: () => void;
}

export interface WebServerStats {
  connections: number;
  viewers: number;
  refusedConnections: number;
  streams: Record<string, WebStreamStats>;
}

export class WebServer {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private readonly streams = new Map<string, WebStream>();
  /** Files under a path (HLS), beside or instead of a stream there. */
  private readonly files = new Map<string, FileMount>();
  /** One WebAuth per path, so a preview and its HLS share the cookie. */
  private readonly auths = new Map<string, { opts: WebAuthOptions; auth: WebAuth }>();
  private readonly opts: Required<Omit<WebServerOptions, 'auth' | 'logger' | 'allowedHosts' | 'allowedOrigins' | 'authLimit' | 'maxConnectionsPerAddress' | 'secureCookies'>>;
  private readonly perAddress: ConnectionsPerAddress;
  private readonly failures: AuthFailures;
  private readonly origins: OriginPolicy;
  private readonly sockets = new Set<Socket>();
  private listening: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private alive = new WeakSet<WebSocket>();
  /** Connections that completed a request or an upgrade in time. */
  private served = new WeakSet<Socket>();
  private refused = 0;
  private closed = false;

  constructor(private readonly options: WebServerOptions = {}) {
    const port = options.port ?? 8889;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`web port must be an integer in 0..65535, got ${port}`);
    this.opts = {
      host: options.host ?? '127.0.0.1',
      port,
      maxConnections: options.maxConnections ?? 256,
      maxViewers: options.maxViewers ?? 200,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      heartbeatMs: options.heartbeatMs ?? 15_000,
      maxViewerBacklogBytes: options.maxViewerBacklogBytes ?? 2 ** 20,
      stallTimeoutMs: options.stallTimeoutMs ?? 10_000,
    };
    this.failures = new AuthFailures(options.authLimit);
    this.perAddress = new ConnectionsPerAddress(options.maxConnectionsPerAddress ?? 32);
    this.origins = new OriginPolicy({ bindHost: this.opts.host, allowedHosts: options.allowedHosts, allowedOrigins: options.allowedOrigins });
    this.http = http.createServer({
      requestTimeout: this.opts.requestTimeoutMs,
      headersTimeout: this.opts.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, this.opts.requestTimeoutMs),
      keepAliveTimeout: 5000,
    });
    this.http.maxConnections = this.opts.maxConnections;
    this.http.on('connection', (s: Socket) => {
      const client = clientAddress(s.remoteAddress);
      if (!this.perAddress.take(client)) {
        this.refused++;
        s.destroy();
        return;
      }
      s.once('close', () => this.perAddress.release(client));
      this.sockets.add(s);
      // Our own deadline for the first request or upgrade: Node's headersTimeout check runs
      // on a shared interval and was seen to leave half-sent requests open for many seconds.
      // Connections that sent nothing get longer (SILENT_CONNECTION_MS): browsers open spare
      // connections ahead of time and use them seconds later (Chromium drops its own after
      // 10 s), and would take a close or an unasked-for 408 as the answer to their request.
      let deadline = setTimeout(() => {
        if (this.served.has(s)) return;
        if (s.bytesRead === 0) {
          deadline = setTimeout(() => {
            if (!this.served.has(s) && s.bytesRead === 0) s.destroy();
          }, Math.max(0, SILENT_CONNECTION_MS - this.opts.requestTimeoutMs));
          deadline.unref();
          return;
        }
        if (s.writable) s.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        setTimeout(() => s.destroy(), 500).unref();
      }, this.opts.requestTimeoutMs);
      deadline.unref();
      s.on('close', () => {
        clearTimeout(deadline);
        this.sockets.delete(s);
      });
      s.on('error', () => undefined);
    });
    this.http.on('drop', () => this.refused++);
    this.http.on('clientError', (err, socket) => {
      // Malformed or timed-out requests: answer if the socket can still take it, then close.
      const code = (err as { code?: string }).code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      if (socket.writable) socket.end(`HTTP/1.1 ${code} ${http.STATUS_CODES[code]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      else socket.destroy();
    });
    this.http.on('error', (err) => this.options.logger?.error({ err: err.message }, 'web server error'));
    this.http.on('request', (req, res) => this.onRequest(req, res));
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket as Socket, head));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: true });
  }

  get port(): number {
    const a = this.http.address() as AddressInfo | null;
    return a?.port ?? this.opts.port;
  }

  get host(): string {
    return this.opts.host;
  }

  /** http URL of a path (the host as a browser reaches it: the wildcard addresses become loopback). */
  url(path = '/'): string {
    const h = this.opts.host === '0.0.0.0' || this.opts.host === '::' ? '127.0.0.1' : this.opts.host;
    return `http://${h.includes(':') ? `[${h}]` : h}:${this.port}${path}`;
  }

  /** Binds the port (once; later calls wait for the same). */
  listen(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the web server is closed'));
    this.listening ??= new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new Error(`web server cannot listen on ${this.opts.host}:${this.opts.port}: ${err.message}`));
      this.http.once('error', onError);
      this.http.listen(this.opts.port, this.opts.host, () => {
        this.http.off('error', onError);
        resolve();
      });
    }).then(() => {
      this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs);
      this.heartbeat.unref();
    });
    return this.listening;
  }

  /** Mounts a stream at `path` (e.g. "/live"). */
  mount(path: string, options: WebMountOptions = {}): WebStream {
    checkPath(path);
    if (this.streams.has(path)) throw new Error(`web path ${path} is already mounted`);
    const auth = this.authFor(path, options.auth ?? this.options.auth);
    const stream = new WebStream(path, options.name ?? path.slice(1), auth, {
      maxBacklogBytes: this.opts.maxViewerBacklogBytes,
      stallTimeoutMs: this.opts.stallTimeoutMs,
    }, options.onKeyframeRequest);
    this.streams.set(path, stream);
    return stream;
  }

  unmount(stream: WebStream): void {
    if (this.streams.get(stream.path) !== stream) return;
    this.streams.delete(stream.path);
    stream.close();
    if (!this.files.has(stream.path)) this.auths.delete(stream.path);
  }

  /** Serves files at `<path>/<name>` (HLS), with the checks and credentials of a stream at `path`. */
  mountFiles(path: string, options: FileMountOptions & { auth?: WebAuthOptions }): FileMount {
    checkPath(path);
    if (this.files.has(path)) throw new Error(`web path ${path} already serves files`);
    const m: FileMount = { path, auth: this.authFor(path, options.auth ?? this.options.auth), options: { stallTimeoutMs: this.opts.stallTimeoutMs, ...options } };
    this.files.set(path, m);
    return m;
  }

  unmountFiles(m: FileMount): void {
    if (this.files.get(m.path) !== m) return;
    this.files.delete(m.path);
    if (!this.streams.has(m.path)) this.auths.delete(m.path);
  }

  /** The path's WebAuth: shared by its stream and its files, so one cookie opens both. */
  private authFor(path: string, opts: WebAuthOptions | undefined): WebAuth | undefined {
    if (!opts) return undefined;
    const had = this.auths.get(path);
    if (had) {
      // Other credentials on the same path would let one cookie open what the other guards.
      if (JSON.stringify(had.opts) !== JSON.stringify(opts)) throw new Error(`web path ${path} is already served with other credentials`);
      return had.auth;
    }
    const auth = new WebAuth(opts, path, Date.now, this.options.secureCookies ?? false);
    this.auths.set(path, { opts, auth });
    return auth;
  }

  stats(): WebServerStats {
    const streams: Record<string, WebStreamStats> = {};
    let viewers = 0;
    for (const [p, s] of this.streams) {
      streams[p] = s.stats();
      viewers += s.viewers.size;
    }
    return { connections: this.sockets.size, viewers, refusedConnections: this.refused, streams };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const s of this.streams.values()) s.close(1001, 'server closing');
    this.streams.clear();
    this.files.clear();
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => {
      if (!this.http.listening) return resolve();
      this.http.close(() => resolve());
      this.http.closeAllConnections();
      for (const s of this.sockets) s.destroy();
    });
  }

  /**
   * A valid session cookie, else the Authorization header, counting wrong ones per client address:
   * past authLimit.maxFailures the address gets the seconds to wait (429) and its header is not
   * even checked, so guessing goes no faster than maxFailures per lockoutMs. Cookies still pass:
   * they cannot be guessed, and viewers behind the same address keep watching.
   */
  private authorize(req: IncomingMessage, auth: WebAuth): WebAuthResult | number {
    if (auth.hasSession(req)) return 'ok';
    const client = clientAddress(req.socket.remoteAddress);
    const wait = this.failures.retryAfterSec(client);
    if (wait > 0) {
      this.failures.refused++;
      return wait;
    }
    const result = auth.checkAuthorization(req.headers.authorization);
    if (result === 'ok') this.failures.succeed(client);
    if (result === 'denied') {
      const failures = this.failures.fail(client);
      const locked = failures === this.failures.maxFailures;
      this.options.logger?.warn({ client, path: auth.path, failures, ...(locked ? { lockedForMs: this.failures.lockoutMs } : {}) }, locked ? 'web login failed: too many, address locked out' : 'web login failed');
    }
    return result;
  }

  /** Logs a refused Host or Origin (names only: neither carries a secret). */
  private refuse(req: IncomingMessage, why: 'host' | 'origin'): void {
    this.options.logger?.warn({ host: String(req.headers.host ?? '').slice(0, 100), origin: String(req.headers.origin ?? '').slice(0, 100), client: req.socket.remoteAddress }, `web request refused: foreign ${why}`);
  }

  private beat(): void {
    for (const ws of this.wss.clients) {
      if (!this.alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }

  private route(rawUrl: string | undefined): { stream?: WebStream; files?: FileMount; rest: string; query: URLSearchParams } | undefined {
    let u: URL;
    try {
      u = new URL(rawUrl ?? '/', 'http://x');
    } catch {
      return undefined;
    }
    const p = u.pathname;
    for (const rest of ['/ws', '/session', '/', '']) {
      if (!p.endsWith(rest)) continue;
      const s = this.streams.get(rest === '' ? p : p.slice(0, p.length - rest.length));
      if (s) return { stream: s, rest: rest === '/' ? '' : rest, query: u.searchParams };
    }
    const slash = p.lastIndexOf('/');
    const files = this.files.get(p.slice(0, slash));
    if (files && slash < p.length - 1) return { files, rest: p.slice(slash + 1), query: u.searchParams };
    return { rest: p, query: u.searchParams };
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.served.add(req.socket);
    res.on('error', () => undefined);
    const r = this.route(req.url);
    const method = req.method ?? 'GET';
    const send = (status: number, body = '', headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers });
      res.end(method === 'HEAD' ? undefined : body);
    };
    if (!r) return send(400, 'bad request\n', { 'Content-Type': 'text/plain' });
    // Bodies are never read: a POST's body is discarded, so a large one costs nothing.
    req.resume();
    if (!this.origins.hostAllowed(req.headers.host)) {
      this.refuse(req, 'host');
      return send(421, 'unknown host name (see allowedHosts)\n', { 'Content-Type': 'text/plain' });
    }
    if (r.files) {
      const ctx = { origins: this.origins, authorize: (q: IncomingMessage, a: WebAuth) => this.authorize(q, a), refuse: (q: IncomingMessage) => this.refuse(q, 'origin') };
      return serveFileMount(ctx, r.files, r.rest, r.query, req, res);
    }
    if (!r.stream) {
      if (r.rest === '/' && (method === 'GET' || method === 'HEAD')) {
        // Streams behind credentials are not listed: their names and audiences are theirs to tell.
        const list = [...this.streams.values()].filter((s) => !s.auth).map((s) => ({ path: s.path, name: s.name, viewers: s.viewers.size, locked: false }));
        return send(200, renderIndex(list), { 'Content-Type': 'text/html; charset=utf-8' });
      }
      if (r.rest === '/favicon.ico') return send(204);
      return send(404, 'no such stream\n', { 'Content-Type': 'text/plain' });
    }
    const s = r.stream;
    if (r.rest === '/session') {
      if (method !== 'POST') return send(405, 'POST only\n', { Allow: 'POST', 'Content-Type': 'text/plain' });
      if (!this.origins.originAllowed(req.headers.origin, req.headers.host)) {
        this.refuse(req, 'origin');
        return send(403, 'forbidden origin\n', { 'Content-Type': 'text/plain' });
      }
      if (!s.auth) return send(204);
      const result = this.authorize(req, s.auth);
      if (typeof result === 'number') return send(429, 'too many failed logins\n', { 'Retry-After': String(result), 'Content-Type': 'text/plain' });
      if (result !== 'ok') return send(401, 'unauthorized\n', { 'WWW-Authenticate': s.auth.challenge(), 'Content-Type': 'text/plain' });
      return send(204, '', { 'Set-Cookie': s.auth.sessionCookie() });
    }
    if (r.rest === '/ws') return send(426, 'WebSocket only\n', { Upgrade: 'websocket', 'Content-Type': 'text/plain' });
    if (method !== 'GET' && method !== 'HEAD') return send(405, 'GET only\n', { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
    // Basic: the browser's login prompt guards the page. Token: the page is a public shell that
    // carries no stream data; it asks for the token and trades it at /session.
    // Token: an Authorization header on the page is checked (and counted) too; its cookie would tell.
    const pageAuth = s.auth && (s.auth.scheme === 'basic' || req.headers.authorization !== undefined) ? this.authorize(req, s.auth) : undefined;
    if (typeof pageAuth === 'number') return send(429, 'too many failed logins\n', { 'Retry-After': String(pageAuth), 'Content-Type': 'text/plain' });
    if (s.auth?.scheme === 'basic' && pageAuth !== 'ok') {
      return send(401, 'unauthorized\n', { 'WWW-Authenticate': s.auth.challenge(), 'Content-Type': 'text/plain' });
    }
    const headers: Record<string, string> = {
      'Content-Type': 'text/html; charset=utf-8',
      // frame-ancestors: no other site may frame the page (clickjacking a login or a token form).
      'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; media-src blob:; img-src data:; frame-ancestors 'none'",
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
    };
    if (s.auth && (pageAuth === 'ok' || s.auth.hasSession(req))) headers['Set-Cookie'] = s.auth.sessionCookie();
    send(200, renderPage({ path: s.path, name: s.name, auth: s.auth?.scheme ?? 'none' }), headers);
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.served.add(socket);
    socket.on('error', () => undefined);
    const reject = (status: number, extra = '') => {
      if (socket.writable) socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\n${extra}Content-Length: 0\r\n\r\n`);
      else socket.destroy();
    };
    const r = this.route(req.url);
    if (!this.origins.hostAllowed(req.headers.host)) {
      this.refuse(req, 'host');
      return reject(421);
    }
    // Any website may open a WebSocket to 127.0.0.1 and its cookies for this host go with it.
    if (!this.origins.originAllowed(req.headers.origin, req.headers.host)) {
      this.refuse(req, 'origin');
      return reject(403);
    }
    if (!r?.stream || r.rest !== '/ws') return reject(404);
    const s = r.stream;
    if (s.auth) {
      const a = this.authorize(req, s.auth);
      if (typeof a === 'number') return reject(429, `Retry-After: ${a}\r\n`);
      if (a !== 'ok') return reject(401, `WWW-Authenticate: ${s.auth.challenge()}\r\n`);
    }
    if (this.wss.clients.size >= this.opts.maxViewers) return reject(503, 'Retry-After: 5\r\n');
    const modeParam = r.query.get('mode') ?? 'webcodecs';
    if (!VIEWER_MODES.includes(modeParam as ViewerMode)) return reject(400);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (s.isClosed) return ws.close(1001, 'stream removed');
      this.alive.add(ws);
      ws.on('pong', () => this.alive.add(ws));
      s.addViewer(ws, modeParam as ViewerMode);
    });
  }
}

function checkPath(path: string): void {
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~\-/]*$/.test(path) || path.endsWith('/') && path !== '/' || path === '/' || path.includes('//')) {
    throw new TypeError(`web path must look like "/live" (letters, digits, . _ ~ - /, no trailing slash), got ${JSON.stringify(path)}`);
  }
}
