// Figure 11: one encode, many destinations (issue 20). At 720p30 and 1080p30, noisy frames put()
// in real time for BENCH_DEST_SECONDS into
//   (a) one MultiSkyLine with a FileDestination, an RtspDestination, an RtmpDestination (nginx-rtmp)
//       and a KvsDestination (the KVS emulator): one x264 for all four;
//   (b) four SkyLines, FileSkyLine, RTSPSkyLine, RtmpSkyLine and KVSSkyLine, each given every frame:
//       four x264s, what a user had to build before destinations;
//   (c) a FileSkyLine alone.
// CPU is this process's (process.cpuUsage: every thread, user + system) from the first put() to the
// end of stopStreaming(), per frame put; start-up is reported apart. The relay (nginx) and the
// emulator run as child processes, read from /proc, and are reported next to it: they serve (a) and
// (b) alike. Every output is read back: the file and the relay's recording with ffprobe, the frames
// the emulator stored, an RTSP viewer's pictures. Contenders alternate; medians are reported.
//
// The second part (the relay figure, bench/figures/relay.ts) compares a camera re-served through
// LiveSource.attach() with decode + re-encode and with `ffmpeg -c copy`.
import { basename, join } from 'node:path';
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { FileDestination, FileSkyLine, KvsDestination, KVSSkyLine, MultiSkyLine, RtmpDestination, RtmpSkyLine, RtspDestination, RTSPSkyLine, type SkyLine } from '../../src/index.js';
import { NginxRtmp } from '../../test/support/nginx-rtmp.js';
import { TEST_KEY } from '../../test/support/kvs/harness.js';
import { CONFIG, quietLogger, skylineOptions, workDir } from '../lib/config.js';
import { noisyFrames } from '../lib/frames.js';
import { startPeer, type Peer } from '../lib/peer.js';
import { countFrames } from '../lib/probe.js';
import { cpuSeconds, procCpuSplit, sleep, threadCpuSeconds, threadsByName } from '../lib/proc.js';
import { median } from '../lib/stats.js';
import relayFigure, { type RelayResult } from './relay.js';

const FPS = 30, DISTINCT = 16;
export const DEST_SIZES = [
  { label: '720p', width: 1280, height: 720 },
  { label: '1080p', width: 1920, height: 1080 },
] as const;

export type DestKey = 'a' | 'b' | 'c';
export const DEST_NAMES: Record<DestKey, string> = {
  a: 'MultiSkyLine: file + RTSP + RTMP + KVS, one encode',
  b: 'four SkyLines: FileSkyLine, RTSPSkyLine, RtmpSkyLine, KVSSkyLine',
  c: 'FileSkyLine alone',
};

/** What one output delivered, read back independently. */
export interface OutputCheck {
  output: 'file' | 'rtsp' | 'rtmp' | 'kvs';
  /** Frames the output holds (file, relay recording, KVS) or pictures the RTSP viewer received. */
  got: number;
  /**
   * What it should hold: the frames its SkyLine kept (put minus dropped at put() when the encoder
   * fell behind) for the file, relay and KVS; for RTSP, pictures encoded while the viewer played.
   */
  expected: number;
  /** How `got` was read. */
  how: string;
  /** RTSP: gaps in the RTP sequence numbers the viewer saw (packets lost). */
  gaps?: number;
  note?: string;
}

export interface DestRun {
  key: DestKey;
  /** Frames put (the same to every SkyLine of the contender). */
  frames: number;
  /** This process's CPU from the first put() to the end of stopStreaming(), s. */
  cpuS: number;
  cpuPerFrameMs: number;
  /** This process's CPU in startStreaming(), s (pipelines, publishes, KVS handshake). */
  startCpuS: number;
  /** Children's CPU over the same window as cpuS, s. */
  relayCpuS: number;
  emulatorCpuS: number;
  viewerCpuS: number;
  /** (cpuS + relay + emulator) per frame. */
  cpuPerFrameWithPeersMs: number;
  wallS: number;
  /** Frames the SkyLines dropped (sum over SkyLines), and units dropped by destinations. */
  framesDropped: number;
  unitsDropped: number;
  /** Encoder runs: frames encoded per SkyLine. */
  framesEncoded: number[];
  /** cpuS per frame the contender's SkyLines kept on average (put less dropped): what each encoder did. */
  cpuPerKeptFrameMs: number;
  /**
   * Where the CPU went from the first put() to the last (threads read before stopping: the
   * encoder's end with the session), by thread name, busiest first.
   */
  threads: Array<{ name: string; threads: number; msPerFrame: number }>;
  outputs: OutputCheck[];
  errors: string[];
  loadAverage: number;
}

export interface DestContender {
  key: DestKey;
  name: string;
  runs: DestRun[];
  /** The run with the median CPU per frame. */
  median: DestRun;
}

