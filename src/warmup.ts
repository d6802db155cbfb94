// Warmup: the frames put before the session's fps or size is known. They are kept (not
// thrown away, as the Python original does) and streamed first once the session opens.
import { FpsMeter } from './fps.js';
import type { Slot } from './frame-queue.js';

export class Warmup {
  /** Frames kept so far, oldest first, already in GStreamer's layout. */
  readonly frames: Slot[] = [];
  private bytes = 0;
  /** Set when fps is to be measured. */
  private readonly meter: FpsMeter | undefined;

  constructor(measureFps: boolean, frames: number, private readonly budgetBytes: number) {
    this.meter = measureFps ? new FpsMeter(frames) : undefined;
  }

  /** Frames the meter wants (1 when only the size is measured). */
  get target(): number {
    return this.meter?.frames ?? 1;
  }

  /** Keeps a frame; true when warmup is over (fps measured, or only the size was wanted). */
  add(slot: Slot): boolean {
    this.frames.push(slot);
    this.bytes += slot.data.length;
    this.meter?.add(slot.captureMs);
    return !this.meter || this.meter.done || this.full;
  }

  /**
   * The memory budget ends warmup early, with fps from the frames so far, rather than
   * dropping frames that were already accepted.
   */
  get full(): boolean {
    return this.bytes >= this.budgetBytes && (this.meter?.samples ?? 0) >= 2;
  }

  /** Measured fps: NaN until two frames came; `fallback` then. */
  fps(fallback = Number.NaN): number {
    const fps = this.meter?.fps ?? Number.NaN;
    return Number.isNaN(fps) ? fallback : fps;
  }

  get samples(): number {
    return this.meter?.samples ?? this.frames.length;
  }

  /** Hands the frames over (to the queue) and forgets them. */
  take(): Slot[] {
    const frames = this.frames.splice(0);
    this.bytes = 0;
    return frames;
  }
}
