// FileSkyLine: records the stream to an MP4 or MKV file that stays playable if the
// process dies (fragmented MP4 / streamable Matroska), plus a timestamps sidecar.
import { statSync } from 'node:fs';
import { containerOf, fileMuxerTail, prepareFile, sessionPath, sidecarPath, type Container } from '../destinations/file/file-output.js';
import { TimestampsSidecar } from '../destinations/file/timestamps-sidecar.js';
import type { Pipeline } from '../gst/pipeline.js';
import { SkyLine, type SessionInfo, type SinkSpec, type SkyLineOptions, type StartOptions, type TimestampMode } from '../skyline.js';

export type { Container };

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
    this.container = containerOf(options.path, options.container);
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
    return this.current && this.writeTimestamps ? sidecarPath(this.current) : undefined;
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
    if (this.writeTimestamps) this.sidecar = new TimestampsSidecar(sidecarPath(path));
  }

  protected sink(): SinkSpec {
    return { kind: 'gst', launch: fileMuxerTail(this.container, this.fragmentMs), streamFormat: 'avc' };
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
