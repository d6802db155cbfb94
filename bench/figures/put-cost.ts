// Figure 1: what put() costs the caller's thread at 720p and 1080p BGR, next to a plain
// Buffer copy of the same frame (the floor: put() must copy, the caller keeps its buffer).
// Frames are paced at 30 fps into a FileSkyLine, as a vision loop would. The binding's
// appsrc push, which runs later on the same event loop, is timed too.
import { join } from 'node:path';
import { FileSkyLine } from '../../src/index.js';
import { RgbToI420 } from '../../src/convert/rgb-to-i420.js';
import { AppSrc } from '../../src/gst/pipeline.js';
import { CONFIG, workDir, skylineOptions } from '../lib/config.js';
import { noisyFrames } from '../lib/frames.js';
import { median, percentile } from '../lib/stats.js';

export interface PutCostRow {
  label: string;
  width: number;
  height: number;
  frameBytes: number;
  frames: number;
  putMedianUs: number;
  putP99Us: number;
  copyMedianUs: number;
  copyP99Us: number;
  /** The binding's appsrc.push(), later on the event loop (copies the frame into a GstBuffer). */
  pushMedianUs: number;
  pushP99Us: number;
  /** BGR -> I420 in the drain, just before the push (NaN when the pipeline converts instead). */
  convertMedianUs: number;
  convertP99Us: number;
  dropped: number;
}

export interface PutCostResult {
  rows: PutCostRow[];
}

/** Times every AppSrc.push() and RgbToI420.convert() made while `fn` runs. */
async function withDrainTimers<T>(push: number[], convert: number[], fn: () => Promise<T>): Promise<T> {
  const originalPush = AppSrc.prototype.push;
  const originalConvert = RgbToI420.prototype.convert;
  AppSrc.prototype.push = function (this: AppSrc, data: Uint8Array, ptsNs: number) {
    const t = process.hrtime.bigint();
    originalPush.call(this, data, ptsNs);
    push.push(Number(process.hrtime.bigint() - t) / 1000);
  };
  RgbToI420.prototype.convert = function (this: RgbToI420, src: Uint8Array) {
    const t = process.hrtime.bigint();
    const out = originalConvert.call(this, src);
    convert.push(Number(process.hrtime.bigint() - t) / 1000);
    return out;
  };
  try {
    return await fn();
  } finally {
    AppSrc.prototype.push = originalPush;
    RgbToI420.prototype.convert = originalConvert;
  }
}

async function measure(label: string, width: number, height: number): Promise<PutCostRow> {
  const frames = noisyFrames(width, height, 16);
  const floor = Buffer.allocUnsafeSlow(frames[0]!.length);
  const sky = new FileSkyLine({
    path: join(workDir(), `put-${label}.mp4`),
    timestamps: false,
    ...skylineOptions(),
  });
  const put: number[] = [], copy: number[] = [], push: number[] = [], convert: number[] = [];
  const warmup = 30;
  const n = CONFIG.putFrames + warmup;
  await withDrainTimers(push, convert, async () => {
    await sky.startStreaming({ fps: 30, width, height });
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const frame = { data: frames[i % frames.length]!, width, height };
      // Alternate which goes first so neither always meets a warm cache.
      let tc: bigint, tp: bigint;
      if (i & 1) {
        const a = process.hrtime.bigint();
        frame.data.copy(floor);
        const b = process.hrtime.bigint();
        sky.put(frame);
        const c = process.hrtime.bigint();
        tc = b - a; tp = c - b;
      } else {
        const a = process.hrtime.bigint();
        sky.put(frame);
        const b = process.hrtime.bigint();
        frame.data.copy(floor);
        const c = process.hrtime.bigint();
        tp = b - a; tc = c - b;
      }
      if (i >= warmup) {
        put.push(Number(tp) / 1000);
        copy.push(Number(tc) / 1000);
      }
      const wait = t0 + ((i + 1) * 1000) / 30 - performance.now();
      await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    }
    await sky.stopStreaming();
  });
  const dropped = sky.stats().framesDropped;
  await sky.close();
  const pushed = push.slice(warmup);
  const converted = convert.slice(warmup);
  return {
    label, width, height, frameBytes: frames[0]!.length, frames: put.length,
    putMedianUs: median(put), putP99Us: percentile(put, 99),
    copyMedianUs: median(copy), copyP99Us: percentile(copy, 99),
    pushMedianUs: median(pushed), pushP99Us: percentile(pushed, 99),
    convertMedianUs: median(converted), convertP99Us: percentile(converted, 99),
    dropped,
  };
}

export default async function putCost(): Promise<PutCostResult> {
  return { rows: [await measure('720p', 1280, 720), await measure('1080p', 1920, 1080)] };
}
