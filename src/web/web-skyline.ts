/**
 * WebSkyLine: serves the frames as a live preview page, http://host:port/path, watched in any
 * current browser (WebCodecs, or MSE where WebCodecs is unavailable): a SkyLine with one
 * built-in WebDestination.
 */
import { WebDestination } from '../destinations/web/web-destination.js';
import { SkyLine, type SkyLineEvents, type SkyLineOptions, type SkyLineStats } from '../skyline.js';
import { webSecrets, type WebPreviewOptions } from './preview.js';
import type { WebServer } from './web-server.js';

export interface WebSkyLineOptions extends SkyLineOptions, WebPreviewOptions {}

export interface WebSkyLineStats extends SkyLineStats {
  /** Browsers watching now. */
  viewers: number;
  /** Bytes sent to browsers, summed over them. */
  bytesSent: number;
  /** Access units a slow viewer missed, summed over viewers. */
  viewerSkips: number;
  /** Viewers disconnected for staying behind. */
  droppedViewers: number;
}

export interface WebSkyLineEvents extends SkyLineEvents {
  stats: [stats: WebSkyLineStats];
}

export class WebSkyLine extends SkyLine<WebSkyLineEvents> {
  private readonly preview: WebDestination;

  constructor(options: WebSkyLineOptions = {}) {
    const { port, host, path, server, auth, name, serverOptions } = options;
    const preview = new WebDestination({ port, host, path, server, auth, name, serverOptions, ...(options.logger ? { logger: options.logger } : {}) }, 'WebSkyLine');
    try {
      super({ ...options, destinations: [preview, ...(options.destinations ?? [])] }, { secrets: webSecrets(options.auth) });
    } catch (err) {
      void preview.dispose();
      throw err;
    }
    this.preview = preview;
  }

  get server(): WebServer {
    return this.preview.server;
  }

  get path(): string {
    return this.preview.path;
  }

  /** The page, e.g. http://127.0.0.1:8889/live (with port 0, final once listen() or startStreaming() resolved). */
  get url(): string {
    return this.preview.url;
  }

  async listen(): Promise<string> {
    return this.preview.listen();
  }

  override stats(): WebSkyLineStats {
    const w = this.preview.previewStats();
    return { ...super.stats(), viewers: w.viewers, bytesSent: w.bytesSent, viewerSkips: w.skippedUnits, droppedViewers: w.droppedViewers };
  }
}