export interface DestSize {
  label: string;
  width: number;
  height: number;
  contenders: DestContender[];
  ratios: {
    /** Medians' CPU per frame, this process only. */
    aOverB: number;
    aOverC: number;
    /** Median over repetitions of the ratio within each repetition (a, b, c ran back to back). */
    aOverBPaired: number;
    aOverCPaired: number;
    /** With the relay's and emulator's CPU added to (a) and (b). */
    aOverBWithPeers: number;
    /** Per frame each SkyLine kept (b's SkyLines drop frames when the four encoders fall behind): medians. */
    aOverBPerKept: number;
  };
}

export interface DestinationsResult {
  fps: number;
  seconds: number;
  repeats: number;
  /** What the CPU figures count. */
  counted: string;
  sizes: DestSize[];
  /** When the figure ran (ISO), and the load average at its start and end (the machine is shared). */
  date: string;
  loadAverageStart: number;
  loadAverageEnd: number;
  /** Every output received every frame in every run. */
  allDelivered: boolean;
  relay: RelayResult;
}

interface Env {
  relay: NginxRtmp;
  relayPid: number;
  emulator: Peer;
  endpoint: string;
  region: string;
  viewer: Peer;
  dir: string;
}

/** What the figure uses of a SkyLine (KVSSkyLine's extra events make it another SkyLine<…>). */
type Sky = Pick<SkyLine, 'startStreaming' | 'put' | 'stats' | 'stopStreaming' | 'close'> & { on(event: 'error', listener: (err: Error) => void): unknown };

const cpuOf = (pid: number) => {
  const c = procCpuSplit(pid);
  return c.user + c.system;
};

/** Builds the contender's SkyLines; returns them with where to read each output back. */
function build(key: DestKey, env: Env, id: string): {
  skies: Sky[];
  file: () => string | undefined;
  rtspUrl: () => string;
  rtspSky: Sky | undefined;
  rtmpKey: string | undefined;
  kvsStream: string | undefined;
  destinations: Array<{ stats(): { unitsDropped: number; state: string; name: string } }>;
} {
  const path = join(env.dir, `dest-${id}.mp4`);
  const rtmpKey = `k-${id}`;
  const kvsStream = `s-${id}`;
  const kvs = { streamName: kvsStream, region: env.region, credentials: TEST_KEY, endpoint: env.endpoint };
  const base = { ...skylineOptions() };
  if (key === 'a') {
    const file = new FileDestination({ path });
    const rtsp = new RtspDestination({ port: 0, logger: quietLogger() });
    const rtmp = new RtmpDestination({ url: env.relay.url(rtmpKey) });
    const kv = new KvsDestination(kvs);
    const sky = new MultiSkyLine({ ...base, destinations: [file, rtsp, rtmp, kv] });
    return { skies: [sky], file: () => file.path, rtspUrl: () => rtsp.url, rtspSky: sky, rtmpKey, kvsStream, destinations: [file, rtsp, rtmp, kv] };
  }
  const file = new FileSkyLine({ path, ...base });
  if (key === 'c') return { skies: [file], file: () => file.path, rtspUrl: () => '', rtspSky: undefined, rtmpKey: undefined, kvsStream: undefined, destinations: [] };
  const rtsp = new RTSPSkyLine({ port: 0, ...base });
  const rtmp = new RtmpSkyLine({ url: env.relay.url(rtmpKey), ...base });
  const kv = new KVSSkyLine({ ...kvs, sink: 'putmedia', ...base });
  return { skies: [file, rtsp, rtmp, kv], file: () => file.path, rtspUrl: () => rtsp.url, rtspSky: rtsp, rtmpKey, kvsStream, destinations: [] };
}

