/**
 * RTSPSkyLine: serves the frames as live H.264 at rtsp://host:port/path from our own RTSP server:
 * a SkyLine with one built-in RtspDestination (and a WebDestination with the `web` option), so
 * one encode serves any number of viewers.
 */
import { RtspDestination, type RtspDestinationOptions } from '../destinations/rtsp/rtsp-destination.js';
import { WebDestination } from '../destinations/web/web-destination.js';
import { SkyLine, type SkyLineEvents, type SkyLineOptions, type SkyLineStats } from '../skyline.js';
import type { MountStats } from './mount.js';
import type { RTSPServer } from './server.js';
import { webSecrets, type WebPreviewOptions } from '../web/preview.js';
import { WebServer } from '../web/web-server.js';

/** The RTSP destination's options (port, host, path, server, auth, serverOptions), and: */
export interface RTSPSkyLineOptions extends SkyLineOptions, Omit<RtspDestinationOptions, 'logger'> {
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
  private readonly rtsp: RtspDestination;
  /** The browser preview, when the `web` option was given. */
  readonly web: WebDestination | undefined;

  constructor(options: RTSPSkyLineOptions = {}) {
    const rtsp = new RtspDestination({
      ...(options.server ? { server: options.server } : {}),
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      path: options.path ?? '/live',
      ...(options.auth ? { auth: options.auth } : {}),
      ...(options.serverOptions ? { serverOptions: options.serverOptions } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    let web: WebDestination | undefined;
    if (options.web) {
      const w: WebPreviewOptions = options.web instanceof WebServer ? { server: options.web } : options.web;
      const auth = w.auth ?? options.auth;
      try {
        web = new WebDestination({ path: rtsp.path, ...w, ...(auth ? { auth } : {}), ...(options.logger ? { logger: options.logger } : {}) }, 'RTSPSkyLine web');
      } catch (err) {
        void rtsp.dispose();
        throw err;
      }
    }
    // The same access units go to the RTSP mount and the browser preview: one encode.
    try {
      const webAuth = options.web && !(options.web instanceof WebServer) ? (options.web.auth ?? options.auth) : options.auth;
      super({ ...options, destinations: [rtsp, ...(web ? [web] : []), ...(options.destinations ?? [])] }, { secrets: [options.auth?.password, ...webSecrets(webAuth)] });
    } catch (err) {
      // Bad SkyLine options: the path must be free again for a corrected try.
      void rtsp.dispose();
      void web?.dispose();
      throw err;
    }
    this.rtsp = rtsp;
    this.web = web;
    this.server = rtsp.server;
    this.path = rtsp.path;
  }

  /** The browser preview's page, when the `web` option was given. */
  get webUrl(): string | undefined {
    return this.web?.url;
  }

  /** Where to watch, e.g. rtsp://127.0.0.1:8554/live (with port 0, final once listen() or startStreaming() resolved). */
  get url(): string {
    return this.rtsp.url;
  }

  /** Binds the server's ports (startStreaming() does it too); resolves with the URL. */
  async listen(): Promise<string> {
    await this.rtsp.listen();
    await this.web?.listen();
    return this.url;
  }

  override stats(): RTSPSkyLineStats {
    const m: MountStats = this.rtsp.mountStats();
    return { ...super.stats(), clients: m.clients, bytesSent: m.bytesSent, clientDrops: m.droppedUnits, droppedClients: m.droppedClients, webViewers: this.web?.previewStats().viewers ?? 0 };
  }
}
