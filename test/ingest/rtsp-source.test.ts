// LiveSource from our RTSPSkyLine, over RTP/TCP (interleaved) and RTP/UDP, with Digest
// credentials. Capture times come from the RTCP sender reports: the frames are put() with capture
// times an hour in the past, and must come back with exactly those, not their arrival times.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { LiveSource, RTSPSkyLine, type LiveSourceOptions, type SourceFrame } from '../../src/index.js';
import { indexOf } from '../support/frames.js';
import { feedIndexed } from '../support/ingest-material.js';
import { captureLogger } from '../support/quiet.js';
import { requireTool } from '../support/require-tool.js';
import { opensslAvailable, startTlsProxy } from '../support/tls-proxy.js';
import { waitFor } from '../support/wait.js';

const W = 320;
const H = 240;
const FPS = 30;
const PASSWORD = 'Sup3r-Secret-pw';
const T0 = Date.now() - 3_600_000;
let sky: RTSPSkyLine;
let feed: ReturnType<typeof feedIndexed>;

before(async () => {
  sky = new RTSPSkyLine({ port: 0, auth: { username: 'viewer', password: PASSWORD }, keyframeInterval: 15, statsIntervalMs: 0, stopTimeoutMs: 3000, logger: captureLogger('warn').logger });
  sky.on('error', () => undefined);
  await sky.startStreaming({ fps: FPS, width: W, height: H });
  feed = feedIndexed(sky, { fps: FPS, width: W, height: H, t0: T0 });
});

after(async () => {
  feed?.stop();
  await sky?.close();
});

const withAuth = (password = PASSWORD) => sky.url.replace('rtsp://', `rtsp://viewer:${encodeURIComponent(password)}@`);

const opened: LiveSource[] = [];
after(async () => {
  for (const s of opened) await s.close();
});

function source(url: string, extra: Partial<LiveSourceOptions> = {}) {
  const log = captureLogger('debug');
  const s = new LiveSource({ url, logger: log.logger, queueFrames: 256, ...extra });
  opened.push(s);
  const errors: Error[] = [];
  s.on('error', (e) => errors.push(e));
  return { s, log, errors };
}

async function take(s: LiveSource, n: number): Promise<SourceFrame[]> {
  const out: SourceFrame[] = [];
  for await (const f of s) {
    out.push(f);
    if (out.length >= n) break;
  }
  return out;
}

function checkFrames(frames: SourceFrame[], what: string): number[] {
  const idx = frames.map(indexOf);
  assert.ok(idx.every((i) => i >= 0), `${what}: every index band readable: ${idx}`);
  for (let k = 1; k < idx.length; k++) assert.equal(idx[k], idx[k - 1]! + 1, `${what}: consecutive frames ${idx}`);
  for (const f of frames) {
    assert.deepEqual([f.width, f.height, f.format, f.data.length], [W, H, 'BGR', W * H * 3]);
    const put = feed.times.get(indexOf(f))!;
    // Sender reports carry the capture time; the RTP clock is 90 kHz (11 µs).
    assert.ok(Math.abs(f.timestamp - put) < 0.5, `${what}: frame ${indexOf(f)} capture time ${f.timestamp - T0} vs put ${put - T0}`);
  }
  return idx;
}

for (const transport of ['tcp', 'udp'] as const) {
  test(`RTSP over ${transport.toUpperCase()} with Digest credentials: frames by index, capture times from sender reports`, async () => {
    const { s, log } = source(withAuth(), { rtspTransport: transport });
    await s.start();
    assert.equal(s.state, 'streaming');
    const frames = await take(s, 40);
    checkFrames(frames, transport);
    // past(): a window of known frames, from the keyframe before it.
    const idx = frames.map(indexOf);
    const a = idx[20]!;
    const past = await s.past(feed.times.get(a)! - 1, feed.times.get(a + 6)! + 1);
    assert.deepEqual(past.map(indexOf), [a, a + 1, a + 2, a + 3, a + 4, a + 5, a + 6]);
    // screenshot(): the keyframe nearest the time, among those we saw.
    const keys = frames.filter((f) => f.keyframe);
    assert.ok(keys.length >= 1, 'a keyframe every 15 frames');
    const at = feed.times.get(idx[25]!)!;
    const shot = (await s.screenshot(at))!;
    assert.equal(shot.keyframe, true);
    assert.ok(Math.abs(shot.timestamp - feed.times.get(indexOf(shot))!) < 0.5);
    const best = Math.min(...keys.map((k) => Math.abs(k.timestamp - at)));
    assert.ok(Math.abs(shot.timestamp - at) <= best, 'nearest keyframe');
    const p = s.probe();
    assert.deepEqual([p.codec, p.width, p.height], ['video/x-h264', W, H]);
    assert.ok(Math.abs(p.fps! - FPS) < 3, `fps ${p.fps}`);
    assert.ok(p.start! >= T0 && p.end! <= T0 + 3_600_000 && p.end! > p.start!);
    await s.close();
    assert.equal(s.state, 'closed');
    assert.ok(!log.text().includes(PASSWORD), 'the password is never logged');
    assert.match(log.text(), /viewer:\*\*\*\*@/);
  });
}

