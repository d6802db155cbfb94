// HlsDestination: low-latency HLS (CMAF parts, blocking playlist reload) for audiences larger
// than one machine. Served by our web server at http://host:port/<path>/index.m3u8, beside the
// web preview and with its credentials, or written into a directory for any web server or a
// CDN origin. src/hls/ cuts the parts, keeps the window and writes the playlist.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AccessUnit } from '../../h264/access-unit.js';
import { DirectoryWriter } from '../../hls/directory.js';
import { LiveWindow } from '../../hls/live-window.js';
import { hlsReply, PLAYLIST_NAME, type HlsRequestCounters } from '../../hls/routes.js';
import { defaultLogger } from '../../log.js';
import type { WebAuthOptions } from '../../web/auth.js';
import type { FileMount } from '../../web/file-mount.js';
import { webSecrets } from '../../web/preview.js';
import { WebServer, type WebServerOptions } from '../../web/web-server.js';
import type { Destination, DestinationEvents, DestinationLink, DestinationStats, VideoInfo } from '../destination.js';
import { DestinationStatus, KeyframeGate } from '../status.js';

export interface HlsDestinationOptions {
  /** Port of the web server this destination creates; 0 picks a free one. Default 8889. Not with `server` or `directory`. */
  port?: number;
  /** Address of the server this destination creates. Default 127.0.0.1. Not with `server` or `directory`. */
  host?: string;
  /** Serve from this existing web server (beside a WebDestination's preview: pass its `server`). */
  server?: WebServer;
  /** The playlist is at `<path>/index.m3u8`. Default "/live" (beside the preview page of the same path). */
  path?: string;
  /**
   * Write the playlist and files into this directory instead of serving them: plain HLS of
   * whole segments, since static files cannot answer blocking reloads (low latency needs our server).
   */
  directory?: string;
  /** Target part length, ms (whole frames, at most this). Default 250. */
  partMs?: number;
  /** Target segment length, ms: cut at the first keyframe past it (a keyframe is asked for). Default 2000. */
  segmentMs?: number;
  /** Segments in the playlist; as many again stay available, older ones are deleted. Default 6. */
  windowSegments?: number;
  /** Who may watch: { username, password } (Basic) or { token } (Bearer), as for the preview. */
  auth?: WebAuthOptions;
  /** Origins of players on other sites allowed to read the stream (CORS), e.g. ["https://app.example"]. */
  allowedOrigins?: string[];
  /** More settings for the server this destination creates (limits, timeouts, allowedHosts). */
  serverOptions?: Omit<WebServerOptions, 'host' | 'port' | 'auth' | 'logger' | 'allowedOrigins'>;
  /** Logger of the server this destination creates. Default: the library's (stderr, warn). */
  logger?: Logger;
}

export class HlsDestination extends EventEmitter<DestinationEvents> implements Destination {
  readonly kind = 'hls';
  readonly live = true;
  readonly path: string;
  readonly directory: string | undefined;
  readonly server: WebServer | undefined;
  private readonly ownsServer: boolean;
  private readonly mount: FileMount | undefined;
  private readonly status: DestinationStatus;
  private readonly opts: { partMs: number; segmentMs: number; windowSegments: number };
  /** An ES private field: inspecting or serializing the destination never shows them. */
  readonly #secrets: string[];
  private window: LiveWindow | undefined;
  private writer: DirectoryWriter | undefined;
  private gate = new KeyframeGate();
  private link: DestinationLink | undefined;
  private disposed = false;
  private readonly counters: HlsRequestCounters = { playlists: 0, blockingReloads: 0, badRequests: 0, timeouts: 0, files: 0 };

