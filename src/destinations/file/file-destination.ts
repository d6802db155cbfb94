// FileDestination: records the encoded stream to an MP4 or MKV file that stays playable if the
// process dies (fragmented MP4 / non-streamable Matroska), plus a timestamps sidecar. The file's
// timeline starts at 0 with the first unit written, which is always a keyframe.
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import { aborted } from '../../abort.js';
import { EncodedSink, type FinishResult } from '../../gst/encoded-sink.js';
import type { GstError } from '../../gst/pipeline.js';
import type { AccessUnit } from '../../h264/access-unit.js';
import { DestinationError, type Destination, type DestinationEvents, type DestinationLink, type DestinationState, type DestinationStats, type VideoInfo } from '../destination.js';
import { backlog, DrainPoll } from '../drain.js';
import { DestinationStatus, KeyframeGate } from '../status.js';
import { containerOf, fileMuxerTail, prepareFile, sessionPath, sidecarPath, type Container } from './file-output.js';
import { TimestampsSidecar } from './timestamps-sidecar.js';

export interface FileDestinationOptions {
  /**
   * Output file. Opens after the first get "-2", "-3", … before the extension, so a new
   * session never overwrites a recording; "{session}" in the path is replaced instead.
   */
  path: string;
  /** Default: from the extension (.mkv -> mkv), else mp4. */
  container?: Container;
  /** Write `<file>.timestamps.csv` beside the video (capture time of every frame). Default true. */
  sidecar?: boolean;
  /** MP4 fragment length, ms: at most this much is lost when the process is killed. Default 1000. */
  fragmentMs?: number;
}

/** write() returns false while appsrc holds this many buffers or more. */
export const FILE_QUEUE_LIMIT = 8;
/** Longest wait for the file pipeline to open the file. */
const START_TIMEOUT_MS = 10_000;

/** Longest dispose() waits for a close it has to do itself. */
const DISPOSE_TIMEOUT_MS = 5000;

export class FileDestination extends EventEmitter<DestinationEvents> implements Destination {
  readonly kind = 'file';
  readonly live = false;
  readonly container: Container;
  readonly name: string;
  private readonly template: string;
  private readonly writeSidecar: boolean;
  private readonly fragmentMs: number;
  private readonly status: DestinationStatus;
  private readonly gate = new KeyframeGate();
  private sessions = 0;
  private current: string | undefined;
  private sidecar: TimestampsSidecar | undefined;
  private sink: EncodedSink | undefined;
  private log: Logger | undefined;
  private link: DestinationLink | undefined;
  /** The producer's PTS of the first unit written: the file's 0. */
  private ptsBase = 0;
  private written = 0;
  private keyframeAsked = false;
  private closing: Promise<void> | undefined;
  private opening: Promise<void> | undefined;
  private readonly drain = new DrainPoll(
    () => !this.sink || this.sink.level() < FILE_QUEUE_LIMIT / 2,
    () => this.emit('drain'),
  );
  /** Size of the file when it was closed (stats after close). */
  private closedBytes = 0;

  constructor(options: FileDestinationOptions) {
    super();
    if (typeof options?.path !== 'string' || options.path.length === 0) {
      throw new TypeError(`FileDestination needs a path (string), got ${JSON.stringify(options?.path)}`);
    }
    this.container = containerOf(options.path, options.container);
    this.template = options.path;
    this.writeSidecar = options.sidecar ?? true;
    this.fragmentMs = options.fragmentMs ?? 1000;
    if (!(this.fragmentMs > 0)) throw new RangeError(`fragmentMs must be positive, got ${this.fragmentMs}`);
    this.name = `file:${options.path}`;
    this.status = new DestinationStatus(this, this.kind, this.name);
  }

  get state(): DestinationState {
    return this.status.state;
  }

  /** The file the current (or last) open() writes. */
  get path(): string | undefined {
    return this.current;
  }

  /** The sidecar of the current (or last) open(). */
  get timestampsPath(): string | undefined {
    return this.current && this.writeSidecar ? sidecarPath(this.current) : undefined;
  }

  open(video: VideoInfo, link: DestinationLink): Promise<void> {
    if (!this.status.is('idle')) return Promise.reject(new Error(`${this.name}: open() while ${this.status.state} (close() it first)`));
    const opening = this.openFile(video, link);
    this.opening = opening;
    return opening.finally(() => {
      if (this.opening === opening) this.opening = undefined;
    });
  }

