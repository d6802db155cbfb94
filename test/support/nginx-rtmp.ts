/**
 * A real RTMP relay for tests and benchmarks: nginx with the RTMP module
 * (Debian packages nginx and libnginx-mod-rtmp), run with its own config, pid,
 * logs and temp files in a fresh temp dir, listening on 127.0.0.1.
 *
 *   const relay = await NginxRtmp.start();
 *   relay.url('KEY')            // rtmp://127.0.0.1:PORT/live/KEY
 *   await relay.kill();         // the relay crashes (SIGKILL)
 *   await relay.restart();      // back on the same port
 *   await relay.dispose();      // stop it and remove the temp dir
 *
 * Apps can refuse publishes, to test rejections: `publish: 'none'` is nginx's
 * `deny publish all`, and `publish: (key) => boolean` asks a small HTTP server
 * of the harness through nginx's `on_publish` (non-2xx answer = refused; the
 * function may be async, e.g. to hold a publish pending).
 *
 * nginx runs as a single process (`master_process off`) so one signal stops all
 * of it; on Linux it is started through `setpriv --pdeathsig KILL` so it dies
 * with the test process even when that is killed hard; and every instance still
 * running when the process exits is killed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, listenOnLoopback } from './ports.js';

const MODULE_PATHS = ['/usr/lib/nginx/modules/ngx_rtmp_module.so', '/usr/lib64/nginx/modules/ngx_rtmp_module.so'];

export interface RtmpAppOptions {
  /**
   * Who may publish: 'all' (default); 'none' (nginx `deny publish all`, which
   * acknowledges the publish and then drops the connection); or a check of the
   * stream key through `on_publish` (false = HTTP 403 = publish refused).
   */
  publish?: 'all' | 'none' | ((streamKey: string) => boolean | Promise<boolean>);
  /** Record every publish to its own FLV file (see `recordings()`), e.g. to inspect what each connection began with. */
  record?: boolean;
}

export interface NginxRtmpOptions {
  /** Fixed port; default a free one. */
  port?: number;
  /** Applications by name; default `{ live: {} }`. */
  apps?: Record<string, RtmpAppOptions>;
  /** How long to wait for nginx to accept connections; default 10 s. */
  startTimeoutMs?: number;
}

export interface PublishAttempt {
  app: string;
  streamKey: string;
  allowed: boolean;
}

const live = new Set<NginxRtmp>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: a signal is all there is time for.
  process.on('exit', () => {
    for (const relay of live) relay.killNow();
  });
}

