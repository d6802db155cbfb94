// Figure 3: glass-to-glass latency through RTSP on loopback at 720p30. Every frame carries
// its index in a band of black and white blocks; a viewer (GStreamer rtspsrc, or ffmpeg: TCP,
// one decoding thread, every frame written at once) decodes the stream to grey and this
// process reads the index back: latency = time the decoded frame was complete here - time
// just before put(). The peer is GStreamer's own RTSP server (python3-gi) running the same
// encoding pipeline on the same frames; it logs the moment before each push-buffer.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RTSPSkyLine } from '../../src/index.js';
import { CONFIG, workDir, skylineOptions, pipelineOf } from '../lib/config.js';
import { noisyFrames, stampIndex } from '../lib/frames.js';
import { freePort } from '../lib/ports.js';
import { sleep, waitSeconds } from '../lib/proc.js';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { median, percentile } from '../lib/stats.js';
import { nowMs, startViewerApart as startViewer, viewerCommand, type ViewerKind } from '../lib/viewer.js';

const W = 1280, H = 720, FPS = 30, DISTINCT = 16;
/** Samples from the first seconds (connection, first keyframe, probing) are left out. */
const SETTLE_MS = 3000;

export interface LatencyRow {
  name: string;
  viewer: ViewerKind;
  samples: number;
  framesPut: number;
  /** Frames decoded by the viewer with a readable index, over frames put while it watched. */
  received: number;
  undecodable: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Sorted latencies, thinned to at most 200 points for the chart. */
  cdf: number[];
  /**
   * Ours only: where the time goes, per frame. encode = put() to the encoded picture back in
   * Node (appsrc, conversion, x264, RTP tap); deliver = from there to the viewer's decoded
   * picture (our RTSP server's write, loopback TCP, the viewer's depayloading and decoding).
   */
  split?: { encodeP50Ms: number; encodeP99Ms: number; deliverP50Ms: number; deliverP99Ms: number };
  /** Ours only: this process's event-loop delay and GC pauses while measuring. */
  eventLoop?: { delayP50Ms: number; delayP99Ms: number; delayMaxMs: number; gcPauses: number; gcMaxMs: number; gcTotalMs: number; waitPerFrameMs?: number; cpuPerFrameMs?: number };
}

export interface LatencyResult {
  width: number;
  height: number;
  fps: number;
  seconds: number;
  rows: LatencyRow[];
  peerLaunch: string;
  viewers: Record<ViewerKind, string>;
}

function row(name: string, viewer: ViewerKind, latencies: number[], framesPut: number, undecodable: number): LatencyRow {
  const sorted = [...latencies].sort((a, b) => a - b);
  const step = Math.max(1, Math.floor(sorted.length / 200));
  return {
    name, viewer, samples: sorted.length, framesPut, received: sorted.length, undecodable,
    p50Ms: median(sorted), p95Ms: percentile(sorted, 95), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1) ?? NaN,
    cdf: sorted.filter((_, i) => i % step === 0),
  };
}

/** Collects latencies of frames decoded after the settle time. */
function collector(putTimes: Map<number, number>) {
  const latencies: number[] = [];
  let first = NaN, undecodable = 0, counted = 0;
  return {
    latencies,
    get undecodable() { return undecodable; },
    get counted() { return counted; },
    onFrame(index: number, received: number) {
      if (Number.isNaN(first)) first = received;
      if (received - first < SETTLE_MS) return;
      counted++;
      const put = putTimes.get(index);
      if (index < 0 || put === undefined) { undecodable++; return; }
      latencies.push(received - put);
    },
  };
}

async function ours(frames: Buffer[], kind: ViewerKind): Promise<{ row: LatencyRow; description: string }> {
  const sky = new RTSPSkyLine({
    port: 0,
    ...skylineOptions(),
  });
  await sky.startStreaming({ fps: FPS, width: W, height: H });
  const description = pipelineOf(sky);
  const putTimes = new Map<number, number>();
  // When each encoded picture came back into Node, by its capture time (= put()'s timestamp).
  const unitTimes = new Map<number, number>();
  // The RTSP destination is handed each unit as the tap delivers it.
  const rtsp = sky.destinations[0]!;
  const write = rtsp.write.bind(rtsp);
  rtsp.write = (au: AccessUnit) => {
    unitTimes.set(Math.round(au.captureMs), nowMs());
    return write(au);
  };
  const captureOf = new Map<number, number>();
  const c = collector(putTimes);
  const splits: Array<[number, number]> = [];
  const onFrame = c.onFrame;
  c.onFrame = (index: number, received: number) => {
    onFrame(index, received);
    const put = putTimes.get(index);
    const unit = unitTimes.get(captureOf.get(index) ?? NaN);
    if (put !== undefined && unit !== undefined && c.latencies.length > 0 && c.latencies.at(-1) === received - put) splits.push([unit - put, received - unit]);
  };
  const lag = monitorEventLoopDelay({ resolution: 1 });
  const gc: number[] = [];
  const gcObserver = new PerformanceObserver((list) => { for (const e of list.getEntries()) gc.push(e.duration); });
  gcObserver.observe({ entryTypes: ['gc'] });
  let viewer: ReturnType<typeof startViewer> | undefined;
  let w0 = 0, measured = 0;
  let c0 = process.cpuUsage();
  const total = (CONFIG.latencySeconds + SETTLE_MS / 1000 + 1) * FPS;
  const t0 = performance.now();
  let watchedFrom = 0;
  for (let i = 0; i < total; i++) {
    const frame = frames[i % DISTINCT]!;
    stampIndex(frame, W, i & 0x3fff);
    const t = nowMs();
    const capture = Date.now();
    sky.put({ data: frame, width: W, height: H }, { timestamp: capture });
    putTimes.set(i & 0x3fff, t);
    captureOf.set(i & 0x3fff, capture);
    if (i === 5 + SETTLE_MS / 1000 * FPS) {
      lag.enable();
      gc.length = 0;
      w0 = waitSeconds();
      c0 = process.cpuUsage();
      measured = i;
    }
    if (i === 5) {
      viewer = startViewer(sky.url, W, H, (idx, at) => c.onFrame(idx, at), kind);
      watchedFrom = i;
    }
    await sleep(Math.max(0, t0 + ((i + 1) * 1000) / FPS - performance.now()));
  }
  const waitS = waitSeconds() - w0;
  const cpu = process.cpuUsage(c0);
  await sleep(500);
  lag.disable();
  gcObserver.disconnect();
  viewer?.stop();
  const v = await viewer?.done;
  await sky.stopStreaming();
  await sky.close();
  if (c.latencies.length === 0) throw new Error(`the viewer decoded nothing from RTSPSkyLine: ${v?.stderr ?? ''}`);
  const watched = total - watchedFrom - (SETTLE_MS / 1000) * FPS;
  const r = row('RTSPSkyLine', kind, c.latencies, Math.round(watched), c.undecodable);
  const enc = splits.map((x) => x[0]), del = splits.map((x) => x[1]);
  r.split = { encodeP50Ms: median(enc), encodeP99Ms: percentile(enc, 99), deliverP50Ms: median(del), deliverP99Ms: percentile(del, 99) };
  r.eventLoop = {
    delayP50Ms: lag.percentile(50) / 1e6, delayP99Ms: lag.percentile(99) / 1e6, delayMaxMs: lag.max / 1e6,
    gcPauses: gc.length, gcMaxMs: gc.length ? Math.max(...gc) : 0, gcTotalMs: gc.reduce((a, b) => a + b, 0),
    waitPerFrameMs: (waitS * 1000) / (total - measured), cpuPerFrameMs: (cpu.user + cpu.system) / 1000 / (total - measured),
  };
  return { row: r, description };
}

