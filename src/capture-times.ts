// Capture times of the frames in the encoder, by PTS: an encoded unit coming back gets the true
// capture time of its frame, also with 'frame-rate' timestamps, where PTS is n / fps and says
// nothing about when the frame was taken. A fixed ring: frames leave the encoder in the order
// they went in (no B-frames), so lookups only move forward. No allocation per frame.
const SIZE = 1024;
/** 90 kHz RTP rounding of a PTS: within this, two PTS are the same frame's. */
const SAME_NS = 20_000;

export class CaptureTimes {
  private readonly pts = new Float64Array(SIZE);
  private readonly capture = new Float64Array(SIZE);
  private head = 0;
  private tail = 0;

  /** A frame went into the encoder. */
  add(ptsNs: number, captureMs: number): void {
    if (this.tail - this.head === SIZE) this.head++; // the encoder holds fewer frames than this
    const i = this.tail++ % SIZE;
    this.pts[i] = ptsNs;
    this.capture[i] = captureMs;
  }

  /**
   * The frame whose PTS is within RTP rounding of `ptsNs`: fills `out` with its exact PTS and
   * capture time; leaves `out` as it is (the caller's estimate) when it is not known.
   */
  take(ptsNs: number, out: { ptsNs: number; captureMs: number }): void {
    while (this.head < this.tail) {
      const i = this.head % SIZE;
      const p = this.pts[i]!;
      if (p < ptsNs - SAME_NS) {
        this.head++; // a frame the encoder dropped, or a unit we never saw
        continue;
      }
      if (p > ptsNs + SAME_NS) return;
      this.head++;
      out.ptsNs = p;
      out.captureMs = this.capture[i]!;
      return;
    }
  }

  clear(): void {
    this.head = 0;
    this.tail = 0;
  }
}
