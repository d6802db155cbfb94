// Figure 13 (issue 22): glass-to-glass latency of HlsDestination played by hls.js in headless
// Chromium, 720p30 on loopback. One MultiSkyLine with an HlsDestination on its own server (the
// README's settings: parts of 250 ms, segments of 2 s, a keyframe every 60 frames), fed noisy
// frames carrying their index in the band (bench/lib/frames.ts), each frame's put() time kept.
// The player's page is served from another origin (CORS, as a real site would) and runs hls.js
// with the same settings twice, one run after the other on the same stream:
//   - lowLatencyMode: true  (LL-HLS: parts, blocking playlist reload, PART-HOLD-BACK),
//   - lowLatencyMode: false (plain HLS: whole segments, hls.js's default 3 target durations back).
// Each run: a warm-up (hls.js finds the live edge and settles its playback rate), then
// BENCH_HLS_SECONDS of measurement. The page's probe (test/support/browser.ts) reads the index
// of every picture requestVideoFrameCallback reports: latency = that moment (page clock) − the
// moment just before put() (this process's clock; same machine, both epoch-based).
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { HlsDestination, MultiSkyLine } from '../../src/index.js';
import { launchBrowser, takeShown, type Browser, type ShownFrame } from '../../test/support/browser.js';
import { hlsJsFile } from '../../test/support/hls-packages.js';
import { listenOnLoopback } from '../../test/support/ports.js';
import { skylineOptions, pipelineOf } from '../lib/config.js';
import { noisyFrames, stampIndex } from '../lib/frames.js';
import { sleep } from '../lib/proc.js';
import { median, percentile } from '../lib/stats.js';
import { nowMs } from '../lib/viewer.js';

const W = 1280, H = 720, FPS = 30, DISTINCT = 16;

