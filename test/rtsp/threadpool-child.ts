// Child process for the threadpool test (run without UV_THREADPOOL_SIZE, so libuv has its default 4
// threads): four RTSPSkyLines stream to a viewer each while fs and dns calls, which need the pool, are timed.
import { RTSPSkyLine } from '../../src/index.js';
import { feedLive } from '../support/rtsp-source.js';
import { RawRtspClient } from '../support/rtsp-client.js';
import { waitFor } from '../support/wait.js';
import { probeThreadpool } from '../support/threadpool-probe.js';
import { captureLogger } from '../support/quiet.js';

const skies: RTSPSkyLine[] = [];
const feeds: Array<{ stop(): void }> = [];
const viewers: RawRtspClient[] = [];

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
  const { fs, dns, timeouts } = await probeThreadpool();
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
