/**
 * RTSPServer: an RTSP/1.0 server (RFC 2326) for live H.264, on Node's net and dgram only (no libuv
 * threadpool work while streaming). Streams are mounted at paths; each mount is fed access units once
 * and fans them out to its clients over RTP/UDP unicast or RTP interleaved on the RTSP connection.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Logger } from 'pino';
import { parseRtcp } from '../rtp/rtcp.js';
import type { RtspAuthOptions } from './auth.js';
import { RtspConnection, type ConnectionHandler } from './connection.js';
import { AuthGate } from './authorize.js';
import { clientAddress, ConnectionsPerAddress, type AuthLimitOptions } from './guard.js';
import { isAcceptableRange, parseSessionId, parseTransport } from './headers.js';
import { serializeResponse, type RtspParserLimits, type RtspRequest, type RtspResponse } from './message.js';
import { RtspMount, type MountHost, type MountOptions, type MountStats } from './mount.js';
import { chooseTransport, normalizePath, peerKey, redactUri, resolveUri, sessionHeaders, SERVER_NAME, withServerHeaders, type Resolved } from './requests.js';
import { RtspSession, TcpTransport, UdpTransport } from './session.js';
import { bindRtpPair, type RtpPair } from './udp.js';

export interface RTSPServerOptions {
  /** Address to listen on. Default 127.0.0.1: serving video to the network is an explicit choice. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 8554. */
  port?: number;
  /** Credentials for every mount that does not set its own. */
  auth?: RtspAuthOptions;
  /** Session timeout announced to clients, seconds; UDP sessions without keep-alives end after it. Default 60. */
  sessionTimeoutSec?: number;
  /** Time allowed to finish sending a request, ms. Default 10000. */
  requestTimeoutMs?: number;
  /** Connections without sessions are closed after this long idle, ms. Default 60000. */
  idleTimeoutMs?: number;
  /** Longest DESCRIBE wait for a mounted stream that has not started yet, ms. Default 5000. */
  describeWaitMs?: number;
  /** Most simultaneous RTSP connections. Default 1000. */
  maxConnections?: number;
  /** Most simultaneous RTSP connections from one client address (one host cannot take them all). Default 64. */
  maxConnectionsPerAddress?: number;
  /** Most sessions over all mounts. Default 1000. */
  maxSessions?: number;
  /** Per-client backlog beyond which access units are skipped, bytes. Default 1 MiB. */
  maxClientBacklogBytes?: number;
  /** A client over its backlog this long is disconnected, ms. Default 10000. */
  stallTimeoutMs?: number;
  /** UDP ports for RTP and RTCP (RTP even, RTCP = RTP + 1); default: a free pair. */
  rtpPort?: number;
  /** Limits of the request parser. */
  limits?: Partial<RtspParserLimits>;
  /** Wrong credentials per client address before it gets 503 with Retry-After for a while. Default 10 per 60 s. */
  authLimit?: AuthLimitOptions;
  /** pino logger; default: silent unless given. */
  logger?: Logger;
}

export interface RTSPServerStats {
  connections: number;
  sessions: number;
  mounts: Record<string, MountStats>;
}

const PUBLIC_METHODS = 'OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, GET_PARAMETER, SET_PARAMETER, TEARDOWN';
const REPORT_INTERVAL_MS = 5000;
const MAX_SESSIONS_PER_CONNECTION = 8;

export class RTSPServer extends EventEmitter implements ConnectionHandler, MountHost {
  readonly host: string;
  private readonly requestedPort: number;
  private readonly opts: Required<Omit<RTSPServerOptions, 'host' | 'port' | 'auth' | 'rtpPort' | 'limits' | 'logger' | 'authLimit' | 'maxConnectionsPerAddress'>>;
  private readonly gate: AuthGate;
  private readonly perAddress: ConnectionsPerAddress;
  /** Holds the password: an ES private field, so inspecting or serializing the server never shows it. */
  readonly #auth: RtspAuthOptions | undefined;
  private readonly limits: Partial<RtspParserLimits>;
  private readonly log: Logger | undefined;
  private readonly tcp: net.Server;
  private udp: RtpPair | undefined;
  private readonly rtpPortOption: number | undefined;
  private readonly mounts = new Map<string, RtspMount>();
  private readonly sessions = new Map<string, RtspSession>();
  private readonly connections = new Map<number, RtspConnection>();
  /** UDP sessions by client RTCP address, so RTCP receiver reports count as keep-alives. */
  private readonly udpPeers = new Map<string, RtspSession>();
  private nextConnectionId = 1;
  private housekeeping: NodeJS.Timeout | undefined;
  private listening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private boundPort = 0;

