/**
 * RtmpSkyLine against a real relay (nginx + RTMP module), read back with ffmpeg.
 * Outages are real too: the relay is killed and restarted, started late, made to
 * refuse publishes, or replaced by a port that never answers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { RtmpSkyLine, type RtmpSkyLineOptions } from '../../src/rtmp/rtmp-skyline.js';
import { RtmpError } from '../../src/rtmp/errors.js';
import { RtmpUrlError } from '../../src/rtmp/url.js';
import { noise, solid, type Rgb } from '../support/frames.js';
import { NginxRtmp } from '../support/nginx-rtmp.js';
import { freePort } from '../support/ports.js';
import { captureLogger } from '../support/quiet.js';
import { waitFor } from '../support/wait.js';
import { flvVideoTags, meanBgr, medianFrameIntervalMs, readFrames } from './read-back.js';
import { opensslAvailable, startTlsProxy } from '../support/tls-proxy.js';
import { requireTool } from '../support/require-tool.js';

const KEY = 'sk_live_7f3a9c2e51d4b8';
const W = 320;
const H = 240;
const FPS = 25;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Harnessed {
  sky: RtmpSkyLine;
  logText: () => string;
  states: string[];
  errors: Error[];
  reconnects: Array<{ attempt: number; delayMs: number; reason: string }>;
}

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function skyline(url: string, extra: Partial<RtmpSkyLineOptions> = {}): Harnessed {
  const cap = captureLogger('debug');
  const sky = new RtmpSkyLine({
    url,
    logger: cap.logger,
    reconnect: { initialDelayMs: 200, maxDelayMs: 1000 },
    ...extra,
  });
  const h: Harnessed = { sky, logText: cap.text, states: [], errors: [], reconnects: [] };
  sky.on('state', (s) => h.states.push(s));
  sky.on('error', (e) => h.errors.push(e));
  sky.on('reconnect', (r) => h.reconnects.push(r));
  cleanups.push(() => sky.close());
  return h;
}

async function relay(options: Parameters<typeof NginxRtmp.start>[0] = {}): Promise<NginxRtmp> {
  const r = await NginxRtmp.start(options);
  cleanups.push(() => r.dispose());
  return r;
}

/**
 * Calls put() at `fps` like a camera loop, for at most maxFrames; counts what put() returned.
 * Capture times are on the camera's exact grid, so the rate read back does not depend on
 * how punctually this loaded machine runs the timer.
 */
function feed(sky: RtmpSkyLine, rgb: Rgb, maxFrames = 1500) {
  const frame = solid(W, H, rgb);
  const counts = { put: 0, accepted: 0, refused: 0 };
  const t0 = Date.now();
  const timer = setInterval(() => {
    if (counts.put >= maxFrames) return clearInterval(timer);
    const timestamp = t0 + (counts.put * 1000) / FPS;
    counts.put++;
    if (sky.put(frame, { timestamp })) counts.accepted++;
    else counts.refused++;
  }, 1000 / FPS);
  cleanups.push(() => clearInterval(timer));
  return { counts, stop: () => clearInterval(timer) };
}

function assertNoKey(h: Harnessed, key = KEY): void {
  assert.ok(!h.logText().includes(key), 'the stream key is in the log output');
  for (const e of h.errors) {
    assert.ok(!e.message.includes(key), `the stream key is in an error: ${e.message}`);
    assert.ok(!(e.stack ?? '').includes(key), 'the stream key is in an error stack');
    assert.ok(!String((e as RtmpError).debug ?? '').includes(key), 'the stream key is in error debug text');
  }
  for (const r of h.reconnects) assert.ok(!r.reason.includes(key), 'the stream key is in a reconnect event');
}

const codes = (h: Harnessed) => h.errors.map((e) => (e as RtmpError).code);

