// Figure 11: what one stream costs at 360p, 720p and 1080p, for docs/scaling.md. Each encoder
// this machine has, alone, fed the same noisy frames as I420 from memory (appsrc ! encoder !
// fakesink, in this process), CPU per frame; and what the library adds on Node's main thread
// for a BGR frame: put()'s copy into the queue slot, the conversion, the binding's push().
import { RgbToI420 } from '../../src/convert/rgb-to-i420.js';
import { encoderFragment, type EncoderName } from '../../src/encoder.js';
import { FrameQueue } from '../../src/frame-queue.js';
import { layoutOf } from '../../src/frame.js';
import { Pipeline } from '../../src/gst/pipeline.js';
import { hasElement } from '../../src/gst/registry.js';
import { ENCODER } from '../lib/config.js';
import { noisyFrames } from '../lib/frames.js';
import { cpuSeconds } from '../lib/proc.js';
import { median } from '../lib/stats.js';

const FPS = 30, FRAMES = 150, DISTINCT = 8;
const SIZES = [[640, 360, 1000], [1280, 720, 2000], [1920, 1080, 4000]] as const;

export interface EncoderRow {
  size: string;
  encoder: string;
  fragment: string;
  cpuPerFrameMs: number;
}

export interface MainThreadRow {
  size: string;
  putCopyMs: number;
  convertMs: number;
  pushMs: number;
}

export interface EncodersResult {
  frames: number;
  rows: EncoderRow[];
  mainThread: MainThreadRow[];
  hardware: string[];
}

async function encodeAlone(i420: Buffer[], w: number, h: number, fragment: string): Promise<number> {
  const caps = `video/x-raw,format=I420,width=${w},height=${h},framerate=${FPS}/1,pixel-aspect-ratio=1/1`;
  const p = new Pipeline(`appsrc name=src is-live=true format=time do-timestamp=false block=false max-buffers=8 caps=${caps} ! ${fragment} ! fakesink sync=false`);
  const src = p.appsrc('src');
  const eos = new Promise<void>((resolve, reject) => p.play({ onStarted: () => undefined, onEos: resolve, onError: reject }));
  const c0 = cpuSeconds();
  for (let i = 0; i < FRAMES; i++) {
    while (src.level() >= 2) await new Promise((r) => setTimeout(r, 1));
    src.push(i420[i % i420.length]!, Math.round((i * 1e9) / FPS));
  }
  p.sendEos();
  await eos;
  const cpu = cpuSeconds() - c0;
  p.stop();
  return (cpu * 1000) / FRAMES;
}

function mainThread(bgr: Buffer[], w: number, h: number): MainThreadRow {
  const layout = layoutOf('BGR', w, h);
  const q = new FrameQueue(4);
  const conv = q.converterFor(layout)!;
  const p = new Pipeline(`appsrc name=src is-live=true format=time block=false max-buffers=1000 caps=video/x-raw,format=I420,width=${w},height=${h},framerate=${FPS}/1 ! fakesink sync=false`);
  const src = p.appsrc('src');
  p.play();
  const put: number[] = [], convert: number[] = [], push: number[] = [];
  for (let i = 0; i < 60; i++) {
    const t0 = performance.now();
    const { slot } = q.reserve(layout.gstSize, layout);
    slot.data.set(bgr[i % bgr.length]!);
    q.commit();
    const t1 = performance.now();
    const out = conv.convert(q.peek()!.data);
    const t2 = performance.now();
    src.push(out, Math.round((i * 1e9) / FPS));
    const t3 = performance.now();
    q.shift();
    put.push(t1 - t0); convert.push(t2 - t1); push.push(t3 - t2);
  }
  p.stop();
  return { size: `${w}×${h}`, putCopyMs: median(put), convertMs: median(convert), pushMs: median(push) };
}

export default async function encoders(): Promise<EncodersResult> {
  const settings = { bitrate: 0, keyframeInterval: ENCODER.keyframeInterval, speedPreset: ENCODER.preset };
  const candidates: Array<{ name: EncoderName; label: string; frameThreads?: boolean }> = [
    { name: 'x264enc', label: 'x264enc, slices (live destinations)' },
    { name: 'x264enc', label: 'x264enc, frame threads (FileSkyLine)', frameThreads: true },
    { name: 'openh264enc', label: 'openh264enc' },
  ];
  const hardware: string[] = [];
  for (const hw of ['nvh264enc', 'vah264enc', 'vaapih264enc', 'qsvh264enc', 'v4l2h264enc'] as const) if (await hasElement(hw)) hardware.push(hw);
  const rows: EncoderRow[] = [];
  const mains: MainThreadRow[] = [];
  for (const [w, h, kbps] of SIZES) {
    const bgr = noisyFrames(w, h, DISTINCT);
    const conv = RgbToI420.for(layoutOf('BGR', w, h))!;
    const i420 = bgr.map((f) => Buffer.from(conv.convert(f)));
    mains.push(mainThread(bgr, w, h));
    for (const c of candidates) {
      if (!(await hasElement(c.name))) continue;
      const fragment = encoderFragment(c.name, { ...settings, bitrate: kbps, frameThreads: c.frameThreads });
      rows.push({ size: `${w}×${h}`, encoder: c.label, fragment, cpuPerFrameMs: await encodeAlone(i420, w, h, fragment) });
    }
  }
  return { frames: FRAMES, rows, mainThread: mains, hardware };
}
