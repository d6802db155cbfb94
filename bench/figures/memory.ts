// Figure 5: memory. (1) RSS through a run whose encoder stalls (its pipeline paused right after
// it plays; the tap's watchdog reconnects it every few seconds, to stall again): the queue between put() and the encoder must stay within
// its budget and put() must keep dropping the oldest frames instead of growing. (2) RSS
// across stopStreaming()/startStreaming() cycles: the binding never frees a pipeline, so the
// base reuses it when the description is unchanged; what does a restart cost?
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileSkyLine, MultiSkyLine } from '../../src/index.js';
import { encoderPipelines } from '../../test/support/encoder-pipelines.js';
import { CONFIG, workDir, skylineOptions } from '../lib/config.js';
import { noisyFrames } from '../lib/frames.js';
import { countPipelines, pipelinesCreated } from '../lib/gst-count.js';
import { rssBytes, sleep } from '../lib/proc.js';
import { median, slope } from '../lib/stats.js';

const MiB = 2 ** 20;

export interface StallResult {
  seconds: number;
  width: number;
  height: number;
  fps: number;
  queueBudgetBytes: number;
  /** queueMiB: the queue's own account of its memory (converter memory and slots). */
  samples: Array<{ t: number; rssMiB: number; queued: number; dropped: number; queueMiB?: number }>;
  baselineMiB: number;
  peakMiB: number;
  finalMiB: number;
  /** Growth over the second half of the run, MiB per minute (flat: about 0). */
  secondHalfSlopeMiBPerMin: number;
  /** Median RSS over the second half. */
  plateauMiB: number;
  /** The same run with a destination that keeps up (shorter): what the pipeline itself holds. */
  reference: { seconds: number; samples: Array<{ t: number; rssMiB: number }>; baselineMiB: number; plateauMiB: number };
  /**
   * Stalled plateau minus the free-flowing one, each above its own baseline: what the stall
   * holds (compare with the queue budget). A reference plateau below its baseline counts as 0:
   * the pipeline cannot hold less than nothing, and subtracting a negative inflated the figure.
   */
  stallExtraMiB: number;
  /** Most memory the queue held by its own account (converter memory and slots), MiB. */
  queuePeakMiB?: number;
  accepted: number;
  dropped: number;
  putMedianUs: number;
}

export interface RestartResult {
  restarts: number;
  width: number;
  height: number;
  framesPerSession: number;
  pipelinesCreated: number;
  samples: Array<{ cycle: number; rssMiB: number }>;
  /** RSS growth per restart after the first 10% of cycles, KiB (least squares). */
  leakKiBPerRestart: number;
  restartMedianMs: number;
  restartMaxMs: number;
  /** fs.readFile still completes after all restarts (no threadpool thread lost). */
  readFileAfterMs: number;
}

