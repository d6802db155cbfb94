// Figure 9: streams per machine. N FileSkyLines at 720p30 BGR in one process, fed from one
// 30 fps loop with put() (which drops rather than wait), N raised step by step until a stream
// drops a frame or misses frames in its recording. At each N: CPU per frame of the whole
// process, and how long fs.readFile and dns.lookup take meanwhile (the libuv threadpool
// serves both, and every GStreamer-sink pipeline holds one of its threads).
// Figure 10 (growth) is here too: RSS per 720p30 stream, and its growth over a long run with
// 4 streams (BENCH_GROWTH_SECONDS; the figure is 600 s).
import { lookup } from 'node:dns/promises';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FileSkyLine } from '../../src/index.js';
import { CONFIG, ENCODER, quietLogger, workDir } from '../lib/config.js';
import { noisyFrames } from '../lib/frames.js';
import { countFrames } from '../lib/probe.js';
import { cpus } from 'node:os';
import { cpuSeconds, rssBytes, sleep, waitSeconds } from '../lib/proc.js';
import { median, percentile, slope } from '../lib/stats.js';

const W = 1280, H = 720, FPS = 30;
/** Bitrate per stream: a typical 720p camera stream. */
const KBPS = 2000;

export interface CapacityStep {
  streams: number;
  seconds: number;
  framesPut: number;
  /** Least and most frames found in one stream's recording. */
  framesInFile: [number, number];
  dropped: number;
  /** put() calls per second the feeding loop achieved (30 when it kept pace). */
  putRate: number;
  cpuCores: number;
  cpuPerFrameMs: number;
  /** ms per frame the process's threads were runnable but waiting for a core another process held. */
  waitPerFrameMs: number;
  readFile: { p50Ms: number; p99Ms: number; count: number };
  dnsLookup: { p50Ms: number; p99Ms: number; count: number };
  eventLoopDelayP99Ms: number;
  rssMiB: number;
  full: boolean;
  error?: string;
}

export interface CapacityResult {
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  threadpool: number;
  steps: CapacityStep[];
  /** The largest N that held 30 fps with nothing dropped. */
  sustained: number;
  /** Streams the cores would hold at the CPU per frame measured at `sustained` (all cores busy). */
  cpuBound: number;
}

export interface GrowthResult {
  streams: number;
  seconds: number;
  baselineMiB: number;
  /** (RSS while streaming, median of the first minute after warm-up − baseline) / streams. */
  perStreamMiB: number;
  /** Median of the last 10 % of samples − median of the 10 % after warm-up. */
  growthMiB: number;
  slopeMiBPerMin: number;
  dropped: number;
  framesPut: number;
  /**
   * RSS, the frames waiting in the four queues (bounded by queueBytes each), and where the
   * memory is: the queues' own (converter memories and slots), V8's heap, and the memory
   * outside it that V8 accounts (ArrayBuffers, WebAssembly memories), every second.
   */
  samples: Array<{ t: number; rssMiB: number; queued: number; queueMiB?: number; heapMiB?: number; externalMiB?: number }>;
  /** Growth (as growthMiB) of each part: the queues, V8's heap, external memory, and the rest of RSS (native: GStreamer, x264, malloc). */
  growthBy?: { queueMiB: number; heapMiB: number; externalOutsideQueuesMiB: number; nativeMiB: number };
  /** Most frames waiting in the queues at once (a machine too busy to keep up fills them). */
  maxQueued: number;
}

function skyline(path: string): FileSkyLine {
  return new FileSkyLine({
    path, timestamps: false, bitrate: KBPS, keyframeInterval: ENCODER.keyframeInterval, speedPreset: ENCODER.preset,
    // Many streams fill the cores by themselves: x264 slices, not frame threads, which would
    // cost each 720p stream about 29 MiB more (docs/scaling.md).
    frameThreads: false,
    logger: quietLogger(), statsIntervalMs: 0, stopTimeoutMs: 10_000,
  });
}

