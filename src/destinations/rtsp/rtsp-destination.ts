// RtspDestination: serves the access units at rtsp://host:port/path from our own RTSP server.
// Each unit is packetized once by the mount and fanned out to every viewer; slow viewers are
// cut by the server, never the producer.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { AccessUnit } from '../../h264/access-unit.js';
import { defaultLogger, Redactor, REDACT_PATHS, scrubbing } from '../../log.js';
import type { RtspAuthOptions } from '../../rtsp/auth.js';
import type { MountStats, RtspMount } from '../../rtsp/mount.js';
import { RTSPServer, type RTSPServerOptions } from '../../rtsp/server.js';
import type { Destination, DestinationEvents, DestinationLink, DestinationStats, VideoInfo } from '../destination.js';
import { DestinationStatus } from '../status.js';

export interface RtspDestinationOptions {
  /** TCP port of the server this destination creates; 0 picks a free one. Default 8554. Not with `server`. */
  port?: number;
  /** Address of the server this destination creates. Default 127.0.0.1 (this machine only). Not with `server`. */
  host?: string;
  /** Path of the stream. Default "/live". */
  path?: string;
  /** Serve from this existing server (several streams can share one, on different paths). */
  server?: RTSPServer;
  /** Require a user name and password (Basic and Digest) to watch. */
  auth?: RtspAuthOptions;
  /** More settings for the server this destination creates (timeouts, limits, UDP ports). */
  serverOptions?: Omit<RTSPServerOptions, 'host' | 'port' | 'auth' | 'logger'>;
  /** Logger of the server this destination creates. Default: the library's (stderr, warn). */
  logger?: Logger;
}

export class RtspDestination extends EventEmitter<DestinationEvents> implements Destination {
  readonly kind = 'rtsp';
  readonly live = true;
  readonly server: RTSPServer;
  readonly path: string;
  readonly mount: RtspMount;
  private readonly ownsServer: boolean;
  private readonly status: DestinationStatus;
  private link: DestinationLink | undefined;
  /** An ES private field: inspecting or serializing the destination never shows it. */
  readonly #password: string | undefined;
  private disposed = false;

  constructor(options: RtspDestinationOptions = {}) {
    super();
    if (options.server && (options.port !== undefined || options.host !== undefined)) {
      throw new TypeError('RTSP: give either server or host/port, not both (a shared server has its own address)');
    }
    const path = options.path ?? '/live';
    if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError(`RTSP path must start with "/", got ${JSON.stringify(path)}`);
    this.ownsServer = options.server === undefined;
    // The server logs request URIs and headers: whatever a client puts there, the password is masked.
    const redactor = new Redactor();
    redactor.add(options.auth?.password);
    const logger = scrubbing((options.logger ?? defaultLogger()).child({ component: 'gst-skyline' }, { redact: REDACT_PATHS }), redactor);
    this.server =
      options.server ??
      new RTSPServer({ ...options.serverOptions, host: options.host ?? '127.0.0.1', port: options.port ?? 8554, logger });
    this.mount = this.server.mount(path, {
      ...(options.auth ? { auth: options.auth } : {}),
      onKeyframeRequest: () => this.link?.requestKeyframe(),
    });
    this.path = this.mount.path;
    this.#password = options.auth?.password;
    this.status = new DestinationStatus(this, this.kind, `rtsp:${this.path}`);
  }

  get name(): string {
    return this.status.name;
  }

  get state() {
    return this.status.state;
  }

  /** Where to watch, e.g. rtsp://127.0.0.1:8554/live (with port 0, final once listen() resolved). */
  get url(): string {
    return this.server.url(this.path);
  }

  /** Binds the server's ports; resolves with the URL. */
  async listen(): Promise<string> {
    await this.server.listen();
    return this.url;
  }

  prepare(): Promise<void> {
    return this.listen().then(() => undefined);
  }

  async open(video: VideoInfo, link: DestinationLink): Promise<void> {
    this.link = link;
    link.addSecret(this.#password);
    this.status.reset();
    this.status.to('opening');
    await this.listen();
    this.mount.setFrameRate(video.fps);
    this.status.to('streaming');
    link.log.info({ url: this.url }, 'serving RTSP');
  }

  write(au: AccessUnit): boolean {
    this.status.unitsIn++;
    this.mount.pushAccessUnit(au);
    return true;
  }

  async close(): Promise<void> {
    // Viewers get RTCP BYE and their connections close: the stream is over. A new stream (maybe
    // another size) is announced afresh to whoever connects next.
    this.status.to('closing');
    this.mount.endStream('stream stopped');
    this.status.to('idle');
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.status.is('idle')) await this.close();
    this.server.unmount(this.mount);
    if (this.ownsServer) await this.server.close();
  }

  /** The mount's own figures: viewers, bytes sent, slow viewers. */
  mountStats(): MountStats {
    return this.mount.stats();
  }

  stats(): DestinationStats {
    const s = this.status.stats();
    return { ...s, bytesOut: this.mount.stats().bytesSent, unitsDropped: this.mount.stats().droppedUnits };
  }
}