async function runOnce(key: DestKey, env: Env, frames: Buffer[], size: { label: string; width: number; height: number }, id: string): Promise<DestRun> {
  const W = size.width, H = size.height;
  const n = Math.round(CONFIG.destSeconds * FPS);
  const loadAverage = loadavg()[0]!;
  const c = build(key, env, id);
  if (c.kvsStream) {
    const r = await env.emulator.ask(`add ${c.kvsStream}`);
    if (r !== 'ok') throw new Error(`emulator: ${r}`);
  }
  const errors: string[] = [];
  for (const s of c.skies) s.on('error', (e: Error) => errors.push(`${s.constructor.name}: ${e.message}`));
  try {
    const s0 = cpuSeconds();
    await Promise.all(c.skies.map((s) => s.startStreaming({ fps: FPS, width: W, height: H })));
    const startCpuS = cpuSeconds() - s0;

    // The RTSP viewer joins as the stream starts; what it received is compared with what was
    // encoded from the moment it played.
    let encodedAtPlay = 0;
    const playing = c.rtspSky
      ? env.viewer.ask(`watch ${c.rtspUrl()}`, 20_000).then((l) => {
          encodedAtPlay = c.rtspSky!.stats().framesEncoded;
          return l;
        })
      : Promise.resolve('');

    const relay0 = cpuOf(env.relayPid), emu0 = cpuOf(env.emulator.pid), view0 = cpuOf(env.viewer.pid);
    const th0 = threadCpuSeconds();
    const c0 = cpuSeconds();
    const t0 = performance.now();
    const origin = Date.now();
    for (let i = 0; i < n; i++) {
      const frame = { data: frames[i % DISTINCT]!, width: W, height: H };
      for (const s of c.skies) s.put(frame, { timestamp: origin + (i * 1000) / FPS });
      await sleep(Math.max(0, t0 + ((i + 1) * 1000) / FPS - performance.now()));
    }
    const threads = threadsByName(th0, threadCpuSeconds(), n);
    const stats = c.skies.map((s) => s.stats());
    const destStats = c.destinations.map((d) => d.stats());
    const rtspEncodedEnd = c.rtspSky ? c.rtspSky.stats().framesEncoded : 0;
    await Promise.all(c.skies.map((s) => s.stopStreaming()));
    const cpuS = cpuSeconds() - c0;
    const wallS = (performance.now() - t0) / 1000;
    const relayCpuS = cpuOf(env.relayPid) - relay0, emulatorCpuS = cpuOf(env.emulator.pid) - emu0, viewerCpuS = cpuOf(env.viewer.pid) - view0;

    const outputs: OutputCheck[] = [];
    // Frames each output's SkyLine kept: (a) one SkyLine for all; (b) file, RTSP, RTMP, KVS in turn.
    const kept = (i: number) => n - stats[Math.min(i, stats.length - 1)]!.framesDropped;
    const file = c.file();
    outputs.push({ output: 'file', got: file ? await countFrames(file) : NaN, expected: kept(0), how: 'ffprobe -count_packets on the MP4' });
    if (c.rtspSky) {
      const play = await playing;
      const v = JSON.parse(await env.viewer.ask('count')) as { pictures: number; seqGaps: number; playing: boolean; error: string | null };
      outputs.push({
        output: 'rtsp', got: v.pictures, expected: rtspEncodedEnd - encodedAtPlay, gaps: v.seqGaps, how: 'RTP marker bits counted by a viewer over RTSP/TCP (from its first keyframe)',
        note: `${play}; ${v.seqGaps} RTP sequence gaps${v.error ? `; ${v.error}` : ''}`,
      });
    }
    if (c.rtmpKey) {
      // nginx records every publish (record all, record_unique) and closes the file when it ends.
      let flv: string | undefined;
      for (let k = 0; k < 20 && !flv; k++) {
        flv = (await env.relay.recordings()).find((p) => basename(p).startsWith(`${c.rtmpKey}-`));
        if (!flv) await sleep(100);
      }
      outputs.push({ output: 'rtmp', got: flv ? await countFrames(flv) : NaN, expected: kept(2), how: "ffprobe on nginx-rtmp's recording of the publish (record all)" });
      if (flv) rmSync(flv, { force: true });
    }
    if (c.kvsStream) {
      const k = JSON.parse(await env.emulator.ask(`count ${c.kvsStream}`)) as { frames: number; fragments: number; connections: number };
      outputs.push({ output: 'kvs', got: k.frames, expected: kept(3), how: 'frames in the fragments the emulator stored (PERSISTED)', note: `${k.fragments} fragments, ${k.connections} PutMedia connection(s)` });
      await env.emulator.ask(`drop ${c.kvsStream}`);
    }
    if (file) {
      rmSync(file, { force: true });
      rmSync(`${file}.timestamps.csv`, { force: true });
    }
    return {
      key, frames: n, cpuS, cpuPerFrameMs: (cpuS * 1000) / n, startCpuS, relayCpuS, emulatorCpuS, viewerCpuS,
      cpuPerFrameWithPeersMs: ((cpuS + relayCpuS + emulatorCpuS) * 1000) / n,
      cpuPerKeptFrameMs: (cpuS * 1000) / (n - stats.reduce((a, st) => a + st.framesDropped, 0) / stats.length),
      threads,
      wallS,
      framesDropped: stats.reduce((a, s) => a + s.framesDropped, 0),
      unitsDropped: [...destStats, ...stats.flatMap((s) => s.destinations)].reduce((a, d) => a + d.unitsDropped, 0),
      framesEncoded: stats.map((s) => s.framesEncoded),
      outputs, errors, loadAverage,
    };
  } finally {
    await Promise.all(c.skies.map((s) => s.close().catch(() => undefined)));
  }
}

