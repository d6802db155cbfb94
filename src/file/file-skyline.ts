// FileSkyLine: records the stream to an MP4 or MKV file that stays playable if the process dies
// (fragmented MP4 / non-streamable Matroska), plus a timestamps sidecar: a SkyLine with one
// built-in FileDestination.
import { FileDestination } from '../destinations/file/file-destination.js';
import type { Container } from '../destinations/file/file-output.js';
import { SkyLine, type SkyLineOptions, type TimestampMode } from '../skyline.js';

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
  private readonly file: FileDestination;

  constructor(options: FileSkyLineOptions) {
    if (typeof options?.path !== 'string' || options.path.length === 0) {
      throw new TypeError(`FileSkyLine needs a path (string), got ${JSON.stringify(options?.path)}`);
    }
    const { timestamps, path, container, sidecar, fragmentMs, ...rest } = options;
    const file = new FileDestination({
      path,
      ...(container !== undefined ? { container } : {}),
      sidecar: sidecar ?? (typeof timestamps === 'boolean' ? timestamps : true),
      ...(fragmentMs !== undefined ? { fragmentMs } : {}),
    });
    // A file has no viewer waiting: x264 frame threads keep both cores busy (figure 2).
    super({ ...rest, ...(typeof timestamps === 'string' ? { timestamps } : {}), frameThreads: options.frameThreads ?? true }, { destination: file });
    this.file = file;
  }

  get container(): Container {
    return this.file.container;
  }

  /** The file the current (or last) session writes. */
  get path(): string | undefined {
    return this.file.path;
  }

  /** The sidecar of the current (or last) session. */
  get timestampsPath(): string | undefined {
    return this.file.timestampsPath;
  }
}
