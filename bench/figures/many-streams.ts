// Figure 6: 8 FileSkyLines at 360p30 in one process, fed from one 30 fps loop: the frame
// rate each one delivers, and how long fs.readFile takes meanwhile. Each GStreamer-sink
// pipeline holds a libuv threadpool thread for its bus, so the figure is run twice by
// bench/run.ts: with the default pool (4) and with UV_THREADPOOL_SIZE=16.
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FileSkyLine } from '../../src/index.js';
import { CONFIG, ENCODER, quietLogger, workDir } from '../lib/config.js';
import { noisyFrames } from '../lib/frames.js';
import { countFrames } from '../lib/probe.js';
import { cpuSeconds, sleep } from '../lib/proc.js';
import { median, percentile } from '../lib/stats.js';

const STREAMS = 8, W = 640, H = 360, FPS = 30;
/** A read slower than this counts as stalled (the threadpool is exhausted). */
const READ_TIMEOUT_MS = 2000;

export interface StreamRow {
  index: number;
  started: boolean;
  error?: string;
  /** Frames in the recording divided by the run's duration. */
  fps: number;
  framesInFile: number;
  dropped: number;
}

export interface ManyStreamsResult {
  threadpool: number;
  streams: number;
  width: number;
  height: number;
  targetFps: number;
  seconds: number;
  rows: StreamRow[];
  readFile: { count: number; stalled: number; p50Ms: number; p99Ms: number; maxMs: number };
  eventLoopDelayP99Ms: number;
  cpuCores: number;
}

export default async function manyStreams(): Promise<ManyStreamsResult> {
  const threadpool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const dir = workDir();
  const probeFile = join(dir, 'readfile-probe.bin');
  writeFileSync(probeFile, Buffer.alloc(64 * 1024, 1));
  const frames = noisyFrames(W, H, 8);
  const skies = Array.from({ length: STREAMS }, (_, i) => new FileSkyLine({
    path: join(dir, `many-${threadpool}-${i}.mp4`),
    timestamps: false,
    bitrate: 1000,
    keyframeInterval: ENCODER.keyframeInterval,
    speedPreset: ENCODER.preset,
    logger: quietLogger(),
    statsIntervalMs: 0,
    stopTimeoutMs: 5000,
  }));
  const rows: StreamRow[] = skies.map((_, index) => ({ index, started: false, fps: 0, framesInFile: 0, dropped: 0 }));
  // Start them all at once; a start that never completes (no threadpool thread for its bus)
  // is given up after a bound, as a user would.
  await Promise.all(skies.map(async (sky, i) => {
    sky.on('error', (e) => (rows[i]!.error ??= e.message));
    try {
      await Promise.race([
        sky.startStreaming({ fps: FPS, width: W, height: H }),
        sleep(20_000).then(() => { throw new Error('startStreaming() did not finish within 20 s'); }),
      ]);
      rows[i]!.started = sky.state === 'streaming';
    } catch (err) {
      rows[i]!.error ??= (err as Error).message;
    }
  }));

  const reads: number[] = [];
  let stalled = 0;
  let stop = false;
  const reader = (async () => {
    while (!stop) {
      const t = performance.now();
      const done = await Promise.race([readFile(probeFile).then(() => true), sleep(READ_TIMEOUT_MS).then(() => false)]);
      if (done) reads.push(performance.now() - t);
      else {
        stalled++;
        break; // the read is still queued; more would only queue behind it
      }
      await sleep(50);
    }
  })();

  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const c0 = cpuSeconds();
  const t0 = performance.now();
  const origin = Date.now();
  const total = CONFIG.manySeconds * FPS;
  for (let i = 0; i < total; i++) {
    const ts = origin + (i * 1000) / FPS;
    for (const sky of skies) if (sky.state === 'streaming') sky.put({ data: frames[i % frames.length]!, width: W, height: H }, { timestamp: ts });
    await sleep(Math.max(0, t0 + ((i + 1) * 1000) / FPS - performance.now()));
  }
  const wallS = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - c0;
  lag.disable();
  stop = true;
  for (const [i, sky] of skies.entries()) rows[i]!.dropped = sky.stats().framesDropped;
  await Promise.all(skies.map((sky) => Promise.race([sky.stopStreaming(), sleep(8000)])));
  await Promise.race([reader, sleep(100)]);
  for (const [i, sky] of skies.entries()) {
    if (!rows[i]!.started) continue;
    rows[i]!.framesInFile = await countFrames(sky.path!);
    rows[i]!.fps = (rows[i]!.framesInFile || 0) / wallS;
  }
  await Promise.all(skies.map((sky) => Promise.race([sky.close(), sleep(3000)])));
  return {
    threadpool, streams: STREAMS, width: W, height: H, targetFps: FPS, seconds: wallS, rows,
    readFile: {
      count: reads.length, stalled,
      p50Ms: median(reads), p99Ms: percentile(reads, 99), maxMs: stalled ? Infinity : Math.max(...reads),
    },
    eventLoopDelayP99Ms: lag.percentile(99) / 1e6,
    cpuCores: cpu / wallS,
  };
}
