// Figure 4: RTSP fan-out at 720p30. The server process's CPU and the share of encoded
// pictures each viewer received, with 0 (encoding only), 1, 10 and 50 viewers. Viewers are
// counting RTSP clients (RTP over the RTSP TCP connection, no decoding) in another process.
// The peer is gst-rtsp-server (python3-gi) with the same pipeline, its CPU read from /proc.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RTSPSkyLine } from '../../src/index.js';
import { peerLaunch } from './latency.js';
import { CONFIG, workDir, skylineOptions, pipelineOf } from '../lib/config.js';
import { noisyFrames } from '../lib/frames.js';
import { freePort } from '../lib/ports.js';
import { CountingViewer } from '../lib/rtsp-client.js';
import { cpuSplit, procCpuSplit, sleep } from '../lib/proc.js';
import { mean } from '../lib/stats.js';

const W = 1280, H = 720, FPS = 30, DISTINCT = 16;
export const CLIENT_COUNTS = [0, 1, 10, 50];

export interface FanoutRow {
  server: string;
  clients: number;
  /** Server CPU over the window, in cores (1.0 = one core busy). */
  cpuCores: number;
  /** Of which in the kernel (socket writes; on loopback also the receivers' TCP path). */
  systemCores: number;
  /** Pictures encoded (ours) or pushed (peer) during the window. */
  pictures: number;
  /** Mean over viewers of pictures received / pictures encoded. */
  deliveredMean: number;
  deliveredMin: number;
  viewersPlaying: number;
  seqGaps: number;
  viewerProcessCores: number;
}

export interface FanoutResult {
  width: number;
  height: number;
  fps: number;
  seconds: number;
  rows: FanoutRow[];
}

interface Measured {
  clients: Array<{ pictures: number; seqGaps: number; playing: boolean }>;
  viewerCpuS: number;
}

/** Runs N viewers against `url`; calls `window` between "go" and "stop". */
async function withViewers(url: string, n: number, window: () => Promise<void>): Promise<Measured> {
  if (n === 0) {
    await window();
    return { clients: [], viewerCpuS: 0 };
  }
  const script = fileURLToPath(new URL('../peers/viewers.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, url, String(n)], { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { if (stderr.length < 20_000) stderr += d; });
  const lines = createInterface({ input: child.stdout });
  const next = () => new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`viewers did not answer: ${stderr.slice(0, 2000)}`)), 60_000);
    lines.once('line', (l) => { clearTimeout(timer); resolve(l); });
  });
  try {
    const first = await next();
    if (first !== 'playing') throw new Error(`viewers: ${first} ${stderr}`);
    await sleep(1500); // past the join keyframe
    child.stdin.write('go\n');
    await window();
    child.stdin.write('stop\n');
    const r = JSON.parse(await next()) as { rows: Measured['clients']; cpuS: number };
    return { clients: r.rows, viewerCpuS: r.cpuS };
  } finally {
    child.kill('SIGKILL');
  }
}

function rowOf(server: string, n: number, cpu: { user: number; system: number }, wallS: number, pictures: number, m: Measured): FanoutRow {
  const ratios = m.clients.map((c) => Math.min(1, c.pictures / Math.max(1, pictures)));
  return {
    server, clients: n, cpuCores: (cpu.user + cpu.system) / wallS, systemCores: cpu.system / wallS, pictures,
    deliveredMean: n ? mean(ratios) : NaN,
    deliveredMin: n ? Math.min(...ratios) : NaN,
    viewersPlaying: m.clients.filter((c) => c.playing).length,
    seqGaps: m.clients.reduce((a, c) => a + c.seqGaps, 0),
    viewerProcessCores: m.viewerCpuS / wallS,
  };
}

