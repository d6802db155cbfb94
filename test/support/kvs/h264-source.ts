/**
 * Real H.264 access units for KVS/MKV tests, made by ffmpeg's libx264 from a
 * test pattern (no GStreamer pipeline needed).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AccessUnit } from '../../../src/h264/access-unit.js';
import { accessUnitsOf } from '../access-units.js';

const run = promisify(execFile);

export interface EncodeOptions {
  frames: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Keyframe interval in frames. */
  gop?: number;
  /** Epoch ms of the first frame. */
  originMs?: number;
  /** x264 preset; ultrafast (default) gives Constrained Baseline, faster ones High profile. */
  preset?: string;
}

/** Encodes `frames` frames of testsrc2 and returns them as access units with capture times. */
export async function encodeAccessUnits(opts: EncodeOptions): Promise<AccessUnit[]> {
  const { frames, width = 320, height = 240, fps = 25, gop = 25, originMs = 1_700_000_000_000, preset = 'ultrafast' } = opts;
  const { stdout } = await run(
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error',
      '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`,
      '-frames:v', String(frames),
      '-c:v', 'libx264', '-preset', preset, '-tune', 'zerolatency', '-bf', '0',
      '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p', '-x264-params', 'aud=1:repeat-headers=1',
      '-f', 'h264', '-',
    ],
    { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: 60_000 },
  );
  const aus = accessUnitsOf(stdout as unknown as Buffer, fps, originMs);
  if (aus.length !== frames) throw new Error(`expected ${frames} access units, got ${aus.length}`);
  return aus;
}