  private async openFile(video: VideoInfo, link: DestinationLink): Promise<void> {
    this.status.reset();
    this.status.to('opening');
    this.link = link;
    this.log = link.log;
    this.gate.reset();
    this.ptsBase = 0;
    this.written = 0;
    this.keyframeAsked = false;
    this.closedBytes = 0;
    const path = sessionPath(this.template, ++this.sessions);
    try {
      await prepareFile(path, this.writeSidecar);
      if (!this.status.is('opening')) return; // closed meanwhile
      this.current = path;
      const sink = new EncodedSink(video, fileMuxerTail(this.container, this.fragmentMs));
      this.sink = sink;
      sink.set('filesink', 'location', path);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the file pipeline did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
        sink.start({
          onStarted: () => {
            clearTimeout(timer);
            resolve();
          },
          onError: (err) => {
            clearTimeout(timer);
            if (this.status.is('opening')) reject(err);
            else this.failed(err);
          },
        });
      });
      // The sidecar only once the file is open: a failed open leaves neither behind.
      if (this.writeSidecar) this.sidecar = new TimestampsSidecar(sidecarPath(path));
    } catch (err) {
      this.release();
      if (!this.status.is('opening')) return; // closed meanwhile: nothing to report
      // The rejection reports it: no 'error' event as well.
      const e = new DestinationError(this.name, err as Error);
      this.status.lastError = e.message;
      this.status.to('failed');
      throw e;
    }
    if (!this.status.is('opening')) return this.release(); // closed meanwhile
    this.log.info({ path, container: this.container, width: video.width, height: video.height, framerate: video.framerate }, 'recording to file');
    this.status.to('streaming');
  }

  write(au: AccessUnit): boolean {
    const sink = this.sink;
    if (!sink || !this.status.is('streaming')) {
      // Nowhere to put it (not open, failed, closing): dropped, never held by the producer.
      this.status.unitsIn++;
      this.status.unitsDropped++;
      return true;
    }
    if (!this.gate.open && !au.keyframe) {
      this.status.unitsIn++;
      this.status.unitsDropped++;
      if (!this.keyframeAsked) {
        this.keyframeAsked = true;
        this.link?.requestKeyframe();
      }
      return true;
    }
    if (sink.level() >= FILE_QUEUE_LIMIT) {
      this.drain.arm();
      return false;
    }
    this.gate.pass(au.keyframe);
    this.status.unitsIn++;
    if (this.written === 0) this.ptsBase = au.ptsNs;
    const pts = au.ptsNs - this.ptsBase;
    this.sidecar?.add(au.captureMs, pts);
    sink.push(au, pts);
    this.written++;
    return true;
  }

  close(signal: AbortSignal): Promise<void> {
    // A second close() while one runs waits for that one.
    this.closing ??= this.finish(signal).finally(() => (this.closing = undefined));
    return this.closing;
  }

  private async finish(signal: AbortSignal): Promise<void> {
    // Closing while the file opens: let the open end first (it is bounded), then close that.
    if (this.opening) await Promise.race([this.opening.catch(() => undefined), aborted(signal)]);
    if (this.status.is('idle')) return;
    this.drain.cancel();
    const sink = this.sink;
    if (sink && this.status.is('streaming')) {
      this.status.to('closing');
      const result: FinishResult = await sink.finish(signal);
      if (result === 'aborted') this.log?.warn({ path: this.current }, 'the file was not finished in time; closed anyway (it plays up to its last fragment)');
      else if (result === 'error') this.log?.warn({ path: this.current }, 'the file pipeline failed while finishing');
    }
    this.release();
    this.status.to('idle');
  }

  /** Checks that the next file can be written, so warmup accepts no frames for a file that cannot be. */
  async prepare(): Promise<void> {
    await prepareFile(sessionPath(this.template, this.sessions + 1), this.writeSidecar);
  }

  async dispose(): Promise<void> {
    if (!this.status.is('idle')) await this.close(AbortSignal.timeout(DISPOSE_TIMEOUT_MS));
  }

  stats(): DestinationStats {
    return { ...this.status.stats(backlog(this.sink)), bytesOut: this.bytesOut() };
  }

  private bytesOut(): number {
    if (!this.sink) return this.closedBytes;
    try {
      return this.current ? statSync(this.current).size : 0;
    } catch {
      return 0;
    }
  }

  /** A bus error while recording (disk full, file removed): the file is given up. */
  private failed(err: GstError): void {
    if (!this.status.is('streaming', 'closing')) return;
    this.status.error(err);
    this.log?.error({ err: this.status.lastError, path: this.current }, 'recording failed');
    const producerWaits = this.drain.cancel();
    this.release();
    this.status.to('failed');
    if (producerWaits) this.emit('drain');
  }

  /** Stops the pipeline and closes the sidecar; idempotent. */
  private release(): void {
    this.drain.cancel();
    if (this.sink) {
      this.closedBytes = this.bytesOut();
      this.sink.stop();
      this.sink = undefined;
    }
    this.sidecar?.close();
    this.sidecar = undefined;
  }
}