async function ours(frames: Buffer[]): Promise<{ rows: FanoutRow[]; description: string }> {
  const sky = new RTSPSkyLine({
    port: 0,
    ...skylineOptions(),
    serverOptions: { maxSessions: 200 },
  });
  await sky.startStreaming({ fps: FPS, width: W, height: H });
  const description = pipelineOf(sky);
  let stop = false;
  const feeder = (async () => {
    const t0 = performance.now();
    for (let i = 0; !stop; i++) {
      sky.put({ data: frames[i % DISTINCT]!, width: W, height: H });
      await sleep(Math.max(0, t0 + ((i + 1) * 1000) / FPS - performance.now()));
    }
  })();
  const rows: FanoutRow[] = [];
  try {
    await sleep(1000);
    for (const n of CLIENT_COUNTS) {
      let cpu = { user: 0, system: 0 }, wall = 0, pictures = 0;
      const m = await withViewers(sky.url, n, async () => {
        const c0 = cpuSplit(), t0 = performance.now(), p0 = sky.stats().framesEncoded;
        await sleep(CONFIG.fanoutSeconds * 1000);
        const c1 = cpuSplit();
        cpu = { user: c1.user - c0.user, system: c1.system - c0.system };
        wall = (performance.now() - t0) / 1000;
        pictures = sky.stats().framesEncoded - p0;
      });
      rows.push(rowOf('RTSPSkyLine', n, cpu, wall, pictures, m));
      await sleep(500);
    }
  } finally {
    stop = true;
    await feeder;
    await sky.stopStreaming();
    await sky.close();
  }
  return { rows, description };
}

async function peer(frames: Buffer[], launch: string): Promise<FanoutRow[]> {
  const raw = join(workDir(), 'fanout-frames.bgr');
  writeFileSync(raw, Buffer.concat(frames));
  const port = await freePort();
  const script = fileURLToPath(new URL('../peers/gst_rtsp_server.py', import.meta.url));
  const server = spawn('/usr/bin/python3', [script, String(port), String(W), String(H), String(FPS), raw, String(DISTINCT), launch], { stdio: ['ignore', 'pipe', 'pipe'] });
  let pushed = 0;
  let stderr = '';
  server.stderr.on('data', (d: Buffer) => { if (stderr.length < 20_000) stderr += d; });
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: server.stdout }).on('line', (l) => {
      if (l.startsWith('ready')) resolve();
      else if (l.startsWith('P ')) pushed++;
    });
    server.on('close', (code) => reject(new Error(`gst-rtsp-server exited (${code}): ${stderr.slice(0, 2000)}`)));
  });
  const url = `rtsp://127.0.0.1:${port}/live`;
  const rows: FanoutRow[] = [];
  try {
    await ready;
    // gst-rtsp-server builds its pipeline for the first viewer; one stays connected
    // throughout (not counted) so every row measures the same running pipeline.
    const keeper = new CountingViewer(url);
    await keeper.start();
    await sleep(1000);
    for (const n of CLIENT_COUNTS) {
      let cpu = { user: 0, system: 0 }, wall = 0, pictures = 0;
      const m = await withViewers(url, n, async () => {
        const c0 = procCpuSplit(server.pid!), t0 = performance.now(), p0 = pushed;
        await sleep(CONFIG.fanoutSeconds * 1000);
        const c1 = procCpuSplit(server.pid!);
        cpu = { user: c1.user - c0.user, system: c1.system - c0.system };
        wall = (performance.now() - t0) / 1000;
        pictures = pushed - p0;
      });
      rows.push(rowOf('gst-rtsp-server (python3-gi)', n, cpu, wall, pictures, m));
      await sleep(500);
    }
    keeper.stop();
  } finally {
    server.kill('SIGKILL');
  }
  return rows;
}

export default async function fanout(): Promise<FanoutResult> {
  const frames = noisyFrames(W, H, DISTINCT);
  const a = await ours(frames);
  const b = await peer(frames, peerLaunch(a.description));
  return { width: W, height: H, fps: FPS, seconds: CONFIG.fanoutSeconds, rows: [...a.rows, ...b] };
}
