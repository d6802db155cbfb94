/**
 * H.264 test material for the RTSP tests: short clips encoded once by gst-launch (cached in the temp
 * dir), split into AccessUnits, and a player that feeds them in real time like a live encoder would.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { accessUnitsOf } from './access-units.js';

const run = promisify(execFile);

export interface ClipOptions {
  width: number;
  height: number;
  fps: number;
  frames: number;
  /** Frames between IDRs. */
  keyInt: number;
  pattern?: string;
  bitrateKbps?: number;
}

/** Encodes (once) and returns a clip as access units in decode order; the first is an IDR with SPS/PPS. */
export async function encodeClip(o: ClipOptions): Promise<AccessUnit[]> {
  const dir = join(tmpdir(), 'gst-skyline-test-clips');
  mkdirSync(dir, { recursive: true });
  const pattern = o.pattern ?? 'ball';
  const file = join(dir, `${o.width}x${o.height}-${o.fps}-${o.frames}-${o.keyInt}-${pattern}-${o.bitrateKbps ?? 0}.h264`);
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`;
    const launch = [
      `videotestsrc num-buffers=${o.frames} pattern=${pattern}`,
      `video/x-raw,format=I420,width=${o.width},height=${o.height},framerate=${o.fps}/1`,
      `x264enc tune=zerolatency bframes=0 speed-preset=ultrafast key-int-max=${o.keyInt} aud=true${o.bitrateKbps ? ` bitrate=${o.bitrateKbps}` : ''}`,
      'video/x-h264,profile=constrained-baseline',
      'h264parse',
      'video/x-h264,stream-format=byte-stream,alignment=au',
      `filesink location=${tmp}`,
    ].join(' ! ');
    await run('gst-launch-1.0', ['-q', ...launch.split(' ')], { timeout: 120_000 });
    renameSync(tmp, file);
  }
  return accessUnitsOf(readFileSync(file), o.fps);
}

/**
 * Plays a clip in a loop at its frame rate, with continuous timestamps, into `sink`.
 * requestKeyframe() makes the next unit an IDR (it restarts the clip), like forcing a key unit on an encoder.
 */
export class ClipPlayer {
  private timer: NodeJS.Timeout | undefined;
  private index = 0;
  private n = 0;
  private readonly originMs = Date.now();
  private readonly startedAt = performance.now();
  keyframeRequests = 0;

  constructor(
    private readonly aus: AccessUnit[],
    private readonly fps: number,
    private readonly sink: (au: AccessUnit) => void,
  ) {}

  start(): void {
    const frameMs = 1000 / this.fps;
    const tick = () => {
      // Catch up on missed ticks so the rate stays right on a busy machine, but never burst more than a few.
      const due = Math.floor((performance.now() - this.startedAt) / frameMs) + 1;
      for (let k = 0; k < 3 && this.n < due; k++) this.emit();
      this.timer = setTimeout(tick, Math.max(1, this.startedAt + this.n * frameMs - performance.now()));
    };
    tick();
  }

  requestKeyframe(): void {
    this.keyframeRequests++;
    this.index = 0;
  }

  get sent(): number {
    return this.n;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private emit(): void {
    const src = this.aus[this.index]!;
    const ptsNs = Math.round((this.n * 1e9) / this.fps);
    this.sink({ nalus: src.nalus, keyframe: src.keyframe, ptsNs, captureMs: this.originMs + ptsNs / 1e6 });
    this.n++;
    this.index = (this.index + 1) % this.aus.length;
  }
}

/** Something that takes frames like a SkyLine. */
export interface FrameTaker {
  put(frame: { data: Buffer; width: number; height: number; format: 'BGR' }, options?: { timestamp?: number }): boolean;
}

/**
 * Puts moving BGR test frames into a SkyLine in real time (like a camera loop) until stopped.
 * The frames are made once and cycled, so feeding costs next to nothing.
 */
export function feedLive(sky: FrameTaker, o: { fps: number; width: number; height: number; distinct?: number }): { stop(): void; readonly puts: number } {
  const frames: Array<{ data: Buffer; width: number; height: number; format: 'BGR' }> = [];
  const n = o.distinct ?? 30;
  for (let k = 0; k < n; k++) {
    const data = Buffer.alloc(o.width * o.height * 3);
    for (let y = 0; y < o.height; y++) {
      for (let x = 0; x < o.width; x++) {
        const i = (y * o.width + x) * 3;
        data[i] = (x + k * 8) & 0xff;
        data[i + 1] = (y * 2) & 0xff;
        data[i + 2] = ((x >> 4) + (y >> 4) + k) % 2 ? 200 : 40;
      }
    }
    frames.push({ data, width: o.width, height: o.height, format: 'BGR' });
  }
  let puts = 0;
  let timer: NodeJS.Timeout | undefined;
  const t0 = performance.now();
  const frameMs = 1000 / o.fps;
  const tick = () => {
    sky.put(frames[puts % n]!, { timestamp: Date.now() });
    puts++;
    timer = setTimeout(tick, Math.max(1, t0 + puts * frameMs - performance.now()));
  };
  tick();
  return {
    stop: () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    get puts() {
      return puts;
    },
  };
}
