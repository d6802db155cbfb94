// Child process for the threadpool test (run without UV_THREADPOOL_SIZE, so libuv has its default 4
// threads): four RTSPSkyLines stream to a viewer each while fs and dns calls, which need the pool, are timed.
import { readFile } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { fileURLToPath } from 'node:url';
import { RTSPSkyLine } from '../../src/index.js';
import { feedLive } from '../support/rtsp-source.js';
import { RawRtspClient } from '../support/rtsp-client.js';
import { waitFor } from '../support/wait.js';
import { captureLogger } from '../support/quiet.js';

const LIMIT_MS = 5000;
const skies: RTSPSkyLine[] = [];
const feeds: Array<{ stop(): void }> = [];
const viewers: RawRtspClient[] = [];
const withLimit = <T>(p: Promise<T>) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), LIMIT_MS).unref())]);

try {
  for (const path of ['/a', '/b', '/c', '/d']) {
    const sky = new RTSPSkyLine({ port: 0, path, logger: captureLogger('warn').logger, stopTimeoutMs: 3000, keyframeInterval: 30 });
    skies.push(sky);
    await sky.startStreaming({ fps: 15, width: 160, height: 120 });
    feeds.push(feedLive(sky, { fps: 15, width: 160, height: 120 }));
    const v = await RawRtspClient.connect(sky.server.port);
    await v.request('DESCRIBE', sky.url); // waits for the stream's parameter sets
    const s = await v.request('SETUP', `${sky.url}/track1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
    await v.request('PLAY', sky.url, { Session: s.headers['session']!.split(';')[0]! });
    viewers.push(v);
  }
  await waitFor(() => viewers.every((v) => v.frames.length > 10), 20_000, 'video to every viewer');
  let fs = 0;
  let dns = 0;
  let timeouts = 0;
  const self = fileURLToPath(import.meta.url);
  const end = Date.now() + 3000;
  while (Date.now() < end) {
    const [a, b] = await Promise.all([withLimit(readFile(self)), withLimit(lookup('localhost'))]);
    if (a) fs++;
    else timeouts++;
    if (b) dns++;
    else timeouts++;
    await new Promise((r) => setTimeout(r, 50));
  }
  const result = {
    threadpool: process.env['UV_THREADPOOL_SIZE'] ?? null,
    streaming: skies.filter((s) => s.state === 'streaming').length,
    clients: skies.reduce((n, s) => n + s.stats().clients, 0),
    fs,
    dns,
    timeouts,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  for (const f of feeds) f.stop();
  for (const v of viewers) v.close();
  for (const s of skies) await s.close();
}
