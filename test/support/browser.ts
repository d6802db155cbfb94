// Real Chromium for the web preview tests and the bench: Debian's chromium driven by
// playwright-core, a fresh profile each launch, and a probe that reads the frame index band
// (bench/lib/frames.ts) out of every picture the page shows.
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { underCi } from './require-tool.js';
import { INDEX_BITS, readIndex, stampIndex } from '../../bench/lib/frames.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
];

/** Is Chromium here? Under CI (the shared rule, underCi()) a missing browser is a failure, not a skip. */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `${CHROMIUM} not found (Debian package chromium; scripts/bootstrap.mjs installs it)`;
  if (underCi()) throw new Error(`${why}: required under CI`);
  return why;
}

export interface Browser {
  /** A page in a context of its own (own cookies and credentials), with the frame probe installed. */
  newPage(options?: { httpCredentials?: { username: string; password: string }; viewport?: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}

/** Headless Chromium; playwright gives each launch a fresh temporary user data dir. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
  return {
    async newPage(options = {}) {
      const context: BrowserContext = await browser.newContext({
        viewport: options.viewport ?? { width: 800, height: 600 },
        ...(options.httpCredentials ? { httpCredentials: options.httpCredentials } : {}),
      });
      const page = await context.newPage();
      page.on('close', () => void context.close().catch(() => undefined));
      await page.addInitScript({ content: PROBE_SCRIPT });
      return page;
    },
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}

/**
 * Runs in the page before its own script: on every `skyline-frame` event, draws the band of
 * the shown picture (canvas or video) into a scratch canvas and keeps the mean grey of the
 * centre of each of the 16 blocks, with the time it was shown (epoch ms, high resolution).
 * A string, not a function: tsx would wrap a function's inner names in helpers the page lacks.
 */
export const PROBE_SCRIPT = `
(function () {
  var probe = { frames: [], max: 5000 };
  window.__probe = probe;
  var scratch = null, ctx = null;
  window.addEventListener('skyline-frame', function (e) {
    var at = performance.timeOrigin + performance.now();
    var src = e.detail.source;
    var w = src.videoWidth || src.width;
    var bs = Math.floor(w / ${INDEX_BITS});
    if (!scratch || scratch.width !== w) {
      scratch = document.createElement('canvas'); scratch.width = w; scratch.height = bs;
      ctx = scratch.getContext('2d', { willReadFrequently: true });
    }
    ctx.drawImage(src, 0, 0, w, bs, 0, 0, w, bs);
    var d = ctx.getImageData(0, 0, w, bs).data;
    var q = bs >> 2, means = [];
    for (var bit = 0; bit < ${INDEX_BITS}; bit++) {
      var sum = 0, n = 0;
      for (var y = q; y < bs - q; y += 2) for (var x = q; x < bs - q; x += 2) {
        var i = (y * w + bit * bs + x) * 4;
        sum += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]; n++;
      }
      means.push(sum / n);
    }
    if (probe.frames.length < probe.max) probe.frames.push({ at: at, means: means, captureMs: e.detail.captureMs, latencyMs: e.detail.latencyMs, receivedAt: e.detail.receivedAt, width: w });
  });
})();
`;

export interface ShownFrame {
  /** Frame index read from the pixels (-1: unreadable). */
  index: number;
  /** When the page showed it, epoch ms. */
  at: number;
  captureMs: number;
  latencyMs: number;
  /** When the picture's message reached the page, epoch ms (page clock). */
  receivedAt: number;
  width: number;
}

/** Takes the frames the probe saw so far (and forgets them in the page). */
export async function takeShown(page: Page): Promise<ShownFrame[]> {
  const raw = (await page.evaluate('(function(){var f = window.__probe ? window.__probe.frames : []; if (window.__probe) window.__probe.frames = []; return f;})()')) as Array<{
    at: number; means: number[]; captureMs: number; latencyMs: number; receivedAt: number; width: number;
  }>;
  return raw.map((f) => ({ index: indexFromMeans(f.means, f.width), at: f.at, captureMs: f.captureMs, latencyMs: f.latencyMs, receivedAt: f.receivedAt, width: f.width }));
}

/** The index from the 16 block means, by bench/lib/frames.ts's own reader on a band filled with them. */
export function indexFromMeans(means: number[], width: number): number {
  const bs = Math.floor(width / INDEX_BITS);
  const band = new Uint8Array(width * bs);
  for (let y = 0; y < bs; y++) for (let bit = 0; bit < INDEX_BITS; bit++) band.fill(Math.round(means[bit]!), y * width + bit * bs, y * width + (bit + 1) * bs);
  return readIndex(band, width);
}

/** The page's status object (window.skyline). */
export function pageStatus(page: Page): Promise<{ state: string; mode: string; framesShown: number; framesDecoded: number; latencyMs: number | null; connects: number; error: string | null; config: { width: number; height: number; codec: string } | null }> {
  return page.evaluate('window.skyline ? JSON.parse(JSON.stringify(window.skyline)) : { state: "none", framesShown: 0, framesDecoded: 0, connects: 0 }') as never;
}

export interface IndexedFeed {
  stop(): void;
  readonly puts: number;
  /** Frame index -> time just before put(), epoch ms (high resolution). */
  readonly putTimes: Map<number, number>;
  /** Frame index -> the capture time given to put() (epoch ms), for the frames put() accepted. */
  readonly accepted: Map<number, number>;
}

/** Puts BGR frames carrying their index in the band, in real time, until stopped. */
export function feedIndexed(sky: { put(frame: { data: Buffer; width: number; height: number; format: 'BGR' }, o?: { timestamp?: number }): boolean }, o: { fps: number; width: number; height: number }): IndexedFeed {
  const frame = { data: Buffer.alloc(o.width * o.height * 3), width: o.width, height: o.height, format: 'BGR' as const };
  // A mid-grey picture with a moving bar below the band: some motion for the encoder.
  frame.data.fill(110);
  const putTimes = new Map<number, number>();
  const accepted = new Map<number, number>();
  let puts = 0;
  let timer: NodeJS.Timeout | undefined;
  const t0 = performance.now();
  const bar = Math.max(4, o.width >> 4);
  const tick = () => {
    const i = puts & 0x3fff;
    const x = (puts * 4) % (o.width - bar);
    for (let y = o.height >> 1; y < (o.height >> 1) + 16; y++) {
      const row = y * o.width * 3;
      frame.data.fill(110, row, row + o.width * 3);
      frame.data.fill(220, row + x * 3, row + (x + bar) * 3);
    }
    stampIndex(frame.data, o.width, i);
    const t = performance.timeOrigin + performance.now();
    putTimes.set(i, t);
    const captureMs = Date.now();
    if (sky.put(frame, { timestamp: captureMs })) accepted.set(i, captureMs);
    else accepted.delete(i);
    puts++;
    timer = setTimeout(tick, Math.max(1, t0 + (puts * 1000) / o.fps - performance.now()));
  };
  tick();
  return {
    stop: () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    get puts() {
      return puts;
    },
    putTimes,
    accepted,
  };
}