/** Samples an async operation every `everyMs` until stopped; a call that takes over 2 s ends it. */
function sampler(op: () => Promise<unknown>, everyMs: number) {
  const times: number[] = [];
  let stop = false;
  const done = (async () => {
    while (!stop) {
      const t = performance.now();
      const ok = await Promise.race([op().then(() => true, () => true), sleep(2000).then(() => false)]);
      times.push(performance.now() - t);
      if (!ok) break;
      await sleep(everyMs);
    }
  })();
  return { times, end: async () => { stop = true; await Promise.race([done, sleep(2500)]); } };
}

/** Feeds `skies` at 30 fps for `seconds`; returns frames put per stream and the wall time. */
async function feed(skies: FileSkyLine[], frames: Buffer[], seconds: number, each?: (tS: number) => void): Promise<{ n: number; wallS: number }> {
  const t0 = performance.now();
  const origin = Date.now();
  const total = Math.round(seconds * FPS);
  let lastSample = -1;
  for (let i = 0; i < total; i++) {
    const ts = origin + (i * 1000) / FPS;
    for (const sky of skies) sky.put({ data: frames[i % frames.length]!, width: W, height: H }, { timestamp: ts });
    const tS = (performance.now() - t0) / 1000;
    if (each && Math.floor(tS) !== lastSample) {
      lastSample = Math.floor(tS);
      each(tS);
    }
    await sleep(Math.max(0, t0 + ((i + 1) * 1000) / FPS - performance.now()));
  }
  return { n: total, wallS: (performance.now() - t0) / 1000 };
}

async function step(n: number, frames: Buffer[], dir: string): Promise<CapacityStep> {
  const skies = Array.from({ length: n }, (_, i) => skyline(join(dir, `cap-${n}-${i}.mp4`)));
  let error: string | undefined;
  for (const sky of skies) sky.on('error', (e) => (error ??= e.message));
  await Promise.all(skies.map((sky) => sky.startStreaming({ fps: FPS, width: W, height: H })));
  // One second to settle (encoder threads, first keyframes) before measuring.
  await feed(skies, frames, 1);
  const fsProbe = join(dir, 'capacity-readfile.bin');
  const reads = sampler(() => readFile(fsProbe), 50);
  const dns = sampler(() => lookup('localhost'), 50);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const dropped0 = skies.reduce((s, sky) => s + sky.stats().framesDropped, 0);
  const c0 = cpuSeconds();
  const w0 = waitSeconds();
  const { n: put, wallS } = await feed(skies, frames, CONFIG.capacitySeconds);
  const cpu = cpuSeconds() - c0;
  const wait = waitSeconds() - w0;
  lag.disable();
  await reads.end();
  await dns.end();
  const rssMiB = rssBytes() / 2 ** 20;
  const dropped = skies.reduce((s, sky) => s + sky.stats().framesDropped, 0) - dropped0;
  await Promise.all(skies.map((sky) => sky.stopStreaming()));
  const inFile = await Promise.all(skies.map((sky) => countFrames(sky.path!).catch(() => 0)));
  await Promise.all(skies.map((sky) => sky.close()));
  const expected = put + Math.round(FPS); // the settling second is in the file too
  const putRate = put / wallS;
  const [lo, hi] = [Math.min(...inFile), Math.max(...inFile)];
  return {
    streams: n, seconds: wallS, framesPut: put, framesInFile: [lo, hi], dropped, putRate,
    cpuCores: cpu / wallS, cpuPerFrameMs: (cpu * 1000) / (put * n), waitPerFrameMs: (wait * 1000) / (put * n),
    readFile: { p50Ms: median(reads.times), p99Ms: percentile(reads.times, 99), count: reads.times.length },
    dnsLookup: { p50Ms: median(dns.times), p99Ms: percentile(dns.times, 99), count: dns.times.length },
    eventLoopDelayP99Ms: lag.percentile(99) / 1e6,
    rssMiB,
    // The loop's own pace: a shared machine can hold it back by a few frames over the run.
    full: !error && dropped === 0 && lo >= expected && putRate >= FPS * 0.95,
    ...(error ? { error } : {}),
  };
}