  constructor(options: RTSPServerOptions = {}) {
    super();
    this.host = options.host ?? '127.0.0.1';
    this.requestedPort = options.port ?? 8554;
    if (!Number.isInteger(this.requestedPort) || this.requestedPort < 0 || this.requestedPort > 65535) {
      throw new RangeError(`port must be an integer from 0 to 65535, got ${String(options.port)}`);
    }
    if (options.rtpPort !== undefined && (!Number.isInteger(options.rtpPort) || options.rtpPort % 2 !== 0 || options.rtpPort < 2 || options.rtpPort > 65534)) {
      throw new RangeError('rtpPort must be an even port number (RTCP uses the next one)');
    }
    this.rtpPortOption = options.rtpPort;
    this.#auth = options.auth;
    this.limits = options.limits ?? {};
    this.log = options.logger?.child({ component: 'rtsp-server' });
    this.gate = new AuthGate(options.authLimit, this.log);
    this.perAddress = new ConnectionsPerAddress(options.maxConnectionsPerAddress ?? 64);
    this.opts = {
      sessionTimeoutSec: options.sessionTimeoutSec ?? 60,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
      describeWaitMs: options.describeWaitMs ?? 5000,
      maxConnections: options.maxConnections ?? 1000,
      maxSessions: options.maxSessions ?? 1000,
      maxClientBacklogBytes: options.maxClientBacklogBytes ?? 2 ** 20,
      stallTimeoutMs: options.stallTimeoutMs ?? 10_000,
    };
    this.tcp = net.createServer((socket) => this.accept(socket));
    this.tcp.maxConnections = this.opts.maxConnections;
    this.tcp.on('error', (err) => this.log?.error({ err: err.message }, 'RTSP listener error'));
  }

  /** The TCP port clients connect to (the chosen one when the port was 0); 0 before listen() resolves. */
  get port(): number {
    return this.boundPort;
  }

  /** UDP ports used for RTP and RTCP. */
  get udpPorts(): readonly [number, number] | undefined {
    return this.udp?.ports;
  }

  /** rtsp:// URL of a path on this server. */
  url(path: string): string {
    const host = net.isIPv6(this.host) ? `[${this.host}]` : this.host === '0.0.0.0' ? '127.0.0.1' : this.host;
    return `rtsp://${host}:${this.boundPort || this.requestedPort}${normalizePath(path) || '/'}`;
  }

  /** Binds the TCP port and the UDP pair. Idempotent: every caller gets the same promise. */
  listen(): Promise<void> {
    this.listening ??= this.bind();
    return this.listening;
  }

