// LiveSource, the ingest half:
//  a) decoding a 1080p H.264 file into BGR frames in Node: LiveSource (filePace 'fast', every frame
//     through `for await`) against an ffmpeg child process piping raw bgr24 frames into Node (what
//     Node users do today); alternating runs, median reported;
//  b) latest() latency from an RTSP source: RTSPSkyLine at 720p30 → LiveSource over RTSP/TCP,
//     latest() polled; latency = arrival in Node of the decoded frame - its capture time;
//  c) memory for 60 s of buffered 720p at 2 Mbit/s: an ffmpeg-made file read fast into the ring,
//     nobody consuming: ring bytes and RSS growth, against what raw frames would take.
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { LiveSource, RTSPSkyLine } from '../../src/index.js';
import { quietLogger, workDir } from '../lib/config.js';
import { noisyFrames } from '../lib/frames.js';
import { cpuSeconds, rssBytes, sleep, spawnTimed } from '../lib/proc.js';
import { median, percentile } from '../lib/stats.js';

const num = (name: string, dflt: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};

export const INGEST_CONFIG = {
  decodeFrames: num('BENCH_INGEST_FRAMES', 300),
  decodeRepeats: num('BENCH_INGEST_REPEATS', 3),
  latestSeconds: num('BENCH_LATEST_SECONDS', 15),
  bufferSeconds: 60,
};

export interface DecodeRun {
  name: 'LiveSource' | 'ffmpeg pipe';
  frames: number;
  wallS: number;
  fps: number;
  cpuMsPerFrame: number;
}

export interface IngestResult {
  /** When this figure ran, and the machine's load then (it can run on its own: BENCH_ONLY=ingest). */
  ran: { date: string; loadAverageAtStart: number };
  decode: { width: number; height: number; frames: number; runs: DecodeRun[]; alone: { gstreamerCpuMsPerFrame: number; ffmpegCpuMsPerFrame: number }; ours: { fps: number; cpuMsPerFrame: number }; peer: { fps: number; cpuMsPerFrame: number }; fpsRatio: number; cpuRatio: number };
  latest: { width: number; height: number; fps: number; seconds: number; samples: number; p50Ms: number; p95Ms: number; maxMs: number; framesDecoded: number; unitsReceived: number };
  memory: { seconds: number; width: number; height: number; bitrateKbps: number; units: number; ringBytes: number; rssGrowthBytes: number; rawBytes: number };
}

/** CPU seconds of this process's reaped children (user + system), from /proc/self/stat. */
function childCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

/** An H.264 file of noisy camera-like frames, made once by ffmpeg (libx264, no B-frames, like a camera). */
async function makeFile(path: string, o: { width: number; height: number; frames: number; kbps: number; gop: number }): Promise<void> {
  if (existsSync(path)) return;
  const distinct = noisyFrames(o.width, o.height, 30);
  const tmp = `${path}.tmp.mp4`;
  const t = spawnTimed('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'bgr24', '-s', `${o.width}x${o.height}`, '-r', '30', '-i', '-', '-c:v', 'libx264', '-preset', 'superfast', '-bf', '0', '-g', String(o.gop), '-b:v', `${o.kbps}k`, '-maxrate', `${o.kbps}k`, '-bufsize', `${o.kbps * 2}k`, '-pix_fmt', 'yuv420p', tmp], { stdin: 'pipe', timeoutMs: 15 * 60_000 });
  const stdin = t.child.stdin!;
  stdin.on('error', () => undefined);
  for (let i = 0; i < o.frames; i++) if (!stdin.write(distinct[i % distinct.length]!)) await new Promise((r) => stdin.once('drain', r));
  stdin.end();
  const r = await t.done;
  if (r.code !== 0) throw new Error(`ffmpeg could not make ${path}: ${r.stderr.slice(-500)}`);
  const { renameSync } = await import('node:fs');
  renameSync(tmp, path);
}

export async function decodeWithLiveSource(path: string): Promise<DecodeRun> {
  const cpu0 = cpuSeconds() + childCpuSeconds();
  const t0 = performance.now();
  const src = new LiveSource({ url: path, filePace: 'fast', format: 'BGR', queueFrames: 8, logger: quietLogger() });
  src.on('error', () => undefined);
  let frames = 0;
  let bytes = 0;
  const done = (async () => {
    for await (const f of src) {
      frames++;
      bytes += f.data.length;
    }
  })();
  await src.start();
  await done;
  const wallS = (performance.now() - t0) / 1000;
  await src.close();
  await sleep(200); // the ingest worker reaped, its CPU counted
  const cpuS = cpuSeconds() + childCpuSeconds() - cpu0;
  void bytes;
  return { name: 'LiveSource', frames, wallS, fps: frames / wallS, cpuMsPerFrame: (cpuS * 1000) / frames };
}

export async function decodeWithFfmpeg(path: string, width: number, height: number): Promise<DecodeRun> {
  const frameBytes = width * height * 3;
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  const t = spawnTimed('ffmpeg', ['-loglevel', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'bgr24', 'pipe:1'], { stdout: 'pipe', timeoutMs: 10 * 60_000 });
  let frames = 0;
  // What a Node user writes: cut the byte stream into frames, one Buffer each.
  let frame = Buffer.allocUnsafe(frameBytes);
  let filled = 0;
  t.child.stdout!.on('data', (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, frameBytes - filled);
      chunk.copy(frame, filled, off, off + n);
      filled += n;
      off += n;
      if (filled === frameBytes) {
        frames++;
        frame = Buffer.allocUnsafe(frameBytes);
        filled = 0;
      }
    }
  });
  const r = await t.done;
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = cpuSeconds() - cpu0 + r.cpuS;
  return { name: 'ffmpeg pipe', frames, wallS, fps: frames / wallS, cpuMsPerFrame: (cpuS * 1000) / frames };
}

