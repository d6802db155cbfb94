// The test pattern as a live source: frames on a camera's drift-free schedule, iterated the
// way LiveSource's frames are, so `for await (const f of source) sky.put(f, f)` works for both.
import type { Frame } from '../frame.js';
import { TestPattern } from './test-pattern.js';

export interface PatternSourceOptions {
  width?: number;
  height?: number;
  fps?: number;
  /** Stop after this many frames (default: until stop()). */
  frames?: number;
  /** Aborting it ends the iteration, like stop(). */
  signal?: AbortSignal;
}

/** A frame with its capture time (epoch ms) and index. */
export interface TimedFrame extends Frame {
  timestamp: number;
  index: number;
}

export class PatternSource implements AsyncIterable<TimedFrame> {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  private readonly limit: number;
  private readonly pattern: TestPattern;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(options: PatternSourceOptions = {}) {
    this.width = options.width ?? 1280;
    this.height = options.height ?? 720;
    this.fps = options.fps ?? 30;
    this.limit = options.frames ?? Infinity;
    if (!(this.fps > 0 && this.fps <= 1000)) throw new RangeError(`PatternSource: expected fps in (0, 1000], got ${options.fps}`);
    this.pattern = new TestPattern(this.width, this.height);
    if (options.signal?.aborted) this.stopped = true;
    options.signal?.addEventListener('abort', () => this.stop(), { once: true });
  }

  /** Ends the iteration (the frame being waited for is not produced). */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TimedFrame> {
    const t0 = performance.now();
    const epoch0 = Date.now();
    for (let index = 0; index < this.limit && !this.stopped; index++) {
      const dueMs = (index * 1000) / this.fps;
      const wait = t0 + dueMs - performance.now();
      if (wait > 0) await this.sleep(wait);
      if (this.stopped) return;
      // Capture times on the camera's grid: the video plays at exactly `fps`.
      const timestamp = epoch0 + dueMs;
      yield { ...this.pattern.frame(index, timestamp), timestamp, index };
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
