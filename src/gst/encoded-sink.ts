// A GStreamer tail fed with encoded access units from Node: appsrc (H.264 byte-stream, one
// access unit per buffer) ! h264parse ! the destination's muxer and sink. One EncodedSink is
// one run of a pipeline: start(), push()..., finish(), stop(). The binding never frees a
// pipeline, so a stopped one goes back to a pool and the next run with the same description
// (the same destination opened again, or reconnecting) plays it again instead of leaking one.
import type { AccessUnit } from '../h264/access-unit.js';
import { type AppSrc, type GstError, Pipeline } from './pipeline.js';

export interface EncodedVideo {
  width: number;
  height: number;
  /** GStreamer fraction, e.g. "30000/1001". */
  framerate: string;
}

export interface EncodedSinkHandlers {
  /** The pipeline reached PAUSED: its sinks opened (files created, connections begun). */
  onStarted?(): void;
  onError(err: GstError): void;
  onEos?(): void;
}

/** How finish() ended: the muxer's EOS came out, the pipeline failed first, or the signal aborted. */
export type FinishResult = 'eos' | 'error' | 'aborted';

const START_CODE = Buffer.from([0, 0, 0, 1]);
/** Capture times remembered for queued units; the queue is bounded far below this by its users. */
const RING = 64;

/**
 * The launch string of a tail. It holds no secret and no path: those are set as properties
 * after parsing (set()), so the description can key the pool and be logged.
 */
export function encodedSinkDescription(video: EncodedVideo, tail: string, streamFormat: 'avc' | 'byte-stream' = 'avc'): string {
  const caps = `video/x-h264,stream-format=byte-stream,alignment=au,width=${video.width},height=${video.height},framerate=${video.framerate}`;
  // block=false: a push never blocks the event loop; the caller bounds the queue with level().
  // No DTS can be pushed and h264parse sets none: mp4mux and flvmux then take DTS = PTS, which
  // is right for streams without reordering (constrained baseline, and any stream without B-frames).
  return [
    `appsrc name=src is-live=true format=time do-timestamp=false block=false caps=${caps}`,
    'h264parse',
    `video/x-h264,stream-format=${streamFormat},alignment=au`,
    tail,
  ].join(' ! ');
}

const idle = new Map<string, Pipeline[]>();
let created = 0;

/** Pipelines built for encoded tails so far, and how many wait idle in the pool. */
export function encodedSinkPool(): { created: number; idle: number } {
  let n = 0;
  for (const list of idle.values()) n += list.length;
  return { created, idle: n };
}

export class EncodedSink {
  readonly description: string;
  private pipeline: Pipeline | undefined;
  private readonly appsrc: AppSrc;
  private scratch = Buffer.alloc(0);
  private eosWaiter: ((result: FinishResult) => void) | undefined;
  private failed = false;
  /** Capture times of the last RING units pushed, by push index. */
  private readonly captured = new Float64Array(RING);
  /** Buffers pushed in this run. */
  pushed = 0;

  /** Takes an idle pipeline with this description from the pool, or builds one (throws on a parse error). */
  constructor(video: EncodedVideo, tail: string, streamFormat: 'avc' | 'byte-stream' = 'avc') {
    this.description = encodedSinkDescription(video, tail, streamFormat);
    const pooled = idle.get(this.description)?.pop();
    if (pooled) {
      this.pipeline = pooled;
    } else {
      this.pipeline = new Pipeline(this.description);
      created++;
    }
    this.appsrc = this.pipeline.appsrc('src');
  }

  get running(): boolean {
    return this.pipeline !== undefined;
  }

  /** Sets an element property (a file location, a URL with a key) before start(). */
  set(element: string, property: string, value: string | number | boolean): void {
    this.live().set(element, property, value);
  }

  /** Reads an element property (e.g. rtmp2sink's stats); undefined when it cannot be read. */
  get(element: string, property: string): unknown {
    try {
      return this.pipeline?.element(element)[property];
    } catch {
      return undefined;
    }
  }