const pick = (runs: DestRun[]): DestRun => {
  const m = median(runs.map((r) => r.cpuPerFrameMs));
  return runs.find((r) => r.cpuPerFrameMs === m)!;
};

export function delivered(r: DestRun): boolean {
  return r.outputs.every((o) => (o.output === 'rtsp' ? o.got >= o.expected - FPS * 1.2 && o.got > 0 && o.gaps === 0 : o.got === o.expected));
}

export default async function destinations(): Promise<DestinationsResult> {
  if (!NginxRtmp.available()) throw new Error('nginx with the RTMP module is needed: apt-get install nginx libnginx-mod-rtmp');
  const dir = workDir();
  const loadAverageStart = loadavg()[0]!;
  const relay = await NginxRtmp.start({ apps: { live: { record: true } } });
  const relayPid = (relay as unknown as { child?: { pid?: number } }).child?.pid;
  if (!relayPid) throw new Error('nginx-rtmp: no pid');
  const tsx = ['--import', 'tsx'];
  const emulator = await startPeer(process.execPath, [...tsx, new URL('../peers/kvs-emulator.ts', import.meta.url).pathname]);
  const viewer = await startPeer(process.execPath, [...tsx, new URL('../peers/rtsp-counter.ts', import.meta.url).pathname]);
  const [, endpoint, region] = emulator.hello.split(' ') as [string, string, string];
  const env: Env = { relay, relayPid, emulator, endpoint, region, viewer, dir };
  const sizes: DestSize[] = [];
  try {
    for (const size of DEST_SIZES) {
      const frames = noisyFrames(size.width, size.height, DISTINCT);
      const runs: Record<DestKey, DestRun[]> = { a: [], b: [], c: [] };
      const orders: DestKey[][] = [['a', 'b', 'c'], ['b', 'c', 'a'], ['c', 'a', 'b']];
      // One untimed run of (a) first: the first pipelines of a process pay for loading plugins.
      if (sizes.length === 0) await runOnce('a', env, frames, size, `warm-${size.label}`);
      for (let k = 0; k < CONFIG.destRepeats; k++) {
        for (const key of orders[k % orders.length]!) {
          const r = await runOnce(key, env, frames, size, `${key}-${size.label}-${k}`);
          process.stderr.write(`[destinations] ${size.label} (${key}) ${r.cpuPerFrameMs.toFixed(2)} ms/frame, dropped ${r.framesDropped}, outputs ${r.outputs.map((o) => `${o.output} ${o.got}/${o.expected}`).join(', ')}${r.errors.length ? `, errors: ${r.errors.join(' | ')}` : ''}\n`);
          runs[key].push(r);
        }
      }
      const contenders = (['a', 'b', 'c'] as const).map((key) => ({ key, name: DEST_NAMES[key], runs: runs[key], median: pick(runs[key]) }));
      const [a, b, cc] = contenders.map((x) => x.median) as [DestRun, DestRun, DestRun];
      sizes.push({
        ...size, contenders,
        ratios: {
          aOverB: a.cpuPerFrameMs / b.cpuPerFrameMs,
          aOverC: a.cpuPerFrameMs / cc.cpuPerFrameMs,
          aOverBPaired: median(runs.a.map((r, k) => r.cpuPerFrameMs / runs.b[k]!.cpuPerFrameMs)),
          aOverCPaired: median(runs.a.map((r, k) => r.cpuPerFrameMs / runs.c[k]!.cpuPerFrameMs)),
          aOverBWithPeers: median(runs.a.map((r) => r.cpuPerFrameWithPeersMs)) / median(runs.b.map((r) => r.cpuPerFrameWithPeersMs)),
          aOverBPerKept: median(runs.a.map((r) => r.cpuPerKeptFrameMs)) / median(runs.b.map((r) => r.cpuPerKeptFrameMs)),
        },
      });
    }
  } finally {
    emulator.kill();
    viewer.kill();
    await relay.dispose();
  }
  const relayResult = await relayFigure();
  return {
    fps: FPS, seconds: CONFIG.destSeconds, repeats: CONFIG.destRepeats,
    counted:
      "This Node process's CPU (process.cpuUsage: all threads, user + system) from the first put() to the end of stopStreaming(), per frame put. " +
      'Not counted in the ratios: nginx-rtmp and the KVS emulator (child processes, reported apart: they serve (a) and (b) alike) and the RTSP viewer (a child process). ' +
      "Counted: the RTSP server's packetization and socket writes, the RTMP and KVS clients, and start-up is reported apart.",
    sizes,
    date: new Date().toISOString(),
    loadAverageStart,
    loadAverageEnd: loadavg()[0]!,
    allDelivered: sizes.every((s) => s.contenders.every((k) => k.runs.every(delivered))),
    relay: relayResult,
  };
}