test('rtsps:// (RTSP over TLS, media interleaved): an untrusted certificate is UNTRUSTED_CERTIFICATE; trusted through tls.ca, frames by index with capture times', { skip: requireTool('the openssl CLI', opensslAvailable, 'apt-get install openssl') }, async () => {
  const proxy = await startTlsProxy(Number(new URL(sky.url).port));
  try {
    const url = withAuth().replace(/^rtsp:\/\/(.*@)127\.0\.0\.1:\d+/, `rtsps://$1localhost:${proxy.port}`);
    const untrusted = source(url);
    await assert.rejects(untrusted.s.start(), (e: Error & { code?: string }) => e.code === 'UNTRUSTED_CERTIFICATE' && /tls\.ca/.test(e.message) && !e.message.includes(PASSWORD));
    // UDP cannot be had over rtsps: the media comes interleaved in the TLS connection.
    const { s, log } = source(url, { tls: { ca: proxy.cert }, rtspTransport: 'udp' });
    await s.start();
    checkFrames(await take(s, 20), 'rtsps');
    await s.close();
    assert.ok(!log.text().includes(PASSWORD), 'the password is never logged');
    // Accepting any certificate is the caller's explicit choice.
    const loose = source(url, { tls: { rejectUnauthorized: false } });
    await loose.s.start();
    checkFrames(await take(loose.s, 5), 'rtsps, certificate unchecked');
    await loose.s.close();
  } finally {
    await proxy.close();
  }
});

test('latest(): nothing is decoded until asked; then the newest frame, never the same one twice', async () => {
  const { s } = source(withAuth(), { decodeIdleMs: 60_000 });
  await s.start();
  await waitFor(() => s.probe().units >= 45, 20_000, '45 units buffered');
  assert.equal(s.stats().framesDecoded, 0, 'no consumer, no decoding');
  assert.equal(s.stats().decoding, false);
  const first = (await s.latest())!;
  assert.ok(first, 'a frame');
  const i0 = indexOf(first);
  assert.ok(Math.abs(first.timestamp - feed.times.get(i0)!) < 0.5);
  // Decoded from the newest keyframe only, not the whole buffer.
  const units = s.probe().units;
  assert.ok(s.stats().framesDecoded <= 15 + 8 + (units - 45), `decoded ${s.stats().framesDecoded} of ${units}`);
  const seen = [i0];
  await waitFor(() => {
    void s.latest().then((f) => f && seen.push(indexOf(f)));
    return seen.length >= 6;
  }, 20_000, 'six more distinct latest frames');
  for (let k = 1; k < seen.length; k++) assert.ok(seen[k]! > seen[k - 1]!, `never the same frame twice: ${seen}`);
  await s.close();
});

test('a slow consumer loses the oldest frames, counted, and then gets the newest', async () => {
  const { s } = source(withAuth(), { queueFrames: 2 });
  await s.start();
  const it = s[Symbol.asyncIterator]();
  const first = indexOf((await it.next()).value as SourceFrame);
  // Busy elsewhere while 20 more units arrive.
  const units = s.stats().unitsReceived;
  await waitFor(() => s.stats().unitsReceived >= units + 20, 20_000, '20 more units');
  const later: number[] = [];
  for (let k = 0; k < 3; k++) later.push(indexOf((await it.next()).value as SourceFrame));
  await it.return!();
  assert.ok(later[0]! > first, `${first} then ${later}`);
  assert.ok(later.at(-1)! >= first + 15, `the consumer skipped ahead: ${first} then ${later}`);
  assert.ok(s.stats().framesDropped >= 10, `drops counted: ${s.stats().framesDropped}`);
});

test('wrong password → UNAUTHORIZED, wrong path → NOT_FOUND, closed port → UNREACHABLE; nothing secret in the errors', async () => {
  const wrong = source(withAuth('not-the-password'));
  await assert.rejects(wrong.s.start(), (e: Error & { code?: string }) => e.code === 'UNAUTHORIZED' && !e.message.includes('not-the-password'));
  assert.equal(wrong.s.state, 'error');
  assert.ok(!wrong.log.text().includes('not-the-password'));
  const none = source(sky.url.replace('/live', '/nothing-here').replace('rtsp://', `rtsp://viewer:${PASSWORD}@`));
  await assert.rejects(none.s.start(), (e: Error & { code?: string }) => e.code === 'NOT_FOUND' && /DESCRIBE answered 404/.test(e.message));
  const noCreds = source(sky.url);
  await assert.rejects(noCreds.s.start(), (e: Error & { code?: string }) => e.code === 'UNAUTHORIZED' && /wants credentials/.test(e.message));
  const { freePort } = await import('../support/ports.js');
  const closed = source(`rtsp://127.0.0.1:${await freePort()}/x`);
  await assert.rejects(closed.s.start(), (e: Error & { code?: string }) => e.code === 'UNREACHABLE' && /connection refused/.test(e.message));
  for (const x of [wrong, none, noCreds, closed]) {
    assert.ok(x.errors.length >= 1, 'an error event too');
    await x.s.close();
  }
});
