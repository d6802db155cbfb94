// An annotated moving test pattern, drawn straight into a BGR buffer the way a vision
// program draws boxes and labels: a gradient, a moving box, a frame counter and a clock.
import type { Frame } from 'gst-skyline';

// 5x7 glyphs, one row per string: enough for counters and clocks.
const GLYPHS: Record<string, string[]> = {
  '0': ['01110', '10001', '10011', '10101', '11001', '10001', '01110'],
  '1': ['00100', '01100', '00100', '00100', '00100', '00100', '01110'],
  '2': ['01110', '10001', '00001', '00010', '00100', '01000', '11111'],
  '3': ['11110', '00001', '00001', '01110', '00001', '00001', '11110'],
  '4': ['00010', '00110', '01010', '10010', '11111', '00010', '00010'],
  '5': ['11111', '10000', '11110', '00001', '00001', '10001', '01110'],
  '6': ['00110', '01000', '10000', '11110', '10001', '10001', '01110'],
  '7': ['11111', '00001', '00010', '00100', '01000', '01000', '01000'],
  '8': ['01110', '10001', '10001', '01110', '10001', '10001', '01110'],
  '9': ['01110', '10001', '10001', '01111', '00001', '00010', '01100'],
  ':': ['00000', '01100', '01100', '00000', '01100', '01100', '00000'],
  '.': ['00000', '00000', '00000', '00000', '00000', '01100', '01100'],
  '#': ['01010', '01010', '11111', '01010', '11111', '01010', '01010'],
  ' ': ['00000', '00000', '00000', '00000', '00000', '00000', '00000'],
};

export class TestPattern {
  private readonly background: Buffer;
  private readonly data: Buffer;

  constructor(readonly width = 1280, readonly height = 720) {
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

  /** Draws frame `index` at wall time `now` (ms). The returned frame's buffer is reused. */
  frame(index: number, now = Date.now()): Frame {
    this.background.copy(this.data);
    const box = Math.round(this.height / 5);
    const span = this.width - box;
    const pos = index % (2 * span);
    const x = pos < span ? pos : 2 * span - pos;
    const y = Math.round((this.height - box) / 2 + Math.sin(index / 20) * (this.height / 4));
    this.rect(x, y, box, box, [0, 200, 255], 6); // an orange "detection" box
    const scale = Math.max(2, Math.round(this.height / 120));
    this.text(`#${index}`, 20, 20, scale, [255, 255, 255]);
    const d = new Date(now);
    const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
    this.text(clock, 20, 20 + 10 * scale, scale, [255, 255, 255]);
    return { data: this.data, width: this.width, height: this.height, format: 'BGR' };
  }

  private rect(x0: number, y0: number, w: number, h: number, bgr: number[], thickness: number): void {
    for (let y = y0; y < y0 + h; y++) {
      for (let x = x0; x < x0 + w; x++) {
        const edge = x - x0 < thickness || x0 + w - 1 - x < thickness || y - y0 < thickness || y0 + h - 1 - y < thickness;
        if (edge) this.px(x, y, bgr);
      }
    }
  }

  private text(s: string, x0: number, y0: number, scale: number, bgr: number[]): void {
    let x = x0;
    for (const ch of s) {
      const g = GLYPHS[ch] ?? GLYPHS[' ']!;
      for (let gy = 0; gy < 7; gy++) {
        for (let gx = 0; gx < 5; gx++) {
          if (g[gy]![gx] !== '1') continue;
          for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) this.px(x + gx * scale + dx, y0 + gy * scale + dy, bgr);
        }
      }
      x += 6 * scale;
    }
  }

  private px(x: number, y: number, bgr: number[]): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.data[i] = bgr[0]!;
    this.data[i + 1] = bgr[1]!;
    this.data[i + 2] = bgr[2]!;
  }
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
