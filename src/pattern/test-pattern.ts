// An animated test pattern drawn into a BGR buffer the way a vision program draws boxes and
// labels: a gradient, a moving "detection" box, a frame counter and a clock. npm start's demo,
// the examples and `gst-skyline --from pattern` stream it.
import type { Frame } from '../frame.js';
import { drawText, fillRect } from './bitmap-font.js';

export class TestPattern {
  private readonly background: Buffer;
  private readonly data: Buffer;

  constructor(readonly width = 1280, readonly height = 720) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16) {
      throw new RangeError(`TestPattern: expected integer width and height of at least 16, got ${width}x${height}`);
    }
    this.background = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        this.background[i] = Math.round((x / width) * 160); // B
        this.background[i + 1] = Math.round((y / height) * 120); // G
        this.background[i + 2] = 40; // R
      }
    }
    this.data = Buffer.alloc(this.background.length);
  }

  /** Draws frame `index` at wall time `now` (ms). The returned frame's buffer is reused by the next call. */
  frame(index: number, now = Date.now()): Frame {
    this.background.copy(this.data);
    const f: Frame = { data: this.data, width: this.width, height: this.height, format: 'BGR' };
    const box = Math.round(this.height / 5);
    const span = Math.max(1, this.width - box);
    const pos = index % (2 * span);
    const x = pos < span ? pos : 2 * span - pos;
    const y = Math.round((this.height - box) / 2 + Math.sin(index / 20) * (this.height / 4));
    const t = Math.max(1, Math.round(box / 24));
    const orange = [255, 200, 0] as const;
    fillRect(f, x, y, box, t, orange);
    fillRect(f, x, y + box - t, box, t, orange);
    fillRect(f, x, y, t, box, orange);
    fillRect(f, x + box - t, y, t, box, orange);
    const scale = Math.max(1, Math.round(this.height / 120));
    drawText(f, `#${index}`, 20, 20, scale, [255, 255, 255]);
    drawText(f, clock(now), 20, 20 + 10 * scale, scale, [255, 255, 255]);
    return f;
  }
}

/** HH:MM:SS.mmm in local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
