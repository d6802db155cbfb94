/**
 * Files served under a path of the WebServer beside (or instead of) a preview page: the HLS
 * playlist, init segment, segments and parts at `<path>/<name>`. The server checks Host,
 * Origin and credentials exactly as for the preview (same cookie when both share a path);
 * this module adds CORS for the `allowedOrigins` players on other sites, and hands the rest
 * to the mount's handler.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebAuth, WebAuthResult } from './auth.js';
import type { OriginPolicy } from './origin.js';

/** What a handler answers with: status, body (chunks are written in order), headers. */
export interface FileReply {
  status: number;
  body?: Buffer | readonly Buffer[] | string;
  headers?: Record<string, string>;
}

export interface FileMountOptions {
  /** Answers GET/HEAD of `<path>/<name>` (the name has no slash). May wait (blocking reload). */
  handle(name: string, query: URLSearchParams, req: IncomingMessage): Promise<FileReply>;
  /** A response its reader stops taking is cut after this long without progress, ms. Default 10000. */
  stallTimeoutMs?: number;
}

export interface FileMount {
  readonly path: string;
  readonly auth: WebAuth | undefined;
  readonly options: FileMountOptions;
}

export interface FileServeContext {
  origins: OriginPolicy;
  /** The server's own check: cookie, then Authorization, counting failures per address (number: 429's Retry-After). */
  authorize(req: IncomingMessage, auth: WebAuth): WebAuthResult | number;
  refuse(req: IncomingMessage, why: 'origin'): void;
}

const TEXT = { 'Content-Type': 'text/plain' };

/** Serves one request for a file mount; the server has checked Host already. */
export function serveFileMount(ctx: FileServeContext, m: FileMount, name: string, query: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
  const method = req.method ?? 'GET';
  const origin = req.headers.origin;
  const base: Record<string, string> = { 'X-Content-Type-Options': 'nosniff' };
  const send = (r: FileReply) => {
    if (res.destroyed || res.headersSent) return;
    const body = r.body;
    const chunks = body === undefined ? [] : typeof body === 'string' ? [Buffer.from(body)] : Buffer.isBuffer(body) ? [body] : body;
    const length = chunks.reduce((n, c) => n + c.length, 0);
    res.writeHead(r.status, { 'Cache-Control': 'no-store', ...base, ...r.headers, 'Content-Length': String(length) });
    if (method === 'HEAD') return void res.end();
    // Memory stays bounded with any number of viewers: chunks are the stored buffers, never
    // copies, and a reader that stops taking them is cut (the socket's idle timer).
    res.setTimeout(m.options.stallTimeoutMs ?? 10_000, () => res.destroy());
    for (const c of chunks) res.write(c);
    res.end();
  };
  // Not a browser (no Origin), the page's own origin, or one of allowedOrigins: the same rule as
  // the preview's WebSocket. CORS headers only for the last, so no other site reads the stream.
  if (origin !== undefined) {
    if (!ctx.origins.originAllowed(origin, req.headers.host)) {
      ctx.refuse(req, 'origin');
      return send({ status: 403, body: 'forbidden origin\n', headers: TEXT });
    }
    if (!sameOrigin(origin, req.headers.host)) {
      base['Access-Control-Allow-Origin'] = origin;
      base.Vary = 'Origin';
      if (m.auth) base['Access-Control-Allow-Credentials'] = 'true';
    }
  }
  if (method === 'OPTIONS') {
    return send({ status: 204, headers: { 'Access-Control-Allow-Methods': 'GET, HEAD', 'Access-Control-Allow-Headers': 'Authorization', 'Access-Control-Max-Age': '600' } });
  }
  if (name === 'session' && m.auth) {
    // Trades credentials for the stream's cookie, as the preview's /session does, for players
    // that cannot set headers on every request.
    if (method !== 'POST') return send({ status: 405, body: 'POST only\n', headers: { Allow: 'POST', ...TEXT } });
    const a = ctx.authorize(req, m.auth);
    if (typeof a === 'number') return send({ status: 429, body: 'too many failed logins\n', headers: { 'Retry-After': String(a), ...TEXT } });
    if (a !== 'ok') return send({ status: 401, body: 'unauthorized\n', headers: { 'WWW-Authenticate': m.auth.challenge(), ...TEXT } });
    return send({ status: 204, headers: { 'Set-Cookie': m.auth.sessionCookie() } });
  }
  if (method !== 'GET' && method !== 'HEAD') return send({ status: 405, body: 'GET only\n', headers: { Allow: 'GET, HEAD, OPTIONS', ...TEXT } });
  if (m.auth) {
    const a = ctx.authorize(req, m.auth);
    if (typeof a === 'number') return send({ status: 429, body: 'too many failed logins\n', headers: { 'Retry-After': String(a), ...TEXT } });
    if (a !== 'ok') return send({ status: 401, body: 'unauthorized\n', headers: { 'WWW-Authenticate': m.auth.challenge(), ...TEXT } });
  }
  m.options.handle(name, query, req).then(send, () => send({ status: 500, body: 'internal error\n', headers: TEXT }));
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}
