// Frame-rate measurement during warmup, and frame rates as GStreamer fractions.

/** Measures the rate of frames from their capture timestamps (ms). */
export class FpsMeter {
  private first = NaN;
  private last = NaN;
  private count = 0;

  constructor(readonly frames: number) {}

  add(timestampMs: number): void {
    if (this.count === 0) this.first = timestampMs;
    this.last = timestampMs;
    this.count++;
  }

  get done(): boolean {
    return this.count >= this.frames;
  }

  get samples(): number {
    return this.count;
  }

  /** Frames per second over the samples so far (mean interval), or NaN with fewer than two. */
  get fps(): number {
    const span = this.last - this.first;
    if (this.count < 2 || !(span > 0)) return NaN;
    return Math.round(((this.count - 1) * 1000 * 1000) / span) / 1000;
  }
}

/**
 * fps as the fraction caps want: whole rates as n/1, the NTSC family (29.97, 59.94, 23.976)
 * as n/1001, anything else as the simplest fraction within 0.001 %.
 */
export function fpsFraction(fps: number): string {
  if (!Number.isFinite(fps) || fps <= 0) throw new RangeError(`fps must be a positive number, got ${fps}`);
  const whole = Math.round(fps);
  if (whole > 0 && Math.abs(whole - fps) <= fps * 1e-4) return `${whole}/1`;
  const ntsc = Math.round(fps * 1.001);
  if (ntsc > 0 && Math.abs((ntsc * 1000) / 1001 - fps) <= fps * 1e-4) return `${ntsc * 1000}/1001`;
  for (let d = 2; d <= 1000; d++) {
    const n = Math.round(fps * d);
    if (n > 0 && Math.abs(n / d - fps) <= fps * 1e-5) return `${n}/${d}`;
  }
  return `${Math.round(fps * 1000)}/1000`;
}