  /** Adds a stream at a path ("/live"). */
  mount(path: string, options: MountOptions = {}): RtspMount {
    if (this.closing) throw new Error('the RTSP server is closed');
    const p = normalizePath(path);
    if (!/^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*$/.test(p)) throw new TypeError(`invalid RTSP mount path ${JSON.stringify(path)}`);
    if (this.mounts.has(p)) throw new Error(`an RTSP stream is already mounted at ${p || '/'}`);
    const m = new RtspMount(p || '/', this, options, this.#auth);
    this.mounts.set(p, m);
    this.log?.debug({ path: p || '/' }, 'mounted');
    return m;
  }

  /** Removes a stream: its clients get RTCP BYE and are disconnected. */
  unmount(mountOrPath: RtspMount | string): void {
    const p = normalizePath(typeof mountOrPath === 'string' ? mountOrPath : mountOrPath.path);
    const m = this.mounts.get(p);
    if (!m || (typeof mountOrPath !== 'string' && m !== mountOrPath)) return;
    this.endSessions(m, 'unmounted');
    this.mounts.delete(p);
    m.close();
    this.log?.debug({ path: p || '/' }, 'unmounted');
  }

  stats(): RTSPServerStats {
    const mounts: Record<string, MountStats> = {};
    for (const m of this.mounts.values()) mounts[m.path] = m.stats();
    return { connections: this.connections.size, sessions: this.sessions.size, mounts };
  }

  /** Stops listening, ends every session and closes every connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const m of [...this.mounts.values()]) this.unmount(m);
      if (this.housekeeping) clearInterval(this.housekeeping);
      this.housekeeping = undefined;
      const closed = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
      for (const c of this.connections.values()) c.destroy();
      if (this.tcp.listening) await closed;
      if (this.udp) {
        const { rtp, rtcp } = this.udp;
        await Promise.all([rtp, rtcp].map((s) => new Promise<void>((r) => s.close(() => r()))));
        this.udp = undefined;
      }
      this.log?.debug('closed');
    })();
    return this.closing;
  }

  // ---- MountHost ----------------------------------------------------------------------

  endSessions(mount: RtspMount, reason: string): void {
    for (const s of [...mount.sessions]) {
      const conn = this.connections.get(s.ownerId);
      this.destroySession(s, reason);
      // The client learns the stream is over from the BYE and the closed connection.
      if (conn && conn.sessions.size === 0) conn.end();
    }
  }

  // ---- ConnectionHandler --------------------------------------------------------------

  handle(conn: RtspConnection, req: RtspRequest): Promise<RtspResponse> | RtspResponse {
    const res = this.dispatch(conn, req);
    const log = (r: RtspResponse) => {
      this.log?.debug({ conn: conn.id, method: req.method, uri: redactUri(req.uri), status: r.status }, 'request');
      return withServerHeaders(r);
    };
    return res instanceof Promise ? res.then(log) : log(res);
  }

  interleaved(conn: RtspConnection, channel: number, payload: Buffer): void {
    // Receiver reports on an RTCP channel keep the matching session alive; anything else is ignored.
    for (const id of conn.sessions) {
      const s = this.sessions.get(id);
      if (s && s.transport instanceof TcpTransport && s.transport.channels[1] === channel && parseRtcp(payload)) {
        s.lastSeen = Date.now();
      }
    }
  }

  malformed(conn: RtspConnection, status: number, message: string): void {
    this.log?.debug({ conn: conn.id, status, reason: message }, 'malformed request');
  }

  closed(conn: RtspConnection): void {
    this.connections.delete(conn.id);
    for (const id of [...conn.sessions]) {
      const s = this.sessions.get(id);
      if (s) this.destroySession(s, 'connection closed');
    }
    this.log?.debug({ conn: conn.id }, 'connection closed');
  }

  // ---- Requests -------------------------------------------------------------------------

  private dispatch(conn: RtspConnection, req: RtspRequest): Promise<RtspResponse> | RtspResponse {
    if (req.headers['cseq'] === undefined || !/^\d{1,10}$/.test(req.headers['cseq'])) return { status: 400 };
    const target = resolveUri(req.uri, conn, this.mounts, this.host);
    if (target === undefined) return { status: 400 };
    const sessionHeader = req.headers['session'];
    const session = sessionHeader !== undefined ? this.sessionOf(conn, parseSessionId(sessionHeader)) : undefined;
    if (session) session.lastSeen = Date.now();
    const timeout = this.opts.sessionTimeoutSec;

    switch (req.method) {
      case 'OPTIONS':
        return { status: 200, headers: { Public: PUBLIC_METHODS, ...sessionHeaders(session, timeout) } };
      case 'DESCRIBE':
      case 'SETUP':
      case 'PLAY':
      case 'PAUSE':
      case 'TEARDOWN':
      case 'GET_PARAMETER':
      case 'SET_PARAMETER':
        break;
      case 'ANNOUNCE':
      case 'RECORD':
        return { status: 405, headers: { Allow: PUBLIC_METHODS } };
      default:
        return { status: 501, headers: { Public: PUBLIC_METHODS } };
    }
    // We implement no RTSP extensions (RFC 2326 §12.32).
    const require = req.headers['require'];
    if (require !== undefined && require !== '') return { status: 551, headers: { Unsupported: require } };
    if (sessionHeader !== undefined && !session) return { status: 454 };
    if (target.kind === 'unknown') return { status: 404 };
    // A session set up on this connection was authenticated at SETUP; everything else needs credentials.
    if (target.kind === 'mount' && !(session && session.mountPath === target.mount.path)) {
      const denied = this.gate.authorize(conn, target.mount, req);
      if (denied) return denied;
    }
    if (session && target.kind === 'mount' && session.mountPath !== target.mount.path) return { status: 455 };

    switch (req.method) {
      case 'DESCRIBE':
        return target.kind === 'mount' ? this.describe(conn, target) : { status: 400 };
      case 'SETUP':
        return target.kind === 'mount' ? this.setup(conn, req, target, session) : { status: 400 };
      case 'PLAY':
        return session ? this.play(req, session) : { status: 454 };
      case 'PAUSE':
        if (!session) return { status: 454 };
        session.pause();
        return { status: 200, headers: sessionHeaders(session, timeout) };
      case 'TEARDOWN':
        if (!session) return { status: 454 };
        this.destroySession(session, 'teardown');
        return { status: 200 };
      case 'GET_PARAMETER':
        // Keep-alive (an empty body) or a parameter query we have nothing to report for.
        return { status: 200, headers: sessionHeaders(session, timeout) };
      case 'SET_PARAMETER':
        return req.body.length === 0 ? { status: 200, headers: sessionHeaders(session, timeout) } : { status: 451 };
      default:
        return { status: 501 };
    }
  }

  private async describe(conn: RtspConnection, target: Resolved & { kind: 'mount' }): Promise<RtspResponse> {
    const { mount } = target;
    if (!mount.ready) await mount.waitReady(this.opts.describeWaitMs);
    const sdp = mount.isClosed ? undefined : mount.sdp(conn.localAddress || this.host);
    if (sdp === undefined) return { status: 503, headers: { 'Retry-After': 2 } };
    return {
      status: 200,
      headers: { 'Content-Type': 'application/sdp', 'Content-Base': target.base },
      body: sdp,
    };
  }

  private async setup(conn: RtspConnection, req: RtspRequest, target: Resolved & { kind: 'mount' }, session: RtspSession | undefined): Promise<RtspResponse> {
    const { mount } = target;
    if (!target.track) return { status: 459 };
    if (session) return { status: 455 }; // one track per session, already set up
    // Like DESCRIBE, a SETUP for a stream about to start waits for it briefly.
    if (!mount.ready) await mount.waitReady(this.opts.describeWaitMs);
    if (!mount.ready || mount.isClosed || conn.isClosed) return { status: 503, headers: { 'Retry-After': 2 } };
    if (this.sessions.size >= this.opts.maxSessions || conn.sessions.size >= MAX_SESSIONS_PER_CONNECTION) return { status: 453 };
    const header = req.headers['transport'];
    if (header === undefined) return { status: 461 };
    const transport = chooseTransport(conn, parseTransport(header), this.udp);
    if (!transport) return { status: 461 };

    const id = randomBytes(8).toString('hex').toUpperCase();
    const s = new RtspSession(
      id,
      mount.path,
      conn.id,
      transport,
      { maxBacklogBytes: this.opts.maxClientBacklogBytes, stallTimeoutMs: this.opts.stallTimeoutMs },
      {
        wantKeyframe: () => mount.requestKeyframe(),
        stalled: (st) => this.dropSlowSession(st),
      },
      `${SERVER_NAME}@${conn.localAddress || this.host}`,
    );
    s.url = target.trackUrl;
    this.sessions.set(id, s);
    conn.sessions.add(id);
    mount.sessions.add(s);
    if (transport instanceof TcpTransport) for (const ch of transport.channels) conn.channels.add(ch);
    if (transport instanceof UdpTransport) this.udpPeers.set(peerKey(transport.address, transport.clientPorts[1]), s);
    this.log?.info({ conn: conn.id, session: id, path: mount.path, transport: transport.kind, client: conn.remoteAddress }, 'client set up');
    return {
      status: 200,
      headers: { Transport: transport.reply(s.stream.ssrc), ...sessionHeaders(s, this.opts.sessionTimeoutSec) },
    };
  }

  private play(req: RtspRequest, session: RtspSession): RtspResponse {
    const mount = this.mounts.get(normalizePath(session.mountPath));
    if (!mount) return { status: 454 };
    if (!isAcceptableRange(req.headers['range'])) return { status: 457 };
    const wasPlaying = session.state === 'playing';
    session.play();
    // The client starts at the next keyframe: ask the producer for one now.
    if (!wasPlaying) mount.requestKeyframe();
    this.log?.info({ session: session.id, path: mount.path }, 'client playing');
    return {
      status: 200,
      headers: {
        Range: 'npt=0.000-',
        'RTP-Info': `url=${session.url};seq=${session.stream.nextSequence};rtptime=${session.rtpTimeAt(mount.lastPtsNs)}`,
        ...sessionHeaders(session, this.opts.sessionTimeoutSec),
      },
    };
  }

  private sessionOf(conn: RtspConnection, id: string | undefined): RtspSession | undefined {
    if (id === undefined) return undefined;
    const s = this.sessions.get(id);
    // Sessions belong to the connection that set them up.
    return s && s.ownerId === conn.id ? s : undefined;
  }

  // ---- Sessions ---------------------------------------------------------------------------

  private destroySession(s: RtspSession, reason: string): void {
    if (!this.sessions.has(s.id)) return;
    const mount = this.mounts.get(normalizePath(s.mountPath));
    s.close(Date.now(), mount?.originMs ?? NaN);
    this.sessions.delete(s.id);
    mount?.sessions.delete(s);
    mount?.noteSessionGone(s);
    const conn = this.connections.get(s.ownerId);
    conn?.sessions.delete(s.id);
    if (s.transport instanceof TcpTransport) for (const ch of s.transport.channels) conn?.channels.delete(ch);
    if (s.transport instanceof UdpTransport) {
      const key = peerKey(s.transport.address, s.transport.clientPorts[1]);
      if (this.udpPeers.get(key) === s) this.udpPeers.delete(key);
    }
    this.log?.info({ session: s.id, path: s.mountPath, reason, dropped: s.dropped }, 'client gone');
  }

  private dropSlowSession(s: RtspSession): void {
    const mount = this.mounts.get(normalizePath(s.mountPath));
    mount?.noteDroppedClient();
    const conn = this.connections.get(s.ownerId);
    this.log?.warn({ session: s.id, path: s.mountPath, dropped: s.dropped }, 'client too slow: disconnected');
    this.destroySession(s, 'too slow');
    // Its connection is backed up with video; closing it is the only way to free that memory.
    conn?.destroy();
  }

  private tick(): void {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      if (s.timeoutApplies && now - s.lastSeen > this.opts.sessionTimeoutSec * 1000) {
        this.destroySession(s, 'timeout');
        continue;
      }
      const mount = this.mounts.get(normalizePath(s.mountPath));
      s.maybeReport(now, mount?.originMs ?? NaN, REPORT_INTERVAL_MS);
    }
    for (const c of [...this.connections.values()]) {
      if (c.isClosed) continue;
      if (c.partialSince !== 0 && now - c.partialSince > this.opts.requestTimeoutMs) {
        this.log?.debug({ conn: c.id }, 'request not finished in time');
        c.fail(serializeResponse({ status: 408 }));
      } else if (c.sessions.size === 0) {
        const idle = c.requests === 0 ? this.opts.requestTimeoutMs : this.opts.idleTimeoutMs;
        if (now - c.lastActivity > idle) c.end();
      } else if (c.writableLength() > this.opts.maxClientBacklogBytes * 4) {
        // Only replies and RTCP can pile up beyond the backlog limit; a client this far behind is gone.
        c.destroy();
      }
    }
  }

  // ---- Sockets ----------------------------------------------------------------------------

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const client = clientAddress(socket.remoteAddress);
    if (!this.perAddress.take(client)) {
      this.log?.debug({ client }, 'connection refused: too many from this address');
      socket.destroy();
      return;
    }
    socket.once('close', () => this.perAddress.release(client));
    const conn = new RtspConnection(this.nextConnectionId++, socket, this, this.limits);
    this.connections.set(conn.id, conn);
    this.log?.debug({ conn: conn.id, client: conn.remoteAddress }, 'connection');
  }

  private async bind(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new Error(`RTSP server cannot listen on ${this.host}:${this.requestedPort}: ${err.message}`));
      this.tcp.once('error', onError);
      this.tcp.listen(this.requestedPort, this.host, () => {
        this.tcp.off('error', onError);
        resolve();
      });
    });
    const addr = this.tcp.address() as net.AddressInfo;
    this.boundPort = addr.port;
    try {
      this.udp = await bindRtpPair(addr.family === 'IPv6' ? 'udp6' : 'udp4', addr.address, this.rtpPortOption, this.log);
      this.wireUdp(this.udp.rtp, this.udp.rtcp);
    } catch (err) {
      await new Promise<void>((r) => this.tcp.close(() => r()));
      throw err;
    }
    this.housekeeping = setInterval(() => this.tick(), 1000);
    this.housekeeping.unref();
    this.log?.info({ url: this.url('/'), rtpPorts: this.udp.ports }, 'RTSP server listening');
  }

  private wireUdp(rtp: dgram.Socket, rtcp: dgram.Socket): void {
    // Clients send NAT punch-through packets to the RTP port and receiver reports to the RTCP port:
    // both only count as signs of life.
    rtp.on('message', () => undefined);
    rtcp.on('message', (msg, rinfo) => {
      const s = this.udpPeers.get(peerKey(rinfo.address, rinfo.port));
      if (s && parseRtcp(msg)) s.lastSeen = Date.now();
    });
  }
}
