// --overlay: the wall-clock time, the frame number and the measured fps, drawn into the
// frame in Node (a dark band at the bottom-left), so every destination shows the same.
import type { Frame } from '../frame.js';
import { canDrawInto, drawText, fillRect, GLYPH_HEIGHT, textWidth } from '../pattern/bitmap-font.js';
import { clock } from '../pattern/test-pattern.js';

export class Overlay {
  private times: number[] = [];

  /** Draws onto `frame` in place; false when its format has no RGB channels to draw into. */
  draw(frame: Frame, index: number, captureMs: number): boolean {
    if (!canDrawInto(frame.format)) return false;
    this.times.push(captureMs);
    while (this.times.length > 1 && captureMs - this.times[0]! > 1000) this.times.shift();
    const span = this.times.length > 1 ? captureMs - this.times[0]! : 0;
    const fps = span > 0 ? ((this.times.length - 1) * 1000) / span : 0;
    const text = `${clock(captureMs)} #${index} ${fps.toFixed(1)} FPS`;
    const scale = Math.max(1, Math.floor(frame.height / 180));
    const pad = 2 * scale;
    const h = GLYPH_HEIGHT * scale + 2 * pad;
    const w = Math.min(frame.width, textWidth(text, scale) + 2 * pad);
    const y = frame.height - h;
    fillRect(frame, 0, y, w, h, [0, 0, 0]);
    drawText(frame, text, pad, y + pad, scale, [255, 255, 255]);
    return true;
  }
}