const num = (name: string, dflt: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
/** Seconds measured per mode, and the warm-up before them (plain HLS starts ~3 segments back and needs longer). */
const SECONDS = num('BENCH_HLS_SECONDS', 30);
const WARMUP_S = { ll: num('BENCH_HLS_WARMUP_SECONDS', 10), plain: num('BENCH_HLS_WARMUP_SECONDS', 15) };
/** Part and segment targets (the README's: 250 ms, 2 s). BENCH_HLS_SEGMENT_MS also sets the keyframe interval to one segment. */
const PART_MS = num('BENCH_HLS_PART_MS', 250);
const SEGMENT_MS = num('BENCH_HLS_SEGMENT_MS', 2000);

/** Issue 22's goals: p95 put() → screen. */
export const HLS_GOALS = { llP95Ms: 1500, plainP95Ms: 6000 } as const;

/**
 * The reference: what MediaMTX's own README says of its HLS latency (section HLS › Latency).
 * A published range, not a measurement made here; hls.js's docs give no latency figure.
 */
export const HLS_REFERENCE = {
  source: 'MediaMTX README, section "HLS › Latency" (github.com/bluenviron/mediamtx, README.md at commit 004bda93e5e35f5d1891df63433007f8d0cdea52)',
  quote: 'This latency amounts to 500ms-3s when the low-latency HLS variant is enabled (and it is by default), otherwise amounts to 1-15secs.',
  llHlsMs: [500, 3000] as [number, number],
  plainHlsMs: [1000, 15000] as [number, number],
} as const;

export interface HlsRow {
  name: string;
  lowLatencyMode: boolean;
  /** Pictures read (index known) while measuring. */
  samples: number;
  /** Pictures shown whose band did not read. */
  unreadable: number;
  /** Pictures shown / frames put while measuring. */
  shownRatio: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
  /** Navigation start → first picture shown (this run's fresh page). */
  firstPictureMs: number;
  /** hls.js's own estimate (hls.latency, from EXT-X-PROGRAM-DATE-TIME and the live edge), sampled each second: median, s. */
  hlsJsLatencyS: number;
  /** hls.js's targetLatency at the end, s. */
  hlsJsTargetLatencyS: number | null;
  /** Served requests during the measured window. */
  playlists: number;
  blockingReloads: number;
  files: number;
  /** Video element at the end: decoded / dropped frames, playback rate. */
  decodedFrames: number;
  droppedFrames: number;
  playbackRate: number;
  hlsErrors: string[];
  goalP95Ms: number;
  cdf: number[];
}

export interface HlsResult {
  width: number;
  height: number;
  fps: number;
  seconds: number;
  warmupSeconds: { ll: number; plain: number };
  partMs: number;
  segmentMs: number;
  keyframeInterval: number;
  hlsJs: string;
  chromium: string;
  description: string;
  rows: HlsRow[];
  reference: typeof HLS_REFERENCE;
  loadAverageStart: number;
  loadAverageEnd: number;
  date: string;
}

const PAGE = `<!doctype html><body style="margin:0"><video id="v" muted autoplay playsinline width="${W}" height="${H}"></video>
<script src="/hls.js"></script><script>
var q = new URLSearchParams(location.search);
var v = document.getElementById('v'); window.hlsErrors = []; window.hlsLatency = [];
var hls = new Hls({ lowLatencyMode: q.get('ll') === '1', backBufferLength: 4, maxLiveSyncPlaybackRate: 1.5 });
hls.on(Hls.Events.ERROR, function (e, d) { window.hlsErrors.push(d.details + (d.fatal ? ' (fatal)' : '')); });
hls.loadSource(q.get('src')); hls.attachMedia(v);
setInterval(function () { if (v.currentTime > 0 && Number.isFinite(hls.latency)) window.hlsLatency.push(hls.latency); }, 1000);
v.requestVideoFrameCallback(function shown() {
  window.dispatchEvent(new CustomEvent('skyline-frame', { detail: { source: v, captureMs: 0, latencyMs: 0, receivedAt: NaN } }));
  v.requestVideoFrameCallback(shown);
});
</script>`;

export default async function hlsFigure(): Promise<HlsResult> {
  const loadAverageStart = loadavg()[0]!;
  const date = new Date().toISOString();
  const frames = noisyFrames(W, H, DISTINCT);
  const hlsJsText = readFileSync(hlsJsFile());
  const hlsJsVersion = (JSON.parse(readFileSync(hlsJsFile().replace(/dist\/hls\.min\.js$/, 'package.json'), 'utf8')) as { version: string }).version;
  const pageServer = http.createServer((req, res) => {
    if (req.url === '/hls.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(hlsJsText);
    res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE);
  });
  const origin = `http://127.0.0.1:${await listenOnLoopback(pageServer)}`;
  const opts = { ...skylineOptions(), ...(process.env.BENCH_HLS_SEGMENT_MS ? { keyframeInterval: Math.round((SEGMENT_MS * FPS) / 1000) } : {}) };
  const hls = new HlsDestination({ port: 0, partMs: PART_MS, segmentMs: SEGMENT_MS, allowedOrigins: [origin] });
  const sky = new MultiSkyLine({ ...opts, destinations: [hls] });
  const errors: Error[] = [];
  sky.on('error', (e) => errors.push(e));
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
  try {
    browser = await launchBrowser();
    const rows: HlsRow[] = [];
    for (const ll of [true, false]) {
      const page = await browser.newPage({ viewport: { width: W, height: H } });
      await page.goto(`${origin}/?ll=${ll ? 1 : 0}&src=${encodeURIComponent(hls.url)}`);
      const origin0 = (await page.evaluate('performance.timeOrigin')) as number;
      // Warm-up: keep the first picture's time, drop the rest.
      const warm: ShownFrame[] = [];
      const warmEnd = Date.now() + (ll ? WARMUP_S.ll : WARMUP_S.plain) * 1000;
      while (Date.now() < warmEnd) {
        await sleep(1000);
        const got = await takeShown(page);
        if (warm.length === 0) warm.push(...got.slice(0, 1));
      }
      await page.evaluate('window.hlsLatency = []');
      const s0 = hls.hlsStats();
      const p0 = puts;
      const shown: ShownFrame[] = [];
      const end = Date.now() + SECONDS * 1000;
      while (Date.now() < end) {
        await sleep(Math.min(2000, Math.max(0, end - Date.now())));
        shown.push(...(await takeShown(page)));
      }
      const put = puts - p0;
      const s1 = hls.hlsStats();
      const st = (await page.evaluate(`(function(){var v=document.getElementById('v'), q=v.getVideoPlaybackQuality();
        return { lat: window.hlsLatency, target: hls.targetLatency, decoded: q.totalVideoFrames, dropped: q.droppedVideoFrames, rate: v.playbackRate, errors: window.hlsErrors, lowLatency: hls.lowLatencyMode };})()`)) as {
        lat: number[]; target: number | null; decoded: number; dropped: number; rate: number; errors: string[]; lowLatency: boolean;
      };
      await page.close();
      if (st.lowLatency !== ll) throw new Error(`hls.js lowLatencyMode ${st.lowLatency}, wanted ${ll}`);
      const lat: number[] = [];
      let unreadable = 0;
      for (const f of shown) {
        const t = putTimes.get(f.index);
        if (f.index < 0 || t === undefined) unreadable++;
        else lat.push(f.at - t);
      }
      if (lat.length === 0) throw new Error(`hls.js (${ll ? 'LL-HLS' : 'plain HLS'}) showed nothing readable (${shown.length} pictures; errors ${st.errors.join(', ')})`);
      const sorted = lat.sort((a, b) => a - b);
      const step = Math.max(1, Math.floor(sorted.length / 200));
      rows.push({
        name: ll ? 'hls.js, lowLatencyMode: true (LL-HLS)' : 'hls.js, lowLatencyMode: false (plain HLS)',
        lowLatencyMode: ll,
        samples: sorted.length, unreadable, shownRatio: sorted.length / Math.max(1, put),
        p50Ms: median(sorted), p95Ms: percentile(sorted, 95), p99Ms: percentile(sorted, 99), minMs: sorted[0]!, maxMs: sorted.at(-1)!,
        firstPictureMs: warm.length ? warm[0]!.at - origin0 : NaN,
        hlsJsLatencyS: median([...st.lat].sort((a, b) => a - b)), hlsJsTargetLatencyS: st.target,
        playlists: s1.playlists - s0.playlists, blockingReloads: s1.blockingReloads - s0.blockingReloads, files: s1.files - s0.files,
        decodedFrames: st.decoded, droppedFrames: st.dropped, playbackRate: st.rate, hlsErrors: [...new Set(st.errors)],
        goalP95Ms: ll ? HLS_GOALS.llP95Ms : HLS_GOALS.plainP95Ms,
        cdf: sorted.filter((_, i) => i % step === 0),
      });
      await sleep(1000);
    }
    const p = await browser.newPage();
    const ua = (await p.evaluate('navigator.userAgent')) as string;
    await p.close();
    if (errors.length) throw new Error(`SkyLine errors: ${errors.map((e) => e.message).join('; ')}`);
    return {
      width: W, height: H, fps: FPS, seconds: SECONDS, warmupSeconds: WARMUP_S, partMs: PART_MS, segmentMs: SEGMENT_MS,
      keyframeInterval: opts.keyframeInterval, hlsJs: hlsJsVersion, chromium: ua.match(/Chrome\/([\d.]+)/)?.[1] ?? '?',
      description: pipelineOf(sky), rows, reference: HLS_REFERENCE,
      loadAverageStart, loadAverageEnd: loadavg()[0]!, date,
    };
  } finally {
    stop = true;
    await feeder;
    await browser?.close();
    await sky.stopStreaming().catch(() => undefined);
    await sky.close();
    pageServer.close();
  }
}
