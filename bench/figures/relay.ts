// Figure 11, second part: a camera relayed to a file, three ways, same camera, same seconds.
//   (r) LiveSource.attach(new FileDestination(...)): the camera's own H.264, no decode, no encode;
//   (d) LiveSource frames (BGR, decoded) → put() into a FileSkyLine: decode + annotate nothing + re-encode;
//   (f) ffmpeg -rtsp_transport tcp -i rtsp://… -c copy -f mp4 (fragmented, as ours): the usual tool.
// The camera (bench/peers/rtsp-camera.ts) is our RTSP server in a child process, looping a clip of
// the benchmark's noisy frames that ffmpeg encoded once. CPU: this process's for (r) and (d), from
// before start() to the file closed, after an untimed warm-up run of each (plugin loading); ffmpeg's
// own from the kernel (/usr/bin/time) for (f), its start-up included. Per frame in the file (ffprobe). Contenders alternate; medians are reported.
// LiveSource.attach comes with branch kvs-relay: without it (r) is skipped and said so.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { FileDestination, FileSkyLine, LiveSource, type Destination } from '../../src/index.js';
import { CONFIG, quietLogger, skylineOptions, workDir } from '../lib/config.js';
import { startPeer, type Peer } from '../lib/peer.js';
import { countFrames } from '../lib/probe.js';
import { cpuSeconds, sleep, spawnTimed, threadCpuSeconds, threadsByName } from '../lib/proc.js';
import { median } from '../lib/stats.js';

const FPS = 30;
export const RELAY_SIZE = { label: '720p', width: 1280, height: 720 } as const;

export type RelayKey = 'r' | 'd' | 'f';
export const RELAY_NAMES: Record<RelayKey, string> = {
  r: 'LiveSource.attach(FileDestination): no decode, no encode',
  d: 'LiveSource frames (BGR) → FileSkyLine.put(): decode + re-encode',
  f: 'ffmpeg -rtsp_transport tcp -i rtsp://… -c copy (fragmented MP4)',
};

export interface RelayRun {
  key: RelayKey;
  cpuS: number;
  wallS: number;
  framesInFile: number;
  cpuPerFrameMs: number;
  /** (r): frames LiveSource decoded (must stay 0). */
  framesDecoded?: number;
  /** (d): frames the SkyLine dropped, and frames the source's iterator dropped. */
  dropped?: number;
  /** (r), (d): this process's CPU by thread name, ms per frame in the file (threads alive at the end of the window). */
  threads?: Array<{ name: string; threads: number; msPerFrame: number }>;
  errors: string[];
  loadAverage: number;
}

export interface RelayContender {
  key: RelayKey;
  name: string;
  runs: RelayRun[];
  median: RelayRun;
}

export interface RelayResult {
  /** Set when the figure (or its (r) part) could not run. */
  skipped?: string;
  /** Which library code ran, when not this branch's (BENCH_SOURCE_NOTE, e.g. "src/ of branch kvs-relay at 2553bc6"). */
  source?: string;
  /** When it ran (ISO) and the load average then. */
  date?: string;
  loadAverage?: number;
  width?: number;
  height?: number;
  fps?: number;
  seconds?: number;
  contenders?: RelayContender[];
  ratios?: {
    /** CPU per frame, medians: (r)/(d), goal ≤ 0.1; (r)/(f), goal ≤ 1.5; (d)/(f) for scale. */
    rOverD?: number;
    rOverF?: number;
    dOverF: number;
  };
  ffmpegArgs?: string[];
  counted?: string;
}

/** LiveSource.attach exists on this branch (it comes with kvs-relay). */
export function relayAvailable(): boolean {
  return typeof (LiveSource.prototype as unknown as { attach?: unknown }).attach === 'function';
}

type Attachable = LiveSource & { attach(d: Destination): Promise<void>; stats(): { framesDecoded: number } };

async function runAttach(url: string, out: string, seconds = CONFIG.relaySeconds): Promise<RelayRun> {
  const loadAverage = loadavg()[0]!;
  const errors: string[] = [];
  const c0 = cpuSeconds(), t0 = performance.now();
  const source = new LiveSource({ url, rtspTransport: 'tcp', logger: quietLogger() }) as Attachable;
  source.on('error', (e: Error) => errors.push(e.message));
  const file = new FileDestination({ path: out, sidecar: true });
  file.on('error', (e: Error) => errors.push(e.message));
  let framesDecoded = NaN;
  const th0 = threadCpuSeconds();
  let th1 = th0;
  try {
    await source.attach(file);
    await source.start();
    await sleep(seconds * 1000);
    framesDecoded = source.stats().framesDecoded;
    th1 = threadCpuSeconds();
  } finally {
    // close() detaches and disposes the destinations: the file is complete when it resolves.
    await source.close();
  }
  const cpuS = cpuSeconds() - c0, wallS = (performance.now() - t0) / 1000;
  const framesInFile = await countFrames(file.path ?? out);
  rmSync(file.path ?? out, { force: true });
  rmSync(`${file.path ?? out}.timestamps.csv`, { force: true });
  return { key: 'r', cpuS, wallS, framesInFile, cpuPerFrameMs: (cpuS * 1000) / framesInFile, framesDecoded, threads: threadsByName(th0, th1, framesInFile), errors, loadAverage };
}

