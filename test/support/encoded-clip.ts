// A real encoded clip for destination tests: x264 constrained baseline, an access unit
// delimiter before each picture (accessUnitsOf() cuts there), a keyframe every keyInt frames.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { accessUnitsOf } from './access-units.js';

export interface ClipOptions {
  frames: number;
  width: number;
  height: number;
  fps: number;
  keyInt: number;
  /** Capture time of the first frame, epoch ms. */
  originMs?: number;
}

/** Encodes the clip into `path` (Annex B) with gst-launch-1.0 and cuts it into access units. */
export async function encodeClip(path: string, o: ClipOptions): Promise<AccessUnit[]> {
  const launch = [
    `videotestsrc num-buffers=${o.frames} pattern=ball`,
    `video/x-raw,format=I420,width=${o.width},height=${o.height},framerate=${o.fps}/1`,
    `x264enc aud=true key-int-max=${o.keyInt} bframes=0 speed-preset=ultrafast tune=zerolatency`,
    'video/x-h264,profile=constrained-baseline,stream-format=byte-stream',
    `filesink location=${path}`,
  ].join(' ! ');
  await new Promise<void>((resolve, reject) => {
    execFile('gst-launch-1.0', ['-q', ...launch.split(' ')], { timeout: 60_000 }, (err, _out, stderr) => (err ? reject(new Error(`gst-launch-1.0 failed: ${stderr}`)) : resolve()));
  });
  return accessUnitsOf(await readFile(path), o.fps, o.originMs ?? 0);
}

/** The units as a producer that started earlier would hand them on: PTS and capture time shifted. */
export function shifted(aus: AccessUnit[], ms: number): AccessUnit[] {
  return aus.map((au) => ({ ...au, ptsNs: au.ptsNs + ms * 1e6, captureMs: au.captureMs + ms }));
}
