/**
 * A stream's place on a web server, for any SkyLine that gets access units in Node: creates
 * the server (or shares one given), mounts the stream, and forwards what the encoder makes.
 * WebSkyLine is this plus a SkyLine; RTSPSkyLine uses it for its `web` option.
 */
import type { Logger } from 'pino';
import type { AccessUnit } from '../h264/access-unit.js';
import type { WebAuthOptions } from './auth.js';
import type { WebStream, WebStreamStats } from './stream.js';
import { WebServer, type WebServerOptions } from './web-server.js';

export interface WebPreviewOptions {
  /** Port of the server this preview creates; 0 picks a free one. Default 8889. Not with `server`. */
  port?: number;
  /** Address of the server this preview creates. Default 127.0.0.1. Not with `server`. */
  host?: string;
  /** Path of the page. Default "/live". */
  path?: string;
  /** Serve from this existing server (several streams share one, on different paths). */
  server?: WebServer;
  /** Who may watch: { username, password } (Basic) or { token }. */
  auth?: WebAuthOptions;
  /** Name on the page and the index. Default: the path without its slash. */
  name?: string;
  /** More settings for the server this preview creates (limits, timeouts). */
  serverOptions?: Omit<WebServerOptions, 'host' | 'port' | 'auth' | 'logger'>;
}

export class WebPreview {
  readonly server: WebServer;
  readonly stream: WebStream;
  private readonly ownsServer: boolean;

  constructor(options: WebPreviewOptions, logger: Logger, onKeyframeRequest: () => void, who = 'web preview') {
    if (options.server && (options.port !== undefined || options.host !== undefined)) {
      throw new TypeError(`${who}: give either server or host/port, not both (a shared server has its own address)`);
    }
    this.ownsServer = options.server === undefined;
    this.server = options.server ?? new WebServer({ ...options.serverOptions, host: options.host ?? '127.0.0.1', port: options.port ?? 8889, logger });
    this.stream = this.server.mount(options.path ?? '/live', {
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.auth ? { auth: options.auth } : {}),
      onKeyframeRequest,
    });
  }

  get path(): string {
    return this.stream.path;
  }

  /** The page's URL (final once listen() resolved when the port was 0). No credentials in it. */
  get url(): string {
    return this.server.url(this.stream.path);
  }

  async listen(): Promise<string> {
    await this.server.listen();
    return this.url;
  }

  push(au: AccessUnit): void {
    this.stream.pushAccessUnit(au);
  }

  setFrameRate(fps: number | undefined): void {
    this.stream.setFrameRate(fps);
  }

  endStream(reason: string): void {
    this.stream.endStream(reason);
  }

  stats(): WebStreamStats {
    return this.stream.stats();
  }

  async close(): Promise<void> {
    this.server.unmount(this.stream);
    if (this.ownsServer) await this.server.close();
  }
}

/** Secrets in web auth options, for a SkyLine's redactor. */
export function webSecrets(auth: WebAuthOptions | undefined): string[] {
  if (!auth) return [];
  return 'token' in auth ? [auth.token] : [auth.password];
}