function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class NginxRtmp {
  readonly host = '127.0.0.1';
  /** Publishes seen by `on_publish` checks, in order (apps with a publish function only). */
  readonly publishAttempts: PublishAttempt[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private authServer: HttpServer | undefined;
  private authPort = 0;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly apps: Record<string, RtmpAppOptions>,
    private readonly startTimeoutMs: number,
  ) {}

  /** nginx and its RTMP module are installed. */
  static available(): boolean {
    return MODULE_PATHS.some((p) => existsSync(p)) && spawnSync('nginx', ['-v']).status === 0;
  }

  static async start(options: NginxRtmpOptions = {}): Promise<NginxRtmp> {
    installExitHook();
    const dir = await mkdtemp(join(tmpdir(), 'nginx-rtmp-'));
    const port = options.port ?? (await freePort());
    const relay = new NginxRtmp(dir, port, options.apps ?? { live: {} }, options.startTimeoutMs ?? 10_000);
    try {
      await relay.startAuthServer();
      await relay.launch();
    } catch (err) {
      await relay.dispose();
      throw err;
    }
    return relay;
  }

  /** Publish/play URL of a stream on this relay. */
  url(streamKey: string, app = 'live'): string {
    return `rtmp://${this.host}:${this.port}/${app}/${streamKey}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Start again on the same port after stop()/kill(). */
  async restart(): Promise<void> {
    if (this.child) await this.stop();
    await this.launch();
  }

  /** Graceful stop: SIGTERM, then SIGKILL if nginx is still there after graceMs. */
  async stop(graceMs = 3000): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    child.kill('SIGCONT'); // a frozen relay must run to act on SIGTERM
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** The relay crashes: SIGKILL, connections drop without goodbye. */
  async kill(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** The relay hangs (SIGSTOP): connections stay open but nothing is read or answered. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  /** Undo freeze() (SIGCONT). */
  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  /** Synchronous last resort for process exit. */
  killNow(): void {
    try {
      this.child?.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Stop nginx and the auth server and remove the temp dir. Safe to call twice. */
  async dispose(): Promise<void> {
    await this.stop();
    live.delete(this);
    if (this.authServer) {
      const srv = this.authServer;
      this.authServer = undefined;
      srv.closeAllConnections();
      await new Promise<void>((r) => srv.close(() => r()));
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  async errorLog(): Promise<string> {
    return readFile(join(this.dir, 'error.log'), 'utf8').catch(() => '');
  }

  /** FLV files recorded by apps with `record: true`, oldest first. */
  async recordings(): Promise<string[]> {
    const recDir = join(this.dir, 'record');
    const names = await readdir(recDir).catch(() => [] as string[]);
    return names
      .filter((n) => n.endsWith('.flv'))
      .sort()
      .map((n) => join(recDir, n));
  }

  private config(): string {
    const appBlocks = Object.entries(this.apps).map(([name, app]) => {
      const lines = ['live on;', 'record off;'];
      if (app.publish === 'none') lines.push('deny publish all;');
      if (typeof app.publish === 'function') lines.push(`on_publish http://127.0.0.1:${this.authPort}/${name};`);
      if (app.record) {
        lines[1] = 'record all;';
        // record_unique: one file per publish, named KEY-<epoch seconds>.flv.
        lines.push(`record_path ${join(this.dir, 'record')};`, 'record_unique on;');
      }
      return `    application ${name} {\n${lines.map((l) => `      ${l}`).join('\n')}\n    }`;
    });
    const modulePath = MODULE_PATHS.find((p) => existsSync(p)) ?? MODULE_PATHS[0];
    return [
      `load_module ${modulePath};`,
      'daemon off;',
      'master_process off;',
      `pid ${join(this.dir, 'nginx.pid')};`,
      `error_log ${join(this.dir, 'error.log')} info;`,
      'events { worker_connections 256; }',
      'rtmp {',
      '  server {',
      `    listen ${this.host}:${this.port};`,
      '    chunk_size 4096;',
      ...appBlocks,
      '  }',
      '}',
      '',
    ].join('\n');
  }

  private async startAuthServer(): Promise<void> {
    if (!Object.values(this.apps).some((a) => typeof a.publish === 'function')) return;
    const srv = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const app = form.get('app') ?? '';
        const streamKey = form.get('name') ?? '';
        const check = this.apps[app]?.publish;
        const allowed = typeof check === 'function' ? await Promise.resolve().then(() => check(streamKey)).catch(() => false) : true;
        this.publishAttempts.push({ app, streamKey, allowed });
        res.writeHead(allowed ? 200 : 403, { 'content-length': '0' }).end();
      });
    });
    this.authPort = await listenOnLoopback(srv);
    this.authServer = srv;
  }

  private async launch(): Promise<void> {
    const confPath = join(this.dir, 'nginx.conf');
    await mkdir(join(this.dir, 'record'), { recursive: true });
    await writeFile(confPath, this.config());
    const args = ['-c', confPath, '-p', `${this.dir}/`, '-e', join(this.dir, 'error.log')];
    const usePdeathsig = process.platform === 'linux' && spawnSync('setpriv', ['--version']).status === 0;
    const child = usePdeathsig
      ? spawn('setpriv', ['--pdeathsig', 'KILL', 'nginx', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn('nginx', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4000);
    });
    let hasExited = false;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        hasExited = true;
        if (this.child === child) this.child = undefined;
        resolve();
      });
      child.once('error', () => {
        hasExited = true;
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    this.child = child;
    live.add(this);

    const deadline = Date.now() + this.startTimeoutMs;
    while (Date.now() < deadline) {
      if (hasExited) break;
      if (await canConnect(this.port, this.host)) {
        if (!hasExited) return;
        break;
      }
      await sleep(50);
    }
    const why = hasExited ? 'exited' : `did not accept connections within ${this.startTimeoutMs} ms`;
    this.killNow();
    await this.exited;
    const log = (await this.errorLog()).split('\n').slice(-10).join('\n');
    throw new Error(`nginx-rtmp on port ${this.port} ${why}\n${stderr}\n${log}`.trim());
  }
}
