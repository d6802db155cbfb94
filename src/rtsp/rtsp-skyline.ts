/**
 * RTSPSkyLine: serves the frames as live H.264 at rtsp://host:port/path from our own RTSP server.
 * Encoded access units come to Node (the base class's tap) and are fanned out by a mount, so one
 * encode serves any number of viewers; no GStreamer sink and no threadpool thread is involved.
 */
import type { AccessUnit } from '../h264/access-unit.js';
import { SkyLine, type SessionInfo, type SinkSpec, type SkyLineEvents, type SkyLineOptions, type SkyLineStats, type StartOptions } from '../skyline.js';
import type { RtspAuthOptions } from './auth.js';
import type { MountStats, RtspMount } from './mount.js';
import { RTSPServer, type RTSPServerOptions } from './server.js';
import { WebPreview, webSecrets, type WebPreviewOptions } from '../web/preview.js';
import { WebServer } from '../web/web-server.js';

export interface RTSPSkyLineOptions extends SkyLineOptions {
  /** TCP port of the server this SkyLine creates; 0 picks a free one. Default 8554. Not with `server`. */
  port?: number;
  /** Address of the server this SkyLine creates. Default 127.0.0.1 (this machine only). Not with `server`. */
  host?: string;
  /** Path of the stream. Default "/live". */
  path?: string;
  /** Serve from this existing server (several SkyLines can share one, on different paths). */
  server?: RTSPServer;
  /** Require a user name and password (Basic and Digest) to watch. */
  auth?: RtspAuthOptions;
  /** More settings for the server this SkyLine creates (timeouts, limits, UDP ports). */
  serverOptions?: Omit<RTSPServerOptions, 'host' | 'port' | 'auth' | 'logger'>;
  /**
   * Also serve a browser preview of the same access units (no second encoder): a WebServer to
   * mount on, or options for one of its own (port default 8889). Its auth defaults to `auth`.
   */
  web?: WebServer | WebPreviewOptions;
}

export interface RTSPSkyLineStats extends SkyLineStats {
  /** Viewers receiving video now. */
  clients: number;
  /** RTP payload bytes sent to viewers, summed over them. */
  bytesSent: number;
  /** Access units a slow viewer missed, summed over viewers. */
  clientDrops: number;
  /** Viewers disconnected for being too slow. */
  droppedClients: number;
  /** Browsers watching the web preview (0 without one). */
  webViewers: number;
}

export interface RTSPSkyLineEvents extends SkyLineEvents {
  stats: [stats: RTSPSkyLineStats];
}

export class RTSPSkyLine extends SkyLine<RTSPSkyLineEvents> {
  readonly server: RTSPServer;
  readonly path: string;
  private readonly mount: RtspMount;
  private readonly ownsServer: boolean;
  /** The browser preview, when the `web` option was given. */
  readonly web: WebPreview | undefined;
  private isClosed = false;

  constructor(options: RTSPSkyLineOptions = {}) {
    super(options);
    if (options.server && (options.port !== undefined || options.host !== undefined)) {
      throw new TypeError('RTSPSkyLine: give either server or host/port, not both (a shared server has its own address)');
    }
    if (options.auth) this.redactor.add(options.auth.password);
    const path = options.path ?? '/live';
    if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError(`RTSPSkyLine path must start with "/", got ${JSON.stringify(path)}`);
    this.ownsServer = options.server === undefined;
    this.server =
      options.server ??
      new RTSPServer({
        ...options.serverOptions,
        host: options.host ?? '127.0.0.1',
        port: options.port ?? 8554,
        logger: this.log,
      });
    this.mount = this.server.mount(path, {
      ...(options.auth ? { auth: options.auth } : {}),
      onKeyframeRequest: () => this.requestKeyframe(),
    });
    this.path = this.mount.path;
    if (options.web) {
      const w: WebPreviewOptions = options.web instanceof WebServer ? { server: options.web } : options.web;
      const auth = w.auth ?? options.auth;
      for (const secret of webSecrets(auth)) this.redactor.add(secret);
      try {
        this.web = new WebPreview({ path, ...w, ...(auth ? { auth } : {}) }, this.log, () => this.requestKeyframe(), 'RTSPSkyLine web');
      } catch (err) {
        this.server.unmount(this.mount);
        throw err;
      }
    }
  }

  /** The browser preview's page, when the `web` option was given. */
  get webUrl(): string | undefined {
    return this.web?.url;
  }

  /** Where to watch, e.g. rtsp://127.0.0.1:8554/live (with port 0, final once listen() or startStreaming() resolved). */
  get url(): string {
    return this.server.url(this.path);
  }

  /** Binds the server's ports (startStreaming() does it too); resolves with the URL. */
  async listen(): Promise<string> {
    await this.server.listen();
    await this.web?.listen();
    return this.url;
  }

  /** Starts a session; the server is listening when this resolves, so `url` is final. */
  override async startStreaming(options?: StartOptions): Promise<void> {
    await this.listen();
    await super.startStreaming(options);
  }

  override stats(): RTSPSkyLineStats {
    const m: MountStats = this.mount.stats();
    return { ...super.stats(), clients: m.clients, bytesSent: m.bytesSent, clientDrops: m.droppedUnits, droppedClients: m.droppedClients, webViewers: this.web?.stats().viewers ?? 0 };
  }

  /** Stops streaming, removes the stream from the server, and closes the server if this SkyLine created it. */
  override async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    try {
      await super.close();
    } finally {
      this.server.unmount(this.mount);
      if (this.ownsServer) await this.server.close();
      await this.web?.close();
    }
  }

  protected sink(): SinkSpec {
    return { kind: 'tap' };
  }

  protected override async openDestination(session: SessionInfo): Promise<void> {
    await this.listen();
    this.mount.setFrameRate(session.fps);
    this.web?.setFrameRate(session.fps);
    this.log.info({ url: this.url, ...(this.web ? { web: this.web.url } : {}) }, 'serving RTSP');
  }

  protected override onAccessUnit(au: AccessUnit): void {
    this.mount.pushAccessUnit(au);
    this.web?.push(au);
  }

  protected override async closeDestination(): Promise<void> {
    // Viewers get RTCP BYE and their connections close: the stream is over. A new session
    // (maybe another size) is announced afresh to whoever connects next.
    this.mount.endStream('stream stopped');
    this.web?.endStream('stream stopped');
  }
}
