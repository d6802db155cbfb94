/**
 * Real H.264 access units for KVS/MKV tests, made by ffmpeg's libx264 from a
 * test pattern (no GStreamer pipeline needed).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AccessUnit } from '../../../src/h264/access-unit.js';

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

/** Splits an Annex B byte stream into NAL units (start codes removed). */
export function splitAnnexB(buf: Buffer): Buffer[] {
  const starts: { at: number; len: number }[] = [];
  for (let i = 0; i + 2 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0) {
      if (buf[i + 2] === 1) {
        starts.push({ at: i, len: 3 });
        i += 2;
      } else if (buf[i + 2] === 0 && buf[i + 3] === 1) {
        starts.push({ at: i, len: 4 });
        i += 3;
      }
    }
  }
  return starts.map((s, k) => buf.subarray(s.at + s.len, k + 1 < starts.length ? starts[k + 1]!.at : buf.length));
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
  const aus: AccessUnit[] = [];
  let current: Buffer[] = [];
  const flush = (): void => {
    if (current.length === 0) return;
    const n = aus.length;
    const ptsNs = Math.round((n * 1e9) / fps);
    aus.push({
      nalus: current,
      ptsNs,
      captureMs: originMs + ptsNs / 1e6,
      keyframe: current.some((nal) => (nal[0]! & 0x1f) === 5),
    });
    current = [];
  };
  for (const nal of splitAnnexB(stdout as unknown as Buffer)) {
    if ((nal[0]! & 0x1f) === 9) flush(); // access unit delimiter starts a new AU
    current.push(nal);
  }
  flush();
  if (aus.length !== frames) throw new Error(`expected ${frames} access units, got ${aus.length}`);
  return aus;
}
