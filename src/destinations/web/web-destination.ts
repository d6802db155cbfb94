// WebDestination: a live preview page any current browser plays (WebCodecs, or MSE), served by
// our web server at http://host:port/path; src/web/ does the serving.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { AccessUnit } from '../../h264/access-unit.js';
import { defaultLogger, Redactor, REDACT_PATHS, scrubbing } from '../../log.js';
import { WebPreview, webSecrets, type WebPreviewOptions } from '../../web/preview.js';
import type { WebServer } from '../../web/web-server.js';
import type { WebStreamStats } from '../../web/stream.js';
import type { Destination, DestinationEvents, DestinationLink, DestinationStats, VideoInfo } from '../destination.js';
import { DestinationStatus } from '../status.js';

export interface WebDestinationOptions extends WebPreviewOptions {
  /** Logger of the server this destination creates. Default: the library's (stderr, warn). */
  logger?: Logger;
}

export class WebDestination extends EventEmitter<DestinationEvents> implements Destination {
  readonly kind = 'web';
  readonly live = true;
  private readonly preview: WebPreview;
  private readonly status: DestinationStatus;
  /** An ES private field: inspecting or serializing the destination never shows them. */
  readonly #secrets: string[];
  private link: DestinationLink | undefined;
  private disposed = false;

  constructor(options: WebDestinationOptions = {}, who = 'WebDestination') {
    super();
    const { logger, ...rest } = options;
    // The server logs what clients send: the password or token is masked wherever it appears.
    const redactor = new Redactor();
    for (const s of webSecrets(options.auth)) redactor.add(s);
    const scrubbed = scrubbing((logger ?? defaultLogger()).child({ component: 'gst-skyline' }, { redact: REDACT_PATHS }), redactor);
    this.preview = new WebPreview(rest, scrubbed, () => this.link?.requestKeyframe(), who);
    this.#secrets = webSecrets(options.auth);
    this.status = new DestinationStatus(this, this.kind, `web:${this.preview.path}`);
  }

  get name(): string {
    return this.status.name;
  }

  get state() {
    return this.status.state;
  }

  get server(): WebServer {
    return this.preview.server;
  }

  get path(): string {
    return this.preview.path;
  }

  /** The page, e.g. http://127.0.0.1:8889/live (with port 0, final once listen() resolved). */
  get url(): string {
    return this.preview.url;
  }

  listen(): Promise<string> {
    return this.preview.listen();
  }

  prepare(): Promise<void> {
    return this.listen().then(() => undefined);
  }

  async open(video: VideoInfo, link: DestinationLink): Promise<void> {
    this.link = link;
    for (const s of this.#secrets) link.addSecret(s);
    this.status.reset();
    this.status.to('opening');
    await this.listen();
    this.preview.setFrameRate(video.fps);
    this.status.to('streaming');
    link.log.info({ url: this.url }, 'serving the web preview');
  }

  write(au: AccessUnit): boolean {
    this.status.unitsIn++;
    this.preview.push(au);
    return true;
  }

  async close(): Promise<void> {
    this.status.to('closing');
    this.preview.endStream('stream stopped');
    this.status.to('idle');
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.status.is('idle')) await this.close();
    await this.preview.close();
  }

  /** The preview's own figures: viewers, bytes sent, slow viewers. */
  previewStats(): WebStreamStats {
    return this.preview.stats();
  }

  stats(): DestinationStats {
    const w = this.preview.stats();
    return { ...this.status.stats(), bytesOut: w.bytesSent, unitsDropped: w.skippedUnits };
  }
}