async function decodeFigure(): Promise<IngestResult['decode']> {
  const width = 1920;
  const height = 1080;
  const frames = INGEST_CONFIG.decodeFrames;
  const path = join(workDir(), `ingest-1080p-${frames}.mp4`);
  await makeFile(path, { width, height, frames, kbps: 4000, gop: 60 });
  const runs: DecodeRun[] = [];
  for (let k = 0; k < INGEST_CONFIG.decodeRepeats; k++) {
    runs.push(await decodeWithLiveSource(path));
    runs.push(await decodeWithFfmpeg(path, width, height));
  }
  for (const run of runs) if (run.frames !== frames) throw new Error(`${run.name} decoded ${run.frames} of ${frames} frames`);
  const pick = (name: DecodeRun['name']) => {
    const rs = runs.filter((r) => r.name === name);
    return { fps: median(rs.map((r) => r.fps)), cpuMsPerFrame: median(rs.map((r) => r.cpuMsPerFrame)) };
  };
  const ours = pick('LiveSource');
  const peer = pick('ffmpeg pipe');
  // Where the time goes: each decoder alone, decoding to BGR and throwing the frames away.
  const g = await spawnTimed('gst-launch-1.0', ['-q', ...`filesrc location=${path} ! qtdemux ! h264parse ! avdec_h264 ! videoconvert n-threads=0 dither=none ! video/x-raw,format=BGR ! fakesink`.split(' ')], { timeoutMs: 10 * 60_000 }).done;
  const f = await spawnTimed('ffmpeg', ['-loglevel', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'bgr24', '-y', '/dev/null'], { timeoutMs: 10 * 60_000 }).done;
  const alone = { gstreamerCpuMsPerFrame: (g.cpuS * 1000) / frames, ffmpegCpuMsPerFrame: (f.cpuS * 1000) / frames };
  return { width, height, frames, runs, alone, ours, peer, fpsRatio: ours.fps / peer.fps, cpuRatio: ours.cpuMsPerFrame / peer.cpuMsPerFrame };
}

async function latestFigure(): Promise<IngestResult['latest']> {
  const width = 1280;
  const height = 720;
  const fps = 30;
  const sky = new RTSPSkyLine({ port: 0, bitrate: 2000, keyframeInterval: 60, statsIntervalMs: 0, logger: quietLogger() });
  sky.on('error', () => undefined);
  await sky.startStreaming({ fps, width, height });
  const frames = noisyFrames(width, height, 30);
  let i = 0;
  const timer = setInterval(() => sky.put({ data: frames[i++ % frames.length]!, width, height, format: 'BGR' }, { timestamp: Date.now() }), 1000 / fps);
  const src = new LiveSource({ url: sky.url, logger: quietLogger() });
  src.on('error', () => undefined);
  const samples: number[] = [];
  try {
    await src.start();
    await src.latest(); // the decoder starts; measured from here on
    const end = Date.now() + INGEST_CONFIG.latestSeconds * 1000;
    while (Date.now() < end) {
      const f = await src.latest();
      if (f) samples.push(Date.now() - f.timestamp);
      else await sleep(2);
    }
  } finally {
    clearInterval(timer);
  }
  const stats = src.stats();
  await src.close();
  await sky.close();
  return {
    width, height, fps, seconds: INGEST_CONFIG.latestSeconds, samples: samples.length,
    p50Ms: percentile(samples, 50), p95Ms: percentile(samples, 95), maxMs: Math.max(...samples),
    framesDecoded: stats.framesDecoded, unitsReceived: stats.unitsReceived,
  };
}

async function memoryFigure(): Promise<IngestResult['memory']> {
  const width = 1280;
  const height = 720;
  const seconds = INGEST_CONFIG.bufferSeconds;
  const kbps = 2000;
  const path = join(workDir(), `ingest-720p-${seconds}s-${kbps}k.mp4`);
  await makeFile(path, { width, height, frames: seconds * 30 + 30, kbps, gop: 60 });
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  gc();
  const rss0 = rssBytes();
  const src = new LiveSource({ url: path, filePace: 'fast', bufferSeconds: seconds, logger: quietLogger() });
  src.on('error', () => undefined);
  await src.start();
  while (src.state === 'streaming') await sleep(50);
  gc();
  await sleep(200);
  gc();
  const p = src.probe();
  const result = { seconds, width, height, bitrateKbps: kbps, units: p.units, ringBytes: p.bytes, rssGrowthBytes: rssBytes() - rss0, rawBytes: p.units * width * height * 3 };
  await src.close();
  return result;
}

export default async function ingest(): Promise<IngestResult> {
  const ran = { date: new Date().toISOString(), loadAverageAtStart: loadavg()[0]! };
  const memory = await memoryFigure();
  const decode = await decodeFigure();
  const latest = await latestFigure();
  return { ran, decode, latest, memory };
}
