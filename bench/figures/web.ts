// Figure 7: the browser preview at 720p30 on loopback, in headless Chromium (Debian's
// chromium through playwright-core). One RTSPSkyLine with `web` serves both protocols from
// one encode, and in the same run, one after another for the same number of seconds:
//   - RTSP, GStreamer rtspsrc viewer (as figure 3),
//   - the page with WebCodecs, then the page with MSE (?mode=...).
// Every frame carries its index in the band (bench/lib/frames.ts); the page's probe
// (test/support/browser.ts) reads it from each shown picture: latency = the moment the page
// showed it - the moment just before put(). Then: time from navigation start to the first
// picture (fresh pages), and server CPU (this process: encoder + servers) with 1 and with 20
// pages watching.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RTSPSkyLine } from '../../src/index.js';
import { launchBrowser, pageStatus, takeShown, type Browser } from '../../test/support/browser.js';
import { CONFIG, skylineOptions, pipelineOf } from '../lib/config.js';
import { noisyFrames, stampIndex } from '../lib/frames.js';
import { cpuSplit, sleep } from '../lib/proc.js';
import { mean, median, percentile } from '../lib/stats.js';
import { nowMs, startViewer } from '../lib/viewer.js';

const W = 1280, H = 720, FPS = 30, DISTINCT = 16;
const SETTLE_MS = 3000;
const FIRST_PICTURE_RUNS = 5;
export const WEB_VIEWER_COUNTS = [1, 20];

export interface WebLatencyRow {
  name: string;
  samples: number;
  unreadable: number;
  /** Pictures shown / frames put while measuring. */
  shownRatio: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** What the page itself reported (display time - capture time, clock offset by ping), median. */
  pageReportedP50Ms: number;
  /** Stages: put() -> message in the page (encode, servers, socket), and message -> shown (decode, draw / MSE buffer). */
  transport?: { p50Ms: number; p95Ms: number };
  inPage?: { p50Ms: number; p95Ms: number };
  cdf: number[];
}

export interface WebCpuRow {
  /** 'pages': Chromium pages decoding; 'sockets': counting WebSocket clients in another process. */
  kind: 'pages' | 'sockets';
  viewers: number;
  cpuCores: number;
  systemCores: number;
  /** Mean over pages of pictures shown / pictures encoded in the window. */
  shownMean: number;
  shownMin: number;
  /** Access units the server skipped for slow pages during the window. */
  serverSkips: number;
}

export interface WebResult {
  width: number;
  height: number;
  fps: number;
  seconds: number;
  description: string;
  rows: WebLatencyRow[];
  firstPicture: Record<'webcodecs' | 'mse', { runs: number[]; medianMs: number; maxMs: number }>;
  cpu: WebCpuRow[];
  cpuSeconds: number;
  chromium: string;
  /** 1-minute load average when the figure started (other work on the machine). */
  loadAverageAtStart?: number;
}

function row(name: string, lat: number[], unreadable: number, put: number, reported: number[], transport: number[] = [], inPage: number[] = []): WebLatencyRow {
  const sorted = [...lat].sort((a, b) => a - b);
  const step = Math.max(1, Math.floor(sorted.length / 200));
  return {
    name, samples: sorted.length, unreadable, shownRatio: sorted.length / Math.max(1, put),
    p50Ms: median(sorted), p95Ms: percentile(sorted, 95), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1) ?? NaN,
    pageReportedP50Ms: median(reported), cdf: sorted.filter((_, i) => i % step === 0),
    ...(transport.length ? { transport: { p50Ms: median(transport), p95Ms: percentile(transport, 95) }, inPage: { p50Ms: median(inPage), p95Ms: percentile(inPage, 95) } } : {}),
  };
}

