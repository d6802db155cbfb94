// Source material for the LiveSource tests: frames that carry their index (and a coloured lower
// half, so channel order can be checked), recorded by our FileSkyLine, by ffmpeg and by gst-launch.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { FileSkyLine } from '../../src/index.js';
import { indexed, type Rgb } from './frames.js';
import { captureLogger } from './quiet.js';

/** The lower half's colour (R, G, B): red-dominant, so BGR/RGB swaps show. */
export const LOWER: Rgb = [200, 60, 40];

export function material(width: number, height: number, index: number): Buffer {
  const f = indexed(width, height, index).data as Buffer;
  const [r, g, b] = LOWER;
  for (let p = (height >> 1) * width; p < width * height; p++) {
    f[p * 3] = b;
    f[p * 3 + 1] = g;
    f[p * 3 + 2] = r;
  }
  return f;
}

/** Records `n` frames with FileSkyLine; capture times t0 + i * 1000 / fps. Returns the path and the capture times. */
export async function recordWithSkyLine(dir: string, name: string, o: { n: number; fps: number; width: number; height: number; t0: number; keyframeInterval: number }): Promise<{ path: string; times: number[] }> {
  const sky = new FileSkyLine({ path: join(dir, name), logger: captureLogger('warn').logger, keyframeInterval: o.keyframeInterval, statsIntervalMs: 0 });
  sky.on('error', () => undefined);
  await sky.startStreaming({ fps: o.fps, width: o.width, height: o.height });
  const times: number[] = [];
  for (let i = 0; i < o.n; i++) {
    const t = o.t0 + (i * 1000) / o.fps;
    times.push(t);
    if (!(await sky.putAsync({ data: material(o.width, o.height, i), width: o.width, height: o.height, format: 'BGR' }, { timestamp: t }))) throw new Error(`frame ${i} refused`);
  }
  await sky.stopStreaming();
  const path = sky.path!;
  await sky.close();
  return { path, times };
}

/** Pipes raw BGR frames into a command's stdin; resolves when it exits 0. */
export function pipeFrames(cmd: string, args: string[], o: { n: number; width: number; height: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} exited ${code}: ${err}`));
    });
    child.stdin.on('error', () => undefined);
    (async () => {
      for (let i = 0; i < o.n; i++) {
        if (!child.stdin.write(material(o.width, o.height, i))) await new Promise((r) => child.stdin.once('drain', r));
      }
      child.stdin.end();
    })();
  });
}

/** An MP4 made by ffmpeg's libx264 with its defaults (B-frames, High profile). */
export function recordWithFfmpeg(path: string, o: { n: number; fps: number; width: number; height: number; gop: number }): Promise<void> {
  return pipeFrames('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'bgr24', '-s', `${o.width}x${o.height}`, '-r', String(o.fps), '-i', '-', '-c:v', 'libx264', '-preset', 'veryfast', '-g', String(o.gop), '-pix_fmt', 'yuv420p', path], o);
}

/** A file made by gst-launch: x264enc into Matroska (or another muxer's fragment). */
export function recordWithGstLaunch(path: string, o: { n: number; fps: number; width: number; height: number; gop: number; mux?: string }): Promise<void> {
  const launch = `fdsrc fd=0 ! rawvideoparse format=bgr width=${o.width} height=${o.height} framerate=${o.fps}/1 ! videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=ultrafast key-int-max=${o.gop} ! h264parse ! ${o.mux ?? 'matroskamux'} ! filesink location=${path}`;
  return pipeFrames('gst-launch-1.0', ['-q', ...launch.split(' ')], o);
}

/** Puts material frames into a SkyLine at `fps` until stopped; remembers each index's capture time. */
export function feedIndexed(sky: { put(f: { data: Buffer; width: number; height: number; format: 'BGR' }, o: { timestamp: number }): boolean }, o: { fps: number; width: number; height: number; t0: number }): { stop(): void; times: Map<number, number>; readonly count: number } {
  const times = new Map<number, number>();
  let i = 0;
  const frames = new Map<number, Buffer>();
  const timer = setInterval(() => {
    const t = o.t0 + (i * 1000) / o.fps;
    times.set(i, t);
    let data = frames.get(i % 64);
    if (!data || indexOfCache.get(data) !== i) {
      data = material(o.width, o.height, i);
      indexOfCache.set(data, i);
    }
    sky.put({ data, width: o.width, height: o.height, format: 'BGR' }, { timestamp: t });
    i++;
  }, 1000 / o.fps);
  return {
    stop: () => clearInterval(timer),
    times,
    get count() {
      return i;
    },
  };
}
const indexOfCache = new WeakMap<Buffer, number>();
