/**
 * WebSkyLine: serves the frames as a live preview page, http://host:port/path, watched in any
 * current browser (WebCodecs, or MSE where WebCodecs is unavailable). Access units come to
 * Node through the base class's tap; src/web/ does the rest.
 */
import type { AccessUnit } from '../h264/access-unit.js';
import { SkyLine, type SessionInfo, type SinkSpec, type SkyLineEvents, type SkyLineOptions, type SkyLineStats, type StartOptions } from '../skyline.js';
import { WebPreview, webSecrets, type WebPreviewOptions } from './preview.js';
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
  private readonly preview: WebPreview;
  private isClosed = false;

  constructor(options: WebSkyLineOptions = {}) {
    super(options);
    for (const s of webSecrets(options.auth)) this.redactor.add(s);
    this.preview = new WebPreview(options, this.log, () => this.requestKeyframe(), 'WebSkyLine');
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

  override async startStreaming(options?: StartOptions): Promise<void> {
    await this.listen();
    await super.startStreaming(options);
  }

  override stats(): WebSkyLineStats {
    const w = this.preview.stats();
    return { ...super.stats(), viewers: w.viewers, bytesSent: w.bytesSent, viewerSkips: w.skippedUnits, droppedViewers: w.droppedViewers };
  }

  override async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    try {
      await super.close();
    } finally {
      await this.preview.close();
    }
  }

  protected sink(): SinkSpec {
    return { kind: 'tap' };
  }

  protected override async openDestination(session: SessionInfo): Promise<void> {
    await this.listen();
    this.preview.setFrameRate(session.fps);
    this.log.info({ url: this.url }, 'serving the web preview');
  }

  protected override onAccessUnit(au: AccessUnit): void {
    this.preview.push(au);
  }

  protected override async closeDestination(): Promise<void> {
    this.preview.endStream('stream stopped');
  }
}