  constructor(options: HlsDestinationOptions = {}) {
    super();
    const served = options.port !== undefined || options.host !== undefined;
    if (options.server && served) throw new TypeError('HLS: give either server or host/port, not both (a shared server has its own address)');
    if (options.directory !== undefined && (options.server || served || options.auth || options.allowedOrigins)) {
      throw new TypeError('HLS: directory writes files for another server to serve: no server, host, port, auth or allowedOrigins with it');
    }
    this.opts = {
      partMs: options.partMs ?? 250,
      segmentMs: options.segmentMs ?? 2000,
      windowSegments: options.windowSegments ?? 6,
    };
    const { partMs, segmentMs, windowSegments } = this.opts;
    if (!Number.isFinite(partMs) || partMs < 50 || partMs > 2000) throw new RangeError(`HLS partMs must be in 50..2000, got ${partMs}`);
    if (!Number.isFinite(segmentMs) || segmentMs < partMs || segmentMs > 20_000) throw new RangeError(`HLS segmentMs must be in partMs..20000, got ${segmentMs}`);
    if (!Number.isInteger(windowSegments) || windowSegments < 3 || windowSegments > 100) throw new RangeError(`HLS windowSegments must be an integer in 3..100, got ${windowSegments}`);
    this.path = options.path ?? '/live';
    this.directory = options.directory;
    this.#secrets = webSecrets(options.auth);
    this.ownsServer = options.directory === undefined && options.server === undefined;
    if (options.directory === undefined) {
      this.server = options.server ?? new WebServer({
        ...options.serverOptions,
        host: options.host ?? '127.0.0.1',
        port: options.port ?? 8889,
        ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
        logger: options.logger ?? defaultLogger(),
      });
      this.mount = this.server.mountFiles(this.path, {
        ...(options.auth ? { auth: options.auth } : {}),
        handle: (name, query) => hlsReply(this.window, name, query, { private: this.mount?.auth !== undefined, counters: this.counters }),
      });
    }
    this.status = new DestinationStatus(this, this.kind, this.directory !== undefined ? `hls:${this.directory}` : `hls:${this.path}`);
  }

  get name(): string {
    return this.status.name;
  }

  get state() {
    return this.status.state;
  }

  /** The playlist: http://127.0.0.1:8889/live/index.m3u8 (final once listening), or its path in `directory`. */
  get url(): string {
    if (this.directory !== undefined) return join(this.directory, PLAYLIST_NAME);
    return this.server!.url(`${this.path}/${PLAYLIST_NAME}`);
  }

  /** Binds the server's port (nothing in directory mode); resolves with the playlist's URL. */
  async listen(): Promise<string> {
    if (this.server) await this.server.listen();
    return this.url;
  }

  prepare(): Promise<void> {
    return this.listen().then(() => undefined);
  }

  async open(video: VideoInfo, link: DestinationLink): Promise<void> {
    if (this.disposed) throw new Error('HlsDestination was disposed');
    this.link = link;
    for (const s of this.#secrets) link.addSecret(s);
    this.status.reset();
    this.status.to('opening');
    try {
      await this.listen();
      const fps = video.fps > 0 ? video.fps : 30;
      // A new session on the same frame rate continues the playlist (a discontinuity); another
      // rate changes the part target, which a playlist may not: start a new one.
      if (this.window && this.window.fps === fps) this.window.restart();
      else {
        this.window?.close();
        this.window = new LiveWindow({ ...this.opts, fps, lowLatency: this.directory === undefined, requestKeyframe: () => this.link?.requestKeyframe() });
        if (this.directory === undefined) this.window.on('file', (name, chunks) => {
          if (!/-s\d+\.m4s$/.test(name)) this.status.bytesOut += chunks.reduce((n, c) => n + c.length, 0);
        });
      }
      if (this.directory !== undefined) {
        await this.writer?.close();
        this.writer = await DirectoryWriter.create(this.directory, this.window, (err) => this.status.error(err), (n) => (this.status.bytesOut += n));
      }
    } catch (err) {
      this.status.to('failed');
      throw this.status.error(err as Error);
    }
    this.gate.reset();
    this.status.to('streaming');
    link.log.info({ url: this.url }, 'serving low-latency HLS');
  }

  write(au: AccessUnit): boolean {
    this.status.unitsIn++;
    if (!this.window || !this.gate.pass(au.keyframe)) {
      this.status.unitsDropped++;
      return true;
    }
    this.window.push(au);
    return true;
  }

  async close(): Promise<void> {
    if (this.status.is('idle')) return;
    this.status.to('closing');
    this.window?.end();
    await this.writer?.close();
    this.writer = undefined;
    this.status.to('idle');
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.status.is('idle')) await this.close();
    this.window?.close();
    if (this.mount) this.server!.unmountFiles(this.mount);
    if (this.ownsServer) await this.server!.close();
  }

  stats(): DestinationStats {
    return this.status.stats();
  }

  /** What players asked of the server since it was made (nothing in directory mode). */
  hlsStats(): HlsRequestCounters & { mediaSequence: number; parts: number } {
    const live = this.window?.live;
    return { ...this.counters, mediaSequence: live?.msn ?? -1, parts: this.window?.nextPartIndex ?? 0 };
  }
}
