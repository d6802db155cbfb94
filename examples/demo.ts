// npm start: streams an annotated moving test pattern with RTSPSkyLine, prints how to watch it,
// and shows live stats on one line until Ctrl-C.
//   SKYLINE_RTSP_PORT (default 8554, 0 = any free port), SKYLINE_RTSP_HOST (default 127.0.0.1),
//   SKYLINE_DEMO_SECONDS (stop by itself after that long; default: run until Ctrl-C).
//   SKYLINE_WEB_PORT (browser preview, default 8889, 0 = any free port).
import { destination, pino } from 'pino';
import { RTSPSkyLine, type RTSPSkyLineStats } from 'gst-skyline';
import { TestPattern } from './pattern.js';

const fps = 30;
const width = 1280;
const height = 720;
const seconds = Number(process.env.SKYLINE_DEMO_SECONDS ?? 0);
const tty = process.stdout.isTTY === true;

// Warnings and errors only: the stats line is the demo's output.
const logger = pino({ level: process.env.SKYLINE_LOG_LEVEL ?? 'warn' }, destination(2));
const sky = new RTSPSkyLine({
  port: Number(process.env.SKYLINE_RTSP_PORT ?? 8554),
  host: process.env.SKYLINE_RTSP_HOST ?? '127.0.0.1',
  path: '/live',
  logger,
  bitrate: 2000,
  statsIntervalMs: 1000,
  // The same encode also feeds a browser preview page.
  web: { port: Number(process.env.SKYLINE_WEB_PORT ?? 8889), host: process.env.SKYLINE_RTSP_HOST ?? '127.0.0.1' },
});
sky.on('error', (err) => {
  clearLine();
  console.error(`error: ${err.message}`);
});

try {
  await sky.startStreaming({ fps, width, height });
} catch (err) {
  console.error(`cannot start: ${(err as Error).message}`);
  if (/EADDRINUSE/.test((err as Error).message)) console.error('the port is taken: try SKYLINE_RTSP_PORT=0 SKYLINE_WEB_PORT=0 npm start (any free ports)');
  await sky.close();
  process.exit(1);
}

console.log(`streaming ${width}x${height}@${fps} at ${sky.url}`);
console.log(`watch it in a browser: ${sky.webUrl}`);
console.log('or with:');
console.log(`  ffplay -rtsp_transport tcp ${sky.url}`);
console.log(`  vlc ${sky.url}`);
console.log(`  gst-launch-1.0 playbin uri=${sky.url}`);
console.log(seconds > 0 ? `stopping after ${seconds} s (or Ctrl-C)` : 'Ctrl-C to stop');

// Frames on a drift-free schedule, like a camera loop.
const pattern = new TestPattern(width, height);
const t0 = performance.now();
let index = 0;
let frameTimer: NodeJS.Timeout | undefined;
const tick = () => {
  sky.put(pattern.frame(index));
  index++;
  if (seconds > 0 && index >= seconds * fps) {
    void shutdown('done');
    return;
  }
  frameTimer = setTimeout(tick, Math.max(0, t0 + (index * 1000) / fps - performance.now()));
};
tick();

// One refreshing line of stats.
let lastBytes = 0;
let lastAt = Date.now();
const onStats = (raw: unknown) => {
  const s = raw as RTSPSkyLineStats;
  const now = Date.now();
  const kbps = ((s.bytesOut - lastBytes) * 8) / Math.max(1, now - lastAt);
  lastBytes = s.bytesOut;
  lastAt = now;
  const line =
    `fps ${s.measuredFps.toFixed(1)} | ${kbps.toFixed(0)} kbit/s | clients ${s.clients} | browsers ${s.webViewers} | ` +
    `frames ${s.framesEncoded}, dropped ${s.framesDropped} | client drops ${s.clientDrops}, slow clients cut ${s.droppedClients}`;
  if (tty) process.stdout.write(`\r${line}\x1b[K`);
  else console.log(line);
};
sky.on('stats', onStats);

let stopping = false;
async function shutdown(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (frameTimer) clearTimeout(frameTimer);
  sky.off('stats', onStats);
  clearLine();
  console.log(`${why}: stopping…`);
  const s = sky.stats();
  await sky.stopStreaming();
  await sky.close();
  console.log(`stopped after ${s.framesEncoded} frames; ${s.clientDrops} pictures skipped for slow clients`);
  process.exit(0);
}

process.on('SIGINT', () => {
  if (stopping) process.exit(130); // a second Ctrl-C does not wait
  void shutdown('Ctrl-C');
});
process.on('SIGTERM', () => void shutdown('SIGTERM'));

function clearLine(): void {
  if (tty) process.stdout.write('\r\x1b[K');
}
