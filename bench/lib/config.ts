// Settings shared by every figure. Defaults keep `npm run bench` near 15 minutes on a
// 2-core machine; the environment variables below make a longer, steadier run.
import { pino } from 'pino';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';

const num = (name: string, dflt: number) => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
};

/** The same encoder settings for every contender. */
export const ENCODER = {
  bitrateKbps: 4000,
  keyframeInterval: 60,
  preset: 'ultrafast',
  tune: 'zerolatency',
} as const;

export const CONFIG = {
  /** Frames per resolution for the put() cost figure (paced at 30 fps). */
  putFrames: num('BENCH_PUT_FRAMES', 300),
  /** Frames per throughput run at 1080p. */
  throughputFrames: num('BENCH_THROUGHPUT_FRAMES', 600),
  /** Runs of each throughput contender (alternating); the median run is reported. */
  throughputRepeats: num('BENCH_THROUGHPUT_REPEATS', 5),
  /** Seconds of the stalled-destination RSS run (the figure is 600). */
  stallSeconds: num('BENCH_STALL_SECONDS', 90),
  /** stopStreaming/startStreaming cycles. */
  restarts: num('BENCH_RESTARTS', 500),
  /** Seconds of video per latency run. */
  latencySeconds: num('BENCH_LATENCY_SECONDS', 40),
  /** Seconds per fan-out client count. */
  fanoutSeconds: num('BENCH_FANOUT_SECONDS', 15),
  /** Seconds of the 8-stream run. */
  manySeconds: num('BENCH_MANY_SECONDS', 20),
  /** Streams per machine (720p30): first N, step, and the most tried; seconds measured per N. */
  capacityFrom: num('BENCH_CAPACITY_FROM', 4),
  capacityStep: num('BENCH_CAPACITY_STEP', 2),
  capacityMax: num('BENCH_CAPACITY_MAX', 16),
  capacitySeconds: num('BENCH_CAPACITY_SECONDS', 10),
  /** Seconds of the 4-stream RSS growth run (the figure is 600; shorter for routine runs). */
  growthSeconds: num('BENCH_GROWTH_SECONDS', 120),
  /** Seconds of video per run of the one-encode-many-destinations figure, and runs per contender. */
  destSeconds: num('BENCH_DEST_SECONDS', 8),
  destRepeats: num('BENCH_DEST_REPEATS', 3),
  /** Seconds measured per run of the camera relay figure, and runs per contender. */
  relaySeconds: num('BENCH_RELAY_SECONDS', 8),
  relayRepeats: num('BENCH_RELAY_REPEATS', 3),
};

export const quietLogger = () => pino({ level: process.env.SKYLINE_LOG_LEVEL ?? 'warn' });

/** A scratch directory for the run's files. */
export function workDir(): string {
  const dir = process.env.BENCH_TMP ?? join(tmpdir(), 'gst-skyline-bench');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** SkyLine options every contender of ours shares: the encoder settings above, quiet logs. */
export const skylineOptions = () => ({
  bitrate: ENCODER.bitrateKbps,
  keyframeInterval: ENCODER.keyframeInterval,
  speedPreset: ENCODER.preset,
  logger: quietLogger(),
});

/** The gst-launch description the base class built for `sky`'s session (to run the same one elsewhere). */
export const pipelineOf = (sky: { pipelineDescription: string | undefined }): string => sky.pipelineDescription ?? '';