describe('RtmpSkyLine', { skip: requireTool('nginx with the RTMP module', NginxRtmp.available(), 'apt-get install nginx libnginx-mod-rtmp'), timeout: 120_000 }, () => {
  it('publishes frames that decode back from the relay at the right size, rate and colour; bytesOut is what went on the wire', async () => {
    const r = await relay();
    // A pass-through proxy in front of the relay counts the bytes the SkyLine sends.
    let wire = 0;
    let open = 0;
    const proxy = createServer((client: Socket) => {
      open++;
      const up = createConnection({ host: '127.0.0.1', port: r.port });
      client.on('data', (d: Buffer) => { wire += d.length; up.write(d); });
      up.pipe(client);
      const done = () => { client.destroy(); up.destroy(); };
      client.on('close', () => { open--; done(); });
      client.on('error', done);
      up.on('error', done);
    });
    const proxyPort = await new Promise<number>((res) => proxy.listen(0, '127.0.0.1', () => res((proxy.address() as { port: number }).port)));
    cleanups.push(() => new Promise<void>((res) => proxy.close(() => res())));
    const h = skyline(`rtmp://127.0.0.1:${proxyPort}/live/${KEY}`);
    await h.sky.startStreaming({ fps: FPS, width: W, height: H });
    assert.equal(h.sky.state, 'streaming');
    assert.equal(h.sky.connected, true);
    assert.equal(h.sky.sinkElement, 'rtmp2sink');
    assert.equal(h.sky.destination, `rtmp://127.0.0.1:${proxyPort}/live/****`);
    const f = feed(h.sky, [200, 100, 50]);

    const frames = await readFrames(r.url(KEY), 30, 15_000);
    assert.equal(frames.length, 30);
    for (const fr of frames) assert.deepEqual([fr.width, fr.height], [W, H]);
    assert.equal(medianFrameIntervalMs(frames), 1000 / FPS);
    const [b, g, red] = meanBgr(frames[frames.length - 1]!.bgr);
    assert.ok(Math.abs(b - 50) < 12 && Math.abs(g - 100) < 12 && Math.abs(red - 200) < 12, `colour ${[b, g, red]}`);

    f.stop();
    await h.sky.stopStreaming();
    const s = h.sky.stats();
    assert.equal(s.state, 'stopped');
    assert.ok(s.framesAccepted > 30);
    await waitFor(() => open === 0, 10_000, 'the publish connection closed');
    // rtmp2sink's counter starts after the handshake: C0 + C1 + C2 = 1 + 1536 + 1536 bytes. The
    // unpublish commands it sends as it stops (FCUnpublish, deleteStream: about 120 bytes) may
    // leave after the counter was last read; every byte of video is counted.
    const uncounted = wire - (s.bytesOut + 3073);
    assert.ok(uncounted >= 0 && uncounted <= 160, `bytesOut ${s.bytesOut}, ${wire} bytes on the wire`);
    assert.equal(h.errors.length, 0, h.errors.map((e) => e.message).join('; '));
    assertNoKey(h);
  });

  it('survives the relay being killed mid-stream and restarted on the same port, each connection starting with a keyframe', async (t) => {
    const r = await relay({ apps: { live: { record: true } } });
    const h = skyline(r.url(KEY));
    await h.sky.startStreaming({ fps: FPS, width: W, height: H });
    const f = feed(h.sky, [40, 160, 90]);
    assert.equal((await readFrames(r.url(KEY), 10, 15_000)).length, 10);

    await r.kill();
    await waitFor(() => h.reconnects.length >= 2, 10_000, 'reconnect attempts while the relay is down');
    assert.equal(h.sky.state, 'reconnecting');
    assert.equal(h.sky.connected, false);
    const refusedBefore = f.counts.refused;
    await waitFor(() => f.counts.refused > refusedBefore + 5, 5000, 'put() returns false while the relay is down');
    await sleep(3000 - 500);

    await r.restart();
    const restartedAt = Date.now();
    // No call from the application: the SkyLine reconnects by itself.
    const frames = await readFrames(r.url(KEY), 10, 10_000);
    t.diagnostic(`frames readable again ${Date.now() - restartedAt} ms after the relay restarted (ffmpeg probing included)`);
    assert.equal(frames.length, 10);
    assert.deepEqual([frames[0]!.width, frames[0]!.height], [W, H]);
    assert.equal(h.sky.state, 'streaming');

    f.stop();
    await h.sky.stopStreaming();
    assert.ok(h.states.includes('reconnecting') && !h.states.includes('error') && h.states.at(-1) === 'stopped', h.states.join(','));
    assert.equal(codes(h)[0], 'RTMP_CONNECTION_LOST');
    assert.ok(codes(h).includes('RTMP_CONNECTION_REFUSED'));
    const attempts = h.reconnects.map((x) => x.attempt);
    assert.deepEqual(attempts, attempts.map((_, i) => i + 1), 'attempts count up within one outage');
    assert.ok(h.reconnects.every((x, i) => i === 0 || x.delayMs >= h.reconnects[i - 1]!.delayMs), 'backoff grows');
    assert.ok(h.reconnects.every((x) => x.delayMs <= 1000), 'backoff is capped');
    assert.ok(h.sky.stats().framesDropped > 0);

    // nginx recorded each publish to its own file: both start with the AVC header, then a keyframe.
    const recordings = await r.recordings();
    assert.ok(recordings.length >= 2, `recordings: ${recordings.length}`);
    for (const file of recordings) {
      const tags = flvVideoTags(readFileSync(file));
      const firstPicture = tags.find((x) => !x.sequenceHeader);
      assert.ok(tags[0]?.sequenceHeader, `${file} starts with the AVC sequence header`);
      assert.ok(firstPicture?.keyframe, `${file}: first picture is a keyframe`);
    }
    assertNoKey(h);
  });

  it('a relay that hangs mid-stream (frozen: connection open, nothing read) is reported and left; once it thaws, frames are read back', async () => {
    const r = await relay();
    cleanups.push(() => r.thaw()); // a frozen nginx ignores the TERM of dispose()
    // Noise at a high bitrate (about 2 MB/s): the frozen relay's socket buffers fill in seconds,
    // and the sink's writes stop making progress.
    const h = skyline(r.url(KEY), { connectTimeoutMs: 2000, bitrate: 16_000, keyframeInterval: 25 });
    await h.sky.startStreaming({ fps: FPS, width: W, height: H });
    const grain = Array.from({ length: 8 }, (_, k) => noise(W, H, k + 1));
    let band: Rgb = [255, 0, 0];
    let puts = 0;
    const t0 = Date.now();
    const timer = setInterval(() => {
      // Noise above, a solid band below (rows 160..239) whose colour says which part this is.
      const f = grain[puts % grain.length]!;
      const bgr = [band[2], band[1], band[0]];
      for (let i = 160 * W * 3; i < f.data.length; i += 3) { f.data[i] = bgr[0]!; f.data[i + 1] = bgr[1]!; f.data[i + 2] = bgr[2]!; }
      h.sky.put(f, { timestamp: t0 + (puts++ * 1000) / FPS });
    }, 1000 / FPS);
    cleanups.push(() => clearInterval(timer));
    const bandColour = (fr: { bgr: Buffer }) => meanBgr(fr.bgr.subarray(176 * W * 3, 232 * W * 3));
    try {
      const before = await readFrames(r.url(KEY), 5, 15_000);
      assert.equal(before.length, 5);
      assert.equal(h.sky.state, 'streaming');
      const errorsBefore = h.errors.length;

      r.freeze();
      await waitFor(() => h.errors.length > errorsBefore && h.sky.state !== 'streaming', 60_000, 'the hung relay reported');
      const lost = h.errors.slice(errorsBefore) as RtmpError[];
      assert.ok(lost.every((e) => e instanceof RtmpError), lost.map((e) => e.message).join('; '));
      assert.equal(lost[0]!.code, 'RTMP_CONNECTION_LOST', lost[0]!.message);
      assert.match(lost[0]!.message, /stopped taking data \(the connection timed out\): relay hung/);
      assert.equal(h.sky.state, 'reconnecting');
      assert.equal(h.sky.connected, false);
      assert.ok(h.reconnects.length >= 1, 'a reconnect is scheduled');

      band = [0, 0, 255];
      r.thaw();
      await waitFor(() => h.sky.state === 'streaming' && h.sky.connected, 60_000, 'publishing again once the relay thawed');
      const after = await readFrames(r.url(KEY), 10, 15_000);
      assert.equal(after.length, 10);
      for (const fr of after) assert.deepEqual([fr.width, fr.height], [W, H]);
      const [b, g, red] = bandColour(after.at(-1)!);
      assert.ok(b > 200 && g < 50 && red < 50, `the band after the thaw is blue: ${[b, g, red].map(Math.round)}`);
      assertNoKey(h);
    } finally {
      clearInterval(timer);
      r.thaw();
    }
  });

  it('connects once a relay that was down at start comes up', async () => {
    const port = await freePort();
    const h = skyline(`rtmp://127.0.0.1:${port}/live/${KEY}`);
    await h.sky.startStreaming({ fps: FPS, width: W, height: H });
    await waitFor(() => h.errors.length > 0, 5000, 'an error event tells the relay is not there');
    assert.equal(codes(h)[0], 'RTMP_CONNECTION_REFUSED');
    assert.match(h.errors[0]!.message, /nothing accepts connections at 127\.0\.0\.1:\d+/);
    const f = feed(h.sky, [90, 90, 220]);
    await waitFor(() => f.counts.refused > 3, 5000, 'put() returns false until connected');

    const r = await relay({ port });
    await waitFor(() => h.sky.state === 'streaming', 10_000, 'the SkyLine to stream once the relay is up');
    assert.equal((await readFrames(r.url(KEY), 5, 10_000)).length, 5);
    f.stop();
    await h.sky.close();
    assertNoKey(h);
  });

  it('a relay that refuses the publish gives an error that says so, and keeps retrying', async () => {
    const good = 'good-key-0001';
    const r = await relay({ apps: { live: { publish: (key) => key === good }, closed: { publish: 'none' } } });

    const byKey = skyline(r.url(KEY));
    await byKey.sky.startStreaming({ fps: FPS, width: W, height: H });
    await waitFor(() => byKey.errors.length >= 2, 10_000, 'repeated attempts');
    assert.equal(codes(byKey)[0], 'RTMP_PUBLISH_REJECTED');
    assert.match(byKey.errors[0]!.message, /refused the publish to rtmp:\/\/127\.0\.0\.1:\d+\/live\/\*\*\*\*: stream key not accepted/);
    assert.ok(byKey.errors[0] instanceof RtmpError);
    assert.notEqual(byKey.sky.state, 'streaming');
    await byKey.sky.close();
    assert.ok(r.publishAttempts.filter((a) => a.streamKey === KEY && !a.allowed).length >= 2);
    assertNoKey(byKey);

    const denied = skyline(r.url(KEY, 'closed'));
    await denied.sky.startStreaming({ fps: FPS, width: W, height: H });
    await waitFor(() => denied.errors.length >= 1, 10_000);
    assert.equal(codes(denied)[0], 'RTMP_PUBLISH_REJECTED');
    assert.match(denied.errors[0]!.message, /closed the connection right after the publish .* refuses this stream key or app/);
    await denied.sky.close();
    assertNoKey(denied);

    const wrongApp = skyline(r.url(KEY, 'nosuchapp'));
    await wrongApp.sky.startStreaming({ fps: FPS, width: W, height: H });
    await waitFor(() => wrongApp.errors.length >= 1, 10_000);
    assert.equal(codes(wrongApp)[0], 'RTMP_APP_REJECTED');
    assert.match(wrongApp.errors[0]!.message, /refused the connection to app "nosuchapp"/);
    await wrongApp.sky.close();
    assertNoKey(wrongApp);

    // The accepted key on the same relay streams.
    const ok = skyline(r.url(good));
    await ok.sky.startStreaming({ fps: FPS, width: W, height: H });
    assert.equal(ok.sky.state, 'streaming');
    await ok.sky.close();
  });

  it('stopStreaming() and close() return during a retry wait and while a publish is pending', async () => {
    const port = await freePort();
    const h = skyline(`rtmp://127.0.0.1:${port}/live/${KEY}`, { reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    await h.sky.startStreaming({ fps: FPS, width: W, height: H });
    await waitFor(() => h.reconnects.length === 1, 5000, 'waiting to retry');
    await h.sky.stopStreaming();
    assert.equal(h.sky.state, 'stopped');
    assert.ok(!h.states.slice(h.states.lastIndexOf('reconnecting')).includes('streaming'), `states ${h.states.join(',')}`);
    await h.sky.startStreaming({ fps: FPS, width: W, height: H });
    await waitFor(() => h.reconnects.length === 2, 5000, 'waiting to retry again');
    await h.sky.close();
    assert.equal(h.sky.state, 'closed');

    // A relay that holds the publish unanswered (a slow key check).
    let asked = false;
    let release: () => void = () => undefined;
    const gate = new Promise<boolean>((resolve) => {
      release = () => resolve(false);
    });
    cleanups.push(() => release());
    const slow = await relay({ apps: { live: { publish: () => ((asked = true), gate) } } });
    const p = skyline(slow.url(KEY), { connectTimeoutMs: 60_000 });
    const starting = p.sky.startStreaming({ fps: FPS, width: W, height: H });
    await waitFor(() => asked, 10_000, 'the relay got the publish');
    await p.sky.close();
    await starting; // resolves: stopping is not a failure
    assert.equal(p.sky.state, 'closed');
    assert.deepEqual(p.errors, []);
    release();
  });

  it('a host that never answers gives a clear error after connectTimeoutMs and keeps retrying', async () => {
    // Accepts TCP connections and says nothing: an RTMP handshake that never completes.
    const held = new Set<Socket>();
    const silent: Server = createServer((s) => {
      held.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => {
      for (const s of held) s.destroy();
      return new Promise<void>((r) => silent.close(() => r()));
    });
    const port = (silent.address() as { port: number }).port;
    const h = skyline(`rtmp://127.0.0.1:${port}/live/${KEY}`, { connectTimeoutMs: 1500 });
    await h.sky.startStreaming({ fps: FPS, width: W, height: H });
    await waitFor(() => h.errors.length >= 2, 15_000, 'errors for repeated attempts');
    assert.equal(codes(h)[0], 'RTMP_CONNECT_TIMEOUT');
    assert.match(h.errors[0]!.message, /did not accept the publish .* within 1\.5 s: host unreachable, firewalled, or not an RTMP server/);
    assert.ok(h.reconnects.length >= 2);
    await h.sky.close();
    assertNoKey(h);
  });

  it('publishes over rtmps (TLS), and says so when the certificate is not trusted', { skip: requireTool('the openssl CLI', opensslAvailable, 'apt-get install openssl') }, async () => {
    const r = await relay();
    const proxy = await startTlsProxy(r.port);
    cleanups.push(() => proxy.close());
    const url = `rtmps://127.0.0.1:${proxy.port}/live/${KEY}`;

    const strict = skyline(url);
    await strict.sky.startStreaming({ fps: FPS, width: W, height: H });
    await waitFor(() => strict.errors.length >= 1, 10_000);
    assert.equal(codes(strict)[0], 'RTMP_TLS_ERROR');
    await strict.sky.close();
    assertNoKey(strict);

    const lax = skyline(url, { tlsVerify: false });
    await lax.sky.startStreaming({ fps: FPS, width: W, height: H });
    assert.equal(lax.sky.state, 'streaming');
    const f = feed(lax.sky, [30, 200, 30]);
    const frames = await readFrames(r.url(KEY), 10, 15_000);
    assert.equal(frames.length, 10);
    f.stop();
    await lax.sky.close();
    assertNoKey(lax);
  });

  it('publishes through rtmpsink (librtmp) when asked to, its error texts masked', async () => {
    const r = await relay({ apps: { live: { publish: (key) => key === KEY } } });
    // librtmp quotes the whole location, key included, in its errors: they come out masked.
    const refused = 'refused-key-4242';
    const bad = skyline(r.url(refused), { sinkElement: 'rtmpsink' });
    await bad.sky.startStreaming({ fps: FPS, width: W, height: H });
    const fb = feed(bad.sky, [10, 10, 10]);
    await waitFor(() => bad.errors.length >= 1, 10_000, 'an error for the refused key');
    fb.stop();
    await bad.sky.close();
    assert.match(String((bad.errors[0] as RtmpError).debug), /rtmp:\/\/127\.0\.0\.1:\d+\/live\/\*\*\*\*/);
    assertNoKey(bad, refused);

    const h = skyline(r.url(KEY), { sinkElement: 'rtmpsink' });
    await h.sky.startStreaming({ fps: FPS, width: W, height: H });
    assert.equal(h.sky.sinkElement, 'rtmpsink');
    const f = feed(h.sky, [128, 128, 128]);
    const frames = await readFrames(r.url(KEY), 10, 15_000);
    assert.equal(frames.length, 10);
    assert.deepEqual([frames[0]!.width, frames[0]!.height], [W, H]);
    f.stop();
    await h.sky.close();
    assertNoKey(h);
  });

  it('rejects bad destinations up front without showing the key', () => {
    assert.throws(() => new RtmpSkyLine({ url: `http://relay/live/${KEY}` }), RtmpUrlError);
    assert.throws(() => new RtmpSkyLine({ host: 'relay' }), /needs a streamKey/);
    assert.throws(() => new RtmpSkyLine({ url: `rtmp://relay/${KEY}` }), (e: Error) => e instanceof RtmpUrlError && !e.message.includes(KEY));
    assert.throws(() => new RtmpSkyLine({ host: 'relay', streamKey: KEY, sinkElement: 'bogus' as 'rtmpsink' }), RangeError);
    const s = new RtmpSkyLine({ host: 'relay.example.com', streamKey: KEY, logger: captureLogger().logger });
    assert.equal(s.destination, 'rtmp://relay.example.com:1935/live/****');
    for (const text of [JSON.stringify(s), inspect(s, { depth: 8 })]) assert.ok(!text.includes(KEY), 'the key shows when the SkyLine is inspected');
  });
});
