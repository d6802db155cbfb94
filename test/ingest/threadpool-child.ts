// Child process for the LiveSource threadpool test (no UV_THREADPOOL_SIZE: libuv's default 4
// threads). Eight RTSPSkyLines stream; eight LiveSources read (six of those streams over RTSP, two
// test patterns through GStreamer readers) and decode every frame, while fs and dns calls, which
// need the pool, are timed.
import { LiveSource, RTSPServer, RTSPSkyLine } from '../../src/index.js';
import { feedIndexed } from '../support/ingest-material.js';
import { waitFor } from '../support/wait.js';
import { probeThreadpool } from '../support/threadpool-probe.js';
import { captureLogger } from '../support/quiet.js';

const W = 160;
const H = 120;
const logger = captureLogger('warn').logger;
const server = new RTSPServer({ port: 0 });
const skies: RTSPSkyLine[] = [];
const feeds: Array<{ stop(): void }> = [];
const sources: LiveSource[] = [];
const frames: number[] = [];

try {
  await server.listen();
  for (let k = 0; k < 8; k++) {
    const sky = new RTSPSkyLine({ server, path: `/cam${k}`, logger, stopTimeoutMs: 3000, keyframeInterval: 20, statsIntervalMs: 0 });
    skies.push(sky);
    await sky.startStreaming({ fps: 10, width: W, height: H });
    feeds.push(feedIndexed(sky, { fps: 10, width: W, height: H, t0: Date.now() }));
  }
  for (let k = 0; k < 8; k++) {
    const url = k < 6 ? skies[k]!.url : `testsrc://ball?width=${W}&height=${H}&fps=10`;
    const src = new LiveSource({ url, logger, queueFrames: 2 });
    src.on('error', () => undefined);
    sources.push(src);
    frames.push(0);
    await src.start();
    void (async () => {
      for await (const _ of src) frames[k]!++;
    })();
  }
  await waitFor(() => frames.every((n) => n > 5), 60_000, 'frames decoded from every source');
  const { fs, dns, timeouts } = await probeThreadpool();
  process.stdout.write(
    JSON.stringify({
      threadpool: process.env['UV_THREADPOOL_SIZE'] ?? null,
      skylines: skies.filter((s) => s.state === 'streaming').length,
      sources: sources.filter((s) => s.state === 'streaming' && s.stats().decoding).length,
      frames,
      fs,
      dns,
      timeouts,
    }) + '\n',
  );
} finally {
  for (const s of sources) await s.close();
  for (const f of feeds) f.stop();
  for (const s of skies) await s.close();
  await server.close();
}