export async function capacity(): Promise<CapacityResult> {
  const dir = workDir();
  writeFileSync(join(dir, 'capacity-readfile.bin'), Buffer.alloc(64 * 1024, 1));
  const frames = noisyFrames(W, H, 8);
  const steps: CapacityStep[] = [];
  let sustained = 0;
  for (let n = CONFIG.capacityFrom; n <= CONFIG.capacityMax; n += CONFIG.capacityStep) {
    const s = await step(n, frames, dir);
    steps.push(s);
    process.stderr.write(`[capacity] ${n} streams: ${s.full ? 'full rate' : 'NOT full rate'}, ${s.cpuCores.toFixed(2)} cores, ${s.cpuPerFrameMs.toFixed(2)} ms/frame, dropped ${s.dropped}, frames ${s.framesInFile.join('–')}/${s.framesPut + FPS}\n`);
    if (!s.full) break;
    sustained = n;
  }
  const at = steps.find((st) => st.streams === sustained) ?? steps[0]!;
  const cpuBound = Math.floor((cpus().length * 1000) / (FPS * at.cpuPerFrameMs));
  return { width: W, height: H, fps: FPS, bitrateKbps: KBPS, threadpool: Number(process.env.UV_THREADPOOL_SIZE) || 4, steps, sustained, cpuBound };
}

export async function growth(): Promise<GrowthResult> {
  const streams = 4;
  const frames = noisyFrames(W, H, 8);
  // The recordings go to /dev/null: RSS is the question, not the disk.
  globalThis.gc?.();
  await sleep(500);
  const baseline = rssBytes() / 2 ** 20;
  const skies = Array.from({ length: streams }, () => skyline('/dev/null'));
  await Promise.all(skies.map((sky) => sky.startStreaming({ fps: FPS, width: W, height: H })));
  const samples: GrowthResult['samples'] = [];
  const MiB = 2 ** 20;
  const { n } = await feed(skies, frames, CONFIG.growthSeconds, (t) => {
    const m = process.memoryUsage();
    samples.push({
      t, rssMiB: m.rss / MiB, queued: skies.reduce((q, sky) => q + sky.stats().queued, 0),
      // The bench reads the queue's own account of its memory (not public API).
      queueMiB: skies.reduce((q, sky) => q + (sky as unknown as { queue: { retainedBytes: number } }).queue.retainedBytes, 0) / MiB,
      heapMiB: m.heapTotal / MiB, externalMiB: m.external / MiB,
    });
  });
  const dropped = skies.reduce((s, sky) => s + sky.stats().framesDropped, 0);
  await Promise.all(skies.map((sky) => sky.stopStreaming()));
  await Promise.all(skies.map((sky) => sky.close()));
  // Warm-up: the first 10 % (at least 10 s) fills queues, encoder buffers and the JIT.
  const warm = Math.max(10, CONFIG.growthSeconds * 0.1);
  const after = samples.filter((s) => s.t >= warm);
  const tenth = Math.max(1, Math.round(after.length * 0.1));
  const grew = (f: (s: GrowthResult['samples'][number]) => number) => median(after.slice(-tenth).map(f)) - median(after.slice(0, tenth).map(f));
  const first = median(after.slice(0, tenth).map((s) => s.rssMiB));
  const last = median(after.slice(-tenth).map((s) => s.rssMiB));
  const queue = grew((s) => s.queueMiB!), heap = grew((s) => s.heapMiB!), external = grew((s) => s.externalMiB!);
  const firstMinute = after.filter((s) => s.t < warm + 60).map((s) => s.rssMiB);
  return {
    streams, seconds: CONFIG.growthSeconds, baselineMiB: baseline,
    perStreamMiB: (median(firstMinute) - baseline) / streams,
    growthMiB: last - first,
    slopeMiBPerMin: slope(after.map((s) => s.t), after.map((s) => s.rssMiB)) * 60,
    dropped, framesPut: n * streams, samples, maxQueued: Math.max(...samples.map((x) => x.queued)),
    // external includes the queues' memory; native is what RSS grew by beyond all of V8's account.
    growthBy: { queueMiB: queue, heapMiB: heap, externalOutsideQueuesMiB: external - queue, nativeMiB: last - first - heap - external },
  };
}