/** GStreamer's pipeline for gst-rtsp-server: our description, stamped by appsrc, ending in the payloader it wants. */
export function peerLaunch(description: string): string {
  const parts = description.split(' ! ');
  parts[0] = parts[0]!.replace('do-timestamp=false', 'do-timestamp=true');
  const parse = parts.findIndex((p) => p.startsWith('h264parse'));
  // alignment=au and SPS/PPS from h264parse only: rtph264pay with config-interval=-1 would
  // insert them again before every IDR slice, mid-picture, and ffmpeg then splits the picture.
  return [
    ...parts.slice(0, parse),
    'h264parse config-interval=-1', 'video/x-h264,alignment=au', 'rtph264pay name=pay0 pt=96',
  ].join(' ! ');
}

async function peer(frames: Buffer[], description: string, kind: ViewerKind): Promise<{ row: LatencyRow; launch: string }> {
  const dir = workDir();
  const raw = join(dir, 'latency-frames.bgr');
  writeFileSync(raw, Buffer.concat(frames));
  const port = await freePort();
  const launch = peerLaunch(description);
  const script = fileURLToPath(new URL('../peers/gst_rtsp_server.py', import.meta.url));
  const server = spawn('/usr/bin/python3', [script, String(port), String(W), String(H), String(FPS), raw, String(DISTINCT), launch], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  server.stderr.on('data', (d: Buffer) => { if (stderr.length < 20_000) stderr += d; });
  const putTimes = new Map<number, number>();
  let pushed = 0;
  const ready = new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: server.stdout });
    lines.on('line', (line) => {
      if (line.startsWith('ready')) resolve();
      else if (line.startsWith('P ')) {
        const [, i, t] = line.split(' ');
        putTimes.set(Number(i) & 0x3fff, Number(t));
        pushed++;
      }
    });
    server.on('close', (code) => reject(new Error(`gst-rtsp-server exited (${code}): ${stderr.slice(0, 2000)}`)));
  });
  const c = collector(putTimes);
  try {
    await Promise.race([ready, sleep(15_000).then(() => { throw new Error('gst-rtsp-server did not start'); })]);
    const viewer = startViewer(`rtsp://127.0.0.1:${port}/live`, W, H, (idx, at) => c.onFrame(idx, at), kind);
    await sleep(CONFIG.latencySeconds * 1000 + SETTLE_MS + 1000);
    viewer.stop();
    const v = await viewer.done;
    if (c.latencies.length === 0) throw new Error(`the viewer decoded nothing from gst-rtsp-server: ${v.stderr} ${stderr}`);
  } finally {
    server.kill('SIGKILL');
  }
  const watched = pushed - (SETTLE_MS / 1000) * FPS;
  return { row: row('gst-rtsp-server (python3-gi)', kind, c.latencies, Math.round(watched), c.undecodable), launch };
}

export default async function latency(): Promise<LatencyResult> {
  const frames = noisyFrames(W, H, DISTINCT);
  const rows: LatencyRow[] = [];
  let launch = '';
  for (const kind of ['gstreamer', 'ffmpeg'] as const) {
    const a = await ours(frames, kind);
    const b = await peer(frames, a.description, kind);
    rows.push(a.row, b.row);
    launch = b.launch;
  }
  const cmd = (k: ViewerKind) => viewerCommand(k, 'URL').flat().join(' ');
  return {
    width: W, height: H, fps: FPS, seconds: CONFIG.latencySeconds, rows, peerLaunch: launch,
    viewers: { gstreamer: cmd('gstreamer'), ffmpeg: cmd('ffmpeg') },
  };
}