export default async function web(): Promise<WebResult> {
  const loadAverageAtStart = loadavg()[0]!;
  const frames = noisyFrames(W, H, DISTINCT);
  const sky = new RTSPSkyLine({ port: 0, web: { port: 0 }, ...skylineOptions() });
  await sky.startStreaming({ fps: FPS, width: W, height: H });
  const putTimes = new Map<number, number>();
  let puts = 0;
  let stop = false;
  const feeder = (async () => {
    const t0 = performance.now();
    for (let i = 0; !stop; i++) {
      const frame = frames[i % DISTINCT]!;
      stampIndex(frame, W, i & 0x3fff);
      putTimes.set(i & 0x3fff, nowMs());
      sky.put({ data: frame, width: W, height: H }, { timestamp: Date.now() });
      puts++;
      await sleep(Math.max(0, t0 + ((i + 1) * 1000) / FPS - performance.now()));
    }
  })();
  let browser: Browser | undefined;
  const seconds = CONFIG.latencySeconds;
  try {
    const rows: WebLatencyRow[] = [];

    // RTSP, for reference, in the same session.
    {
      const lat: number[] = [];
      let first = NaN, unreadable = 0;
      const viewer = startViewer(sky.url, W, H, (idx, at) => {
        if (Number.isNaN(first)) first = at;
        if (at - first < SETTLE_MS) return;
        const put = putTimes.get(idx);
        if (idx < 0 || put === undefined) unreadable++;
        else lat.push(at - put);
      }, 'gstreamer');
      await sleep(SETTLE_MS + seconds * 1000 + 500);
      viewer.stop();
      await viewer.done;
      rows.push(row('RTSP (GStreamer rtspsrc)', lat, unreadable, seconds * FPS, []));
    }

    browser = await launchBrowser();
    const firstPicture = {} as WebResult['firstPicture'];
    for (const mode of ['webcodecs', 'mse'] as const) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`${sky.webUrl!}?mode=${mode}`);
      await sleep(SETTLE_MS);
      await takeShown(page);
      const p0 = puts;
      await sleep(seconds * 1000);
      const shown = await takeShown(page);
      const put = puts - p0;
      await page.close();
      const lat: number[] = [], transport: number[] = [], inPage: number[] = [];
      let unreadable = 0;
      for (const f of shown) {
        const t = putTimes.get(f.index);
        if (f.index < 0 || t === undefined) unreadable++;
        else {
          lat.push(f.at - t);
          if (Number.isFinite(f.receivedAt)) {
            transport.push(f.receivedAt - t);
            inPage.push(f.at - f.receivedAt);
          }
        }
      }
      if (lat.length === 0) throw new Error(`the ${mode} page showed nothing readable (${shown.length} pictures)`);
      rows.push(row(mode === 'webcodecs' ? 'web page, WebCodecs' : 'web page, MSE', lat, unreadable, put, shown.map((f) => f.latencyMs), transport, inPage));

      // Fresh pages: navigation start to the first picture.
      const runs: number[] = [];
      for (let k = 0; k < FIRST_PICTURE_RUNS; k++) {
        const p = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        await p.goto(`${sky.webUrl!}?mode=${mode}`);
        const end = Date.now() + 10_000;
        while ((await pageStatus(p)).framesShown === 0 && Date.now() < end) await sleep(20);
        const origin = (await p.evaluate('performance.timeOrigin')) as number;
        const f = await takeShown(p);
        runs.push(f.length ? f[0]!.at - origin : NaN);
        await p.close();
        await sleep(1000);
      }
      firstPicture[mode] = { runs, medianMs: median(runs), maxMs: Math.max(...runs) };
    }

    // Server CPU with 1 and 20 viewers: counting WebSocket clients in another process (what
    // the server does per viewer, without 20 decoders competing for the same cores), then
    // real Chromium pages decoding with WebCodecs.
    const cpu: WebCpuRow[] = [];
    for (const n of WEB_VIEWER_COUNTS) {
      const script = fileURLToPath(new URL('../peers/web-viewers.ts', import.meta.url));
      const wsUrl = `${sky.webUrl!.replace('http:', 'ws:')}/ws?mode=webcodecs`;
      const child = spawn(process.execPath, ['--import', 'tsx', script, wsUrl, String(n)], { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => { if (stderr.length < 20_000) stderr += d; });
      const lines = createInterface({ input: child.stdout });
      const next = () => new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`web viewers did not answer: ${stderr.slice(0, 2000)}`)), 60_000);
        lines.once('line', (l) => { clearTimeout(timer); resolve(l); });
      });
      try {
        if ((await next()) !== 'playing') throw new Error(`web viewers: ${stderr}`);
        await sleep(1500);
        child.stdin.write('go\n');
        const skips0 = sky.web!.previewStats().skippedUnits;
        const c0 = cpuSplit(), t0 = performance.now(), e0 = sky.stats().framesEncoded;
        await sleep(CONFIG.fanoutSeconds * 1000);
        const c1 = cpuSplit(), wall = (performance.now() - t0) / 1000, encoded = sky.stats().framesEncoded - e0;
        child.stdin.write('stop\n');
        const r = JSON.parse(await next()) as { rows: Array<{ pictures: number }> };
        const ratios = r.rows.map((row) => Math.min(1, row.pictures / Math.max(1, encoded)));
        cpu.push({
          kind: 'sockets', viewers: n, cpuCores: (c1.user - c0.user + c1.system - c0.system) / wall, systemCores: (c1.system - c0.system) / wall,
          shownMean: mean(ratios), shownMin: Math.min(...ratios), serverSkips: sky.web!.previewStats().skippedUnits - skips0,
        });
      } finally {
        child.kill('SIGKILL');
      }
      await sleep(1000);
    }
    for (const n of WEB_VIEWER_COUNTS) {
      const pages = [];
      for (let k = 0; k < n; k++) {
        const p = await browser.newPage({ viewport: { width: 640, height: 400 } });
        // One retry: on a machine this loaded a navigation can fail for reasons of its own.
        await p.goto(`${sky.webUrl!}?mode=webcodecs`).catch(() => p.goto(`${sky.webUrl!}?mode=webcodecs`));
        pages.push(p);
      }
      await sleep(2000);
      const s0 = await Promise.all(pages.map((p) => pageStatus(p)));
      const skips0 = sky.web!.previewStats().skippedUnits;
      const c0 = cpuSplit(), t0 = performance.now(), e0 = sky.stats().framesEncoded;
      await sleep(CONFIG.fanoutSeconds * 1000);
      const c1 = cpuSplit(), wall = (performance.now() - t0) / 1000, encoded = sky.stats().framesEncoded - e0;
      const s1 = await Promise.all(pages.map((p) => pageStatus(p)));
      const ratios = s1.map((s, i) => Math.min(1, (s.framesShown - s0[i]!.framesShown) / Math.max(1, encoded)));
      cpu.push({
        kind: 'pages', viewers: n, cpuCores: (c1.user - c0.user + c1.system - c0.system) / wall, systemCores: (c1.system - c0.system) / wall,
        shownMean: mean(ratios), shownMin: Math.min(...ratios), serverSkips: sky.web!.previewStats().skippedUnits - skips0,
      });
      for (const p of pages) await p.close();
      await sleep(1000);
    }
    const chromium = (await (async () => {
      const p = await browser.newPage();
      const ua = (await p.evaluate('navigator.userAgent')) as string;
      await p.close();
      return ua.match(/Chrome\/([\d.]+)/)?.[1] ?? '?';
    })());
    return { width: W, height: H, fps: FPS, seconds, description: pipelineOf(sky), rows, firstPicture, cpu, cpuSeconds: CONFIG.fanoutSeconds, chromium, loadAverageAtStart };
  } finally {
    stop = true;
    await feeder;
    await browser?.close();
    await sky.stopStreaming();
    await sky.close();
  }
}