async function runReencode(url: string, out: string, seconds = CONFIG.relaySeconds): Promise<RelayRun> {
  const loadAverage = loadavg()[0]!;
  const errors: string[] = [];
  const c0 = cpuSeconds(), t0 = performance.now();
  const source = new LiveSource({ url, rtspTransport: 'tcp', logger: quietLogger() });
  source.on('error', (e: Error) => errors.push(e.message));
  const sky = new FileSkyLine({ path: out, ...skylineOptions() });
  sky.on('error', (e: Error) => errors.push(e.message));
  let dropped = 0;
  const th0 = threadCpuSeconds();
  let th1 = th0;
  try {
    await sky.startStreaming({ fps: FPS, width: RELAY_SIZE.width, height: RELAY_SIZE.height });
    await source.start();
    const end = performance.now() + seconds * 1000;
    for await (const f of source) {
      // Annotate nothing: the decoded frame goes straight back to an encoder.
      sky.put(f, { timestamp: f.timestamp });
      if (performance.now() >= end) break;
    }
    dropped = sky.stats().framesDropped;
    th1 = threadCpuSeconds();
    await sky.stopStreaming();
  } finally {
    await source.close();
    await sky.close();
  }
  const cpuS = cpuSeconds() - c0, wallS = (performance.now() - t0) / 1000;
  const framesInFile = await countFrames(sky.path ?? out);
  rmSync(sky.path ?? out, { force: true });
  rmSync(`${sky.path ?? out}.timestamps.csv`, { force: true });
  return { key: 'd', cpuS, wallS, framesInFile, cpuPerFrameMs: (cpuS * 1000) / framesInFile, dropped, threads: threadsByName(th0, th1, framesInFile), errors, loadAverage };
}

const ffmpegArgs = (url: string, out: string) => [
  '-hide_banner', '-loglevel', 'error', '-nostats', '-y', '-rtsp_transport', 'tcp', '-i', url,
  '-t', String(CONFIG.relaySeconds), '-c', 'copy', '-movflags', 'frag_keyframe+empty_moov', '-f', 'mp4', out,
];

async function runFfmpeg(url: string, out: string): Promise<RelayRun> {
  const loadAverage = loadavg()[0]!;
  const r = await spawnTimed('ffmpeg', ffmpegArgs(url, out), { timeoutMs: (CONFIG.relaySeconds + 30) * 1000 }).done;
  const framesInFile = await countFrames(out);
  rmSync(out, { force: true });
  const errors = r.code === 0 ? [] : [`ffmpeg exit ${r.code ?? r.signal}: ${r.stderr.slice(0, 500)}`];
  return { key: 'f', cpuS: r.cpuS, wallS: r.wallMs / 1000, framesInFile, cpuPerFrameMs: (r.cpuS * 1000) / framesInFile, errors, loadAverage };
}

export default async function relay(): Promise<RelayResult> {
  const attach = relayAvailable();
  let camera: Peer | undefined;
  try {
    camera = await startPeer(process.execPath, ['--import', 'tsx', new URL('../peers/rtsp-camera.ts', import.meta.url).pathname, String(RELAY_SIZE.width), String(RELAY_SIZE.height), String(FPS)], 120_000);
    const url = camera.hello.split(' ')[1]!;
    const dir = workDir();
    const keys: RelayKey[] = attach ? ['r', 'd', 'f'] : ['d', 'f'];
    const runs: Record<RelayKey, RelayRun[]> = { r: [], d: [], f: [] };
    // Untimed, short: the first pipelines of a process load GStreamer's plugins (the muxer, the
    // decoder, x264), once per process; ffmpeg pays its start-up in every run and it is counted.
    if (attach) await runAttach(url, join(dir, 'relay-warm-r.mp4'), 2);
    await runReencode(url, join(dir, 'relay-warm-d.mp4'), 2);
    for (let k = 0; k < CONFIG.relayRepeats; k++) {
      const order = keys.map((_, i) => keys[(i + k) % keys.length]!);
      for (const key of order) {
        const out = join(dir, `relay-${key}-${k}.mp4`);
        const r = key === 'r' ? await runAttach(url, out) : key === 'd' ? await runReencode(url, out) : await runFfmpeg(url, out);
        process.stderr.write(`[relay] (${key}) ${r.cpuPerFrameMs.toFixed(2)} ms/frame, ${r.framesInFile} frames in ${r.wallS.toFixed(1)} s${r.errors.length ? `, errors: ${r.errors.join(' | ')}` : ''}\n`);
        runs[key].push(r);
      }
    }
    const pick = (rs: RelayRun[]) => {
      const m = median(rs.map((r) => r.cpuPerFrameMs));
      return rs.find((r) => r.cpuPerFrameMs === m)!;
    };
    const contenders = keys.map((key) => ({ key, name: RELAY_NAMES[key], runs: runs[key], median: pick(runs[key]) }));
    const m = (key: RelayKey) => contenders.find((c) => c.key === key)?.median.cpuPerFrameMs ?? NaN;
    return {
      ...(process.env.BENCH_SOURCE_NOTE ? { source: process.env.BENCH_SOURCE_NOTE } : {}),
      date: new Date().toISOString(),
      loadAverage: loadavg()[0]!,
      ...(attach ? {} : { skipped: 'skipped: LiveSource.attach missing (it comes with branch kvs-relay); (d) and (f) measured alone' }),
      width: RELAY_SIZE.width, height: RELAY_SIZE.height, fps: FPS, seconds: CONFIG.relaySeconds,
      contenders,
      ratios: { ...(attach ? { rOverD: m('r') / m('d'), rOverF: m('r') / m('f') } : {}), dOverF: m('d') / m('f') },
      ffmpegArgs: ffmpegArgs('rtsp://…', 'out.mp4'),
      counted:
        "(r), (d): this Node process's CPU (all threads) from before LiveSource.start() to the file closed, per frame in the file, after one untimed 2 s run of each (the process's first pipelines load GStreamer's plugins); " +
        "(f): ffmpeg's CPU from the kernel's rusage, its start-up included. The camera (a child process) is not counted.",
    };
  } catch (err) {
    return { skipped: `relay figure failed: ${(err as Error).message}` };
  } finally {
    camera?.kill();
  }
}