export interface MemoryResult {
  stall: StallResult;
  restart: RestartResult;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

interface Fed {
  samples: StallResult['samples'];
  baselineMiB: number;
  putUs: number[];
  stats: { framesAccepted: number; framesDropped: number };
}

/** Feeds 720p30 into a SkyLine for `seconds`, sampling RSS every second; `stalled`: its encoder never hands anything out. */
async function feed(stalled: boolean, seconds: number, queueBytes: number, frames: Buffer[], W: number, H: number, FPS: number): Promise<Fed> {
  const pipelines = encoderPipelines();
  pipelines.stallPlays = stalled;
  const sky = new MultiSkyLine({
    queueBytes,
    ...skylineOptions(),
    statsIntervalMs: 0,
  });
  // A settled baseline: right after a gc() RSS still holds pages V8 and malloc give back
  // over the next seconds (the reference run fell 34 MiB below its baseline at 9 s).
  gc();
  await sleep(3000);
  gc();
  await sleep(1000);
  const baseline = rssBytes();
  await sky.startStreaming({ fps: FPS, width: W, height: H });
  const samples: StallResult['samples'] = [];
  const putUs: number[] = [];
  const t0 = performance.now();
  const total = seconds * FPS;
  let nextSample = 0;
  for (let i = 0; i < total; i++) {
    const a = process.hrtime.bigint();
    sky.put({ data: frames[i % frames.length]!, width: W, height: H });
    putUs.push(Number(process.hrtime.bigint() - a) / 1000);
    const now = performance.now() - t0;
    if (now >= nextSample) {
      const st = sky.stats();
      // The bench reads the queue's retainedBytes (not public API).
      const queueMiB = (sky as unknown as { queue: { retainedBytes: number } }).queue.retainedBytes / MiB;
      samples.push({ t: now / 1000, rssMiB: rssBytes() / MiB, queued: st.queued, dropped: st.framesDropped, queueMiB });
      nextSample += 1000;
    }
    const wait = t0 + ((i + 1) * 1000) / FPS - performance.now();
    await sleep(Math.max(0, wait));
  }
  const stats = sky.stats();
  // Stopping would wait for a stalled encoder to take everything; the run is over, tear down.
  await Promise.race([sky.close(), sleep(3000)]);
  pipelines.restore();
  return { samples, baselineMiB: baseline / MiB, putUs, stats };
}

const secondHalf = <T extends { t: number }>(xs: T[], seconds: number) => xs.filter((x) => x.t >= seconds / 2);

async function stalled(): Promise<StallResult> {
  const W = 1280, H = 720, FPS = 30;
  const queueBytes = 64 * MiB;
  const frames = noisyFrames(W, H, 8);
  const refSeconds = Math.min(30, CONFIG.stallSeconds);
  const ref = await feed(false, refSeconds, queueBytes, frames, W, H, FPS);
  const run = await feed(true, CONFIG.stallSeconds, queueBytes, frames, W, H, FPS);
  const second = secondHalf(run.samples, CONFIG.stallSeconds);
  const plateau = median(second.map((x) => x.rssMiB)) - run.baselineMiB;
  const refPlateau = median(secondHalf(ref.samples, refSeconds).map((x) => x.rssMiB)) - ref.baselineMiB;
  return {
    seconds: CONFIG.stallSeconds, width: W, height: H, fps: FPS, queueBudgetBytes: queueBytes, samples: run.samples,
    baselineMiB: run.baselineMiB,
    peakMiB: Math.max(...run.samples.map((x) => x.rssMiB)),
    finalMiB: run.samples.at(-1)!.rssMiB,
    secondHalfSlopeMiBPerMin: slope(second.map((x) => x.t), second.map((x) => x.rssMiB)) * 60,
    plateauMiB: plateau + run.baselineMiB,
    reference: { seconds: refSeconds, samples: ref.samples.map(({ t, rssMiB }) => ({ t, rssMiB })), baselineMiB: ref.baselineMiB, plateauMiB: refPlateau + ref.baselineMiB },
    stallExtraMiB: plateau - Math.max(0, refPlateau),
    queuePeakMiB: Math.max(...run.samples.map((x) => x.queueMiB ?? 0)),
    accepted: run.stats.framesAccepted, dropped: run.stats.framesDropped, putMedianUs: median(run.putUs),
  };
}

async function restarts(): Promise<RestartResult> {
  const W = 320, H = 240, FPS = 30, PER_SESSION = 3;
  const n = CONFIG.restarts;
  const frames = noisyFrames(W, H, PER_SESSION);
  const sky = new FileSkyLine({
    path: join(workDir(), 'restart-{session}.mp4'),
    timestamps: false,
    ...skylineOptions(),
    statsIntervalMs: 0,
  });
  const before = pipelinesCreated();
  const samples: RestartResult['samples'] = [];
  const durations: number[] = [];
  const every = Math.max(1, Math.floor(n / 50));
  for (let cycle = 0; cycle <= n; cycle++) {
    const t = performance.now();
    await sky.startStreaming({ fps: FPS, width: W, height: H });
    const origin = Date.now();
    for (let k = 0; k < PER_SESSION; k++) sky.put({ data: frames[k]!, width: W, height: H }, { timestamp: origin + (k * 1000) / FPS });
    await sky.stopStreaming();
    durations.push(performance.now() - t);
    if (cycle % every === 0 || cycle === n) {
      gc();
      samples.push({ cycle, rssMiB: rssBytes() / MiB });
    }
  }
  const created = pipelinesCreated() - before;
  const t = performance.now();
  const readFileAfterMs = await Promise.race([
    readFile(new URL(import.meta.url)).then(() => performance.now() - t),
    sleep(5000).then(() => Infinity),
  ]);
  await sky.close();
  const steady = samples.filter((x) => x.cycle >= n / 10);
  return {
    restarts: n, width: W, height: H, framesPerSession: PER_SESSION, pipelinesCreated: created, samples,
    leakKiBPerRestart: slope(steady.map((x) => x.cycle), steady.map((x) => x.rssMiB)) * 1024,
    restartMedianMs: median(durations), restartMaxMs: Math.max(...durations),
    readFileAfterMs,
  };
}

export default async function memory(): Promise<MemoryResult> {
  countPipelines();
  const restart = await restarts();
  const stall = await stalled();
  return { stall, restart };
}

export { restarts, stalled };
