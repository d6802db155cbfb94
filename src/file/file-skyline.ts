// FileSkyLine: records the stream to an MP4 or MKV file that stays playable if the
// process dies (fragmented MP4 / streamable Matroska), plus a timestamps sidecar.
import { statSync } from 'node:fs';
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import type { Pipeline } from '../gst/pipeline.js';
import { SkyLine, type SessionInfo, type SinkSpec, type SkyLineOptions, type StartOptions, type TimestampMode } from '../skyline.js';
import { TimestampsSidecar } from './timestamps-sidecar.js';

export type Container = 'mp4' | 'mkv';

export interface FileSkyLineOptions extends Omit<SkyLineOptions, 'timestamps'> {
  /**
   * Output file. Sessions after the first get "-2", "-3", … before the extension, so a
   * restart never overwrites a recording; "{session}" in the path is replaced instead.
   */
  path: string;
  /** Default: from the extension (.mkv -> mkv), else mp4. */
  container?: Container;
  /** Write `<file>.timestamps.csv` beside the video (capture time of every frame). Default true. */
  sidecar?: boolean;
  /**
   * 'capture' (default) or 'frame-rate': how frames get their PTS (see SkyLineOptions). A
   * boolean is the older spelling of `sidecar`.
   */
  timestamps?: TimestampMode | boolean;
  /** MP4 fragment length, ms: at most this much is lost when the process is killed. Default 1000. */
  fragmentMs?: number;
}

export class FileSkyLine extends SkyLine {
  readonly container: Container;
  private readonly pathTemplate: string;
  private readonly writeTimestamps: boolean;
  private readonly fragmentMs: number;
  private current: string | undefined;
  private sidecar: TimestampsSidecar | undefined;
  /** Index of the last session that opened (the next one is this + 1). */
  private lastSession = 0;

  constructor(options: FileSkyLineOptions) {
    const { timestamps, ...rest } = options ?? ({} as FileSkyLineOptions);
    // A file has no viewer waiting: x264 frame threads keep both cores busy (figure 2).
    super({ ...rest, ...(typeof timestamps === 'string' ? { timestamps } : {}), frameThreads: options?.frameThreads ?? true });
    if (typeof options?.path !== 'string' || options.path.length === 0) {
      throw new TypeError(`FileSkyLine needs a path (string), got ${JSON.stringify(options?.path)}`);
    }
    const container = options.container ?? (extname(options.path).toLowerCase() === '.mkv' ? 'mkv' : 'mp4');
    if (container !== 'mp4' && container !== 'mkv') throw new RangeError(`container must be 'mp4' or 'mkv', got ${JSON.stringify(container)}`);
    this.container = container;
    this.pathTemplate = options.path;
    this.writeTimestamps = options.sidecar ?? (typeof timestamps === 'boolean' ? timestamps : true);
    this.fragmentMs = options.fragmentMs ?? 1000;
  }

  /** The file the current (or last) session writes. */
  get path(): string | undefined {
    return this.current;
  }

  /** The sidecar of the current (or last) session. */
  get timestampsPath(): string | undefined {
    return this.current && this.writeTimestamps ? `${this.current}.timestamps.csv` : undefined;
  }

  /**
   * A session that measures fps opens its file only after the first frames: the file is checked
   * as soon as warmup begins, so no frame is accepted for a file that cannot be written.
   */
  override async startStreaming(options?: StartOptions): Promise<void> {
    await super.startStreaming(options);
    if (this.state !== 'warmup') return; // opened (openDestination checked the file) or failed
    try {
      await prepareFile(sessionPath(this.pathTemplate, this.lastSession + 1), this.writeTimestamps);
    } catch (err) {
      this.fail(err as Error);
      throw err;
    }
  }

  protected override async openDestination(session: SessionInfo): Promise<void> {
    const path = sessionPath(this.pathTemplate, session.index);
    this.lastSession = session.index;
    await prepareFile(path, this.writeTimestamps);
    this.current = path;
    if (this.writeTimestamps) this.sidecar = new TimestampsSidecar(`${path}.timestamps.csv`);
  }

  protected sink(): SinkSpec {
    // Fragmented MP4 (moov up front, a fragment per second) plays up to its last complete
    // fragment when the writer dies. MKV is written non-streamable: clusters go out as they
    // close (a killed file plays up to its last one), and at EOS matroskamux seeks back into
    // the file (filesink is seekable) to fill in Duration, SeekHead and Cues, which a
    // streamable file never gets. filesink unbuffered so each fragment reaches the kernel as
    // the muxer finishes it, not when 64 KB piled up.
    const mux = this.container === 'mp4'
      ? `mp4mux fragment-duration=${this.fragmentMs} streamable=true`
      : 'matroskamux streamable=false';
    return { kind: 'gst', launch: `${mux} ! filesink name=filesink sync=false buffer-mode=unbuffered`, streamFormat: 'avc' };
  }

  protected override configurePipeline(pipeline: Pipeline): void {
    // Set after parsing: paths with spaces or '!' would break a launch string.
    pipeline.set('filesink', 'location', this.current!);
  }

  protected override onFramePushed(captureMs: number, ptsNs: number): void {
    this.sidecar?.add(captureMs, ptsNs);
  }

  protected override bytesDelivered(): number {
    try {
      return this.current ? statSync(this.current).size : 0;
    } catch {
      return 0;
    }
  }

  protected override async closeDestination(): Promise<void> {
    this.sidecar?.close();
    this.sidecar = undefined;
  }
}

/**
 * Creates the missing parent directories of `path` and makes sure the file (and its sidecar) can be
 * created there, by creating them; a file that did not exist before is removed again. Throws an
 * error naming the absolute path otherwise.
 */
async function prepareFile(path: string, sidecar: boolean): Promise<void> {
  const abs = resolve(path);
  try {
    await mkdir(dirname(abs), { recursive: true });
  } catch (err) {
    throw new Error(`cannot record to ${abs}: its directory ${dirname(abs)} cannot be created (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  for (const file of sidecar ? [abs, `${abs}.timestamps.csv`] : [abs]) {
    const existed = await stat(file).then(() => true, () => false);
    try {
      await (await open(file, 'a')).close();
    } catch (err) {
      throw new Error(`cannot record to ${abs}: ${file} cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (!existed) await unlink(file).catch(() => undefined);
  }
}

function sessionPath(template: string, index: number): string {
  if (template.includes('{session}')) return template.split('{session}').join(String(index));
  if (index === 1) return template;
  const ext = extname(template);
  return `${template.slice(0, template.length - ext.length)}-${index}${ext}`;
}