  /** Plays the pipeline, watching its bus (one libuv threadpool thread) until stop(). */
  start(handlers: EncodedSinkHandlers): void {
    const pipeline = this.live();
    let started = false;
    pipeline.play({
      onStarted: () => {
        // PAUSED, then PLAYING: report once.
        if (started) return;
        started = true;
        handlers.onStarted?.();
      },
      onError: (err) => {
        this.failed = true;
        if (this.eosWaiter) return this.eosWaiter('error');
        handlers.onError(err);
      },
      onEos: () => {
        if (this.eosWaiter) return this.eosWaiter('eos');
        handlers.onEos?.();
      },
    });
  }

  /**
   * Queues one access unit as an Annex B buffer with `ptsNs` (the pipeline's running time).
   * Never blocks: check level() first to bound the queue. False once stopped.
   */
  push(au: AccessUnit, ptsNs: number): boolean {
    if (!this.pipeline) return false;
    let size = 0;
    for (const n of au.nalus) size += START_CODE.length + n.length;
    // The binding copies what is pushed, so one scratch buffer serves every unit.
    if (this.scratch.length < size) this.scratch = Buffer.allocUnsafe(Math.max(size, this.scratch.length * 2));
    let off = 0;
    for (const n of au.nalus) {
      off += START_CODE.copy(this.scratch, off);
      off += n.copy(this.scratch, off);
    }
    this.appsrc.push(this.scratch.subarray(0, size), Math.max(0, Math.round(ptsNs)));
    this.captured[this.pushed % RING] = au.captureMs;
    this.pushed++;
    return true;
  }

  /**
   * What appsrc still holds: buffers, bytes, and the capture time of the oldest of them
   * (undefined when empty, or when more are queued than remembered).
   */
  queued(): { buffers: number; bytes: number; oldestCaptureMs: number | undefined } {
    const buffers = this.level();
    let bytes = 0;
    try {
      if (this.pipeline && buffers > 0) bytes = this.appsrc.levelBytes();
    } catch {
      bytes = 0;
    }
    const oldest = buffers > 0 && buffers <= Math.min(RING, this.pushed) ? this.captured[(this.pushed - buffers) % RING] : undefined;
    return { buffers, bytes, oldestCaptureMs: oldest };
  }

  /** Buffers appsrc holds that the streaming thread has not taken yet (0 once stopped). */
  level(): number {
    if (!this.pipeline) return 0;
    try {
      return this.appsrc.level();
    } catch {
      return 0;
    }
  }

  /**
   * Sends EOS and waits for it to come out of the sink (a muxer then writes its index: moov,
   * Cues), bounded by `signal`. A run that pushed nothing ends at once: an EOS through a muxer
   * that never got a buffer may never come out.
   */
  finish(signal: AbortSignal): Promise<FinishResult> {
    const pipeline = this.pipeline;
    if (!pipeline || this.failed) return Promise.resolve('error');
    if (this.pushed === 0) return Promise.resolve('eos');
    if (signal.aborted) return Promise.resolve('aborted');
    return new Promise<FinishResult>((resolve) => {
      const done = (result: FinishResult) => {
        this.eosWaiter = undefined;
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const onAbort = () => done('aborted');
      signal.addEventListener('abort', onAbort, { once: true });
      this.eosWaiter = done;
      pipeline.sendEos();
    });
  }

  /**
   * To NULL (files closed, connections dropped) and back to the pool, unless `reuse` is false (a
   * sink that cannot be trusted to work again: srtsink, once a connect of it went unanswered).
   * Safe to call twice.
   */
  stop(reuse = true): void {
    const pipeline = this.pipeline;
    if (!pipeline) return;
    this.pipeline = undefined;
    this.eosWaiter?.('aborted');
    pipeline.stop();
    // A pipeline whose element failed is not used again: librtmp's rtmpsink, for one, publishes
    // nothing after a refused key even once reset to NULL.
    if (this.failed || !reuse) return;
    let list = idle.get(this.description);
    if (!list) idle.set(this.description, (list = []));
    list.push(pipeline);
  }

  private live(): Pipeline {
    if (!this.pipeline) throw new Error('this encoded sink was stopped');
    return this.pipeline;
  }
}
