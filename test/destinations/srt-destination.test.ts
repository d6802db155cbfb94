// SrtDestination against real third parties: ffmpeg's srt:// reading us as caller (we listen)
// and as listener (we call), srt-live-transmit relaying us to a reader, and a listener that
// refuses our passphrase. Frames carry the index band, so what ffmpeg decodes is checked frame by
// frame. (2 % random loss, in a network namespace with nftables: srt-loss.test.ts.)
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import type { DestinationError } from '../../src/destinations/destination.js';
import { SRT_MAX_REJECTIONS, SrtDestination, type SrtDestinationOptions } from '../../src/destinations/srt/srt-destination.js';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { MultiSkyLine } from '../../src/multi-skyline.js';
import { testLink } from '../support/destination-link.js';
import { encodeClip } from '../support/encoded-clip.js';
import { indexed, indexOf } from '../support/frames.js';
import { freeUdpPort } from '../support/ports.js';
import { captureLogger } from '../support/quiet.js';
import { commandWorks, requireTool } from '../support/require-tool.js';
import { waitFor } from '../support/wait.js';
import { readFrames, type DecodedFrame } from '../rtmp/read-back.js';

const W = 320;
const H = 240;
const FPS = 25;
const PASS = 'srt-pass-7f3e91c2';
const VIDEO = { width: W, height: H, fps: FPS, framerate: `${FPS}/1` };
const cleanups: Array<() => Promise<void> | void> = [];
let dir: string;
let clip: AccessUnit[];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dest-srt-'));
  clip = await encodeClip(join(dir, 'clip.h264'), { frames: 50, width: W, height: H, fps: FPS, keyInt: 25 });
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

function multi() {
  const log = captureLogger('debug');
  const sky = new MultiSkyLine({ logger: log.logger, statsIntervalMs: 0, keyframeInterval: FPS, stopTimeoutMs: 8000 });
  const errors: Error[] = [];
  sky.on('error', (e) => errors.push(e));
  cleanups.push(() => sky.close());
  return { sky, log, errors };
}

/** Puts indexed frames at real-time pace until `until()` or `max` frames; returns how many. */
async function putUntil(sky: MultiSkyLine, from: number, max: number, until: () => boolean): Promise<number> {
  const start = Date.now();
  let i = from;
  while (i < from + max && !until()) {
    const wait = start + ((i - from) * 1000) / FPS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await sky.putAsync(indexed(W, H, i), { timestamp: Date.now() });
    i++;
  }
  return i - from;
}

/** Frames decoded come in order, at our size, each with a readable index. */
function assertIndexed(frames: DecodedFrame[], count: number): number[] {
  assert.equal(frames.length, count, `decoded ${frames.length} of ${count}`);
  const idx = frames.map((f) => indexOf({ data: f.bgr, width: f.width, height: f.height, format: 'BGR' }));
  for (const f of frames) assert.deepEqual([f.width, f.height], [W, H]);
  assert.ok(idx.every((n) => n >= 0), `every frame's index is readable: ${idx.join(',')}`);
  for (let k = 1; k < idx.length; k++) assert.equal(idx[k], idx[k - 1]! + 1, `consecutive frames: ${idx.join(',')}`);
  return idx;
}

function run(cmd: string, args: string[]): ChildProcess {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr!.resume();
  cleanups.push(() => { if (p.exitCode === null) p.kill('SIGKILL'); });
  return p;
}

/** Writes the encoded clip at FPS, like a live encoder. */
function feed(d: SrtDestination) {
  let i = 0;
  const t0 = Date.now();
  const timer = setInterval(() => {
    while (i < ((Date.now() - t0) * FPS) / 1000) {
      const au = clip[i % clip.length]!;
      const ptsNs = Math.round((i * 1e9) / FPS);
      d.write({ ...au, ptsNs, captureMs: t0 + ptsNs / 1e6 });
      i++;
    }
  }, 1000 / FPS / 2);
  cleanups.push(() => clearInterval(timer));
  return () => clearInterval(timer);
}

function assertNoSecret(text: string, errors: Error[], d: SrtDestination): void {
  assert.ok(!text.includes(PASS), 'the passphrase is in a log line');
  for (const e of errors) assert.ok(!`${e.message}${e.stack}`.includes(PASS), `the passphrase is in an error: ${e.message}`);
  assert.ok(!JSON.stringify(d.stats()).includes(PASS) && !inspect(d, { depth: 5 }).includes(PASS), 'the passphrase shows in stats or inspect');
}

const tools = () => commandWorks('ffmpeg') && commandWorks('srt-live-transmit', ['-version']);

describe('SrtDestination', { skip: requireTool('ffmpeg and srt-live-transmit', tools, 'apt-get install ffmpeg srt-tools'), timeout: 90_000 }, () => {
  it('checks its options with clear errors, the passphrase never in them', () => {
    assert.throws(() => new SrtDestination({ url: 'srt://127.0.0.1:9000', passphrase: 'short' }), /passphrase must be 10 to 79 characters \(got 5\)/);
    assert.throws(() => new SrtDestination({ url: 'srt://127.0.0.1:9000', passphrase: 'x'.repeat(80) }), /10 to 79/);
    assert.throws(() => new SrtDestination({ url: `srt://127.0.0.1:9000?passphrase=${PASS}` }), (e: Error) => /no query/.test(e.message) && !e.message.includes(PASS));
    assert.throws(() => new SrtDestination({ mode: 'listener' }), /needs a port/);
    assert.throws(() => new SrtDestination({ url: 'rtmp://x/y' }), /srt:\/\/host:port/);
    assert.throws(() => new SrtDestination({ url: 'srt://h:1', pbkeylen: 16 }), /needs a passphrase/);
    assert.throws(() => new SrtDestination({ url: 'srt://h:1', passphrase: PASS, pbkeylen: 20 as 16 }), /16, 24 or 32/);
    assert.throws(() => new SrtDestination({ url: 'srt://h:1', latencyMs: -1 }), /latencyMs/);
    const d = new SrtDestination({ mode: 'listener', port: 9000, passphrase: PASS, streamId: 'publish:cam1' });
    assert.equal(d.name, 'srt://0.0.0.0:9000?mode=listener');
    assert.equal(d.kind, 'srt');
    assert.equal(d.live, true);
    assert.ok(!inspect(d, { depth: 5 }).includes(PASS) && !JSON.stringify(d.stats()).includes(PASS));
  });

  it('listener on a UDP port already taken: open() rejects with SRT_LISTEN_FAILED, nothing retried', async () => {
    const { createSocket } = await import('node:dgram');
    const taken = createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '0.0.0.0', () => r()));
    cleanups.push(() => new Promise<void>((r) => taken.close(() => r())));
    const port = taken.address().port;
    const d = new SrtDestination({ mode: 'listener', port });
    const link = testLink();
    await assert.rejects(d.open(VIDEO, link.link), (e: DestinationError) => e.code === 'SRT_LISTEN_FAILED' && e.message.startsWith(`${d.name}: could not listen on UDP 0.0.0.0:${port}`));
    assert.equal(d.state, 'failed');
    await d.close(AbortSignal.timeout(3000));
    assert.equal(d.state, 'idle');
  });

  it('listener: a MultiSkyLine read by ffmpeg as caller; a second caller after the first left; SRT stats', async () => {
    const port = await freeUdpPort();
    const { sky, log, errors } = multi();
    const srt = new SrtDestination({ mode: 'listener', port, latencyMs: 80 });
    await sky.attach(srt);
    await sky.startStreaming({ fps: FPS, width: W, height: H });
    assert.equal(srt.state, 'streaming');
    for (const round of [1, 2]) {
      const reading = readFrames(`srt://127.0.0.1:${port}?mode=caller&latency=80000`, 30, 20_000);
      let done = false;
      void reading.then(() => (done = true));
      let sawStats = false;
      await putUntil(sky, round * 1000, 20 * FPS, () => {
        const s = srt.stats();
        if (s.srt && s.srt.peers === 1 && s.srt.packetsSent > 0) sawStats = true;
        return done;
      });
      const idx = assertIndexed(await reading, 30);
      assert.ok(idx[0]! >= round * 1000, 'frames of this round');
      assert.ok(sawStats, `round ${round}: srt stats with one caller: ${JSON.stringify(srt.stats().srt)}`);
      await waitFor(() => !srt.connected, 10_000, 'the caller gone');
    }
    const s = srt.stats();
    assert.ok(s.bytesOut > 0);
    assert.ok(s.srt && s.srt.rttMs >= 0 && s.srt.negotiatedLatencyMs >= 0);
    await sky.stopStreaming();
    assert.deepEqual(errors, []);
    assert.match(log.text(), /SRT caller connected/);
  });

  it('caller with passphrase and a MediaMTX stream id, into `ffmpeg -i srt://...?mode=listener`', async () => {
    const port = await freeUdpPort();
    const reading = readFrames(`srt://127.0.0.1:${port}?mode=listener&passphrase=${PASS}&pbkeylen=32`, 40, 25_000);
    const { sky, log, errors } = multi();
    const srt = new SrtDestination({ url: `srt://127.0.0.1:${port}`, passphrase: PASS, pbkeylen: 32, streamId: 'publish:live/cam1', reconnect: { initialDelayMs: 200, maxDelayMs: 500 } });
    assert.equal(srt.name, `srt://127.0.0.1:${port}`);
    await sky.attach(srt);
    await sky.startStreaming({ fps: FPS, width: W, height: H });
    let done = false;
    void reading.then(() => (done = true));
    await putUntil(sky, 0, 20 * FPS, () => done);
    assertIndexed(await reading, 40);
    await sky.stopStreaming();
    assert.deepEqual(errors.filter((e) => !/SRT/.test(e.message)), []);
    assertNoSecret(log.text(), errors, srt);
  });

  it('`gst-skyline srt` publishes the test pattern as caller, the passphrase from the environment', async () => {
    const port = await freeUdpPort();
    const reading = readFrames(`srt://127.0.0.1:${port}?mode=listener&passphrase=${PASS}`, 25, 30_000);
    const bin = join(import.meta.dirname, '../../src/cli/bin.ts');
    const cli = spawn(process.execPath, ['--import', 'tsx', bin, 'srt', `srt://127.0.0.1:${port}`, '--size', `${W}x${H}`, '--fps', String(FPS), '--streamid', 'publish:cli', '--duration', '20', '--json'], {
      env: { ...process.env, SKYLINE_SRT_PASSPHRASE: PASS, SKYLINE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    cli.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    cleanups.push(() => { if (cli.exitCode === null) cli.kill('SIGKILL'); });
    const frames = await reading;
    cli.kill('SIGINT');
    const code = await new Promise<number | null>((r) => cli.once('exit', (c) => r(c)));
    assert.equal(frames.length, 25, out.slice(-800));
    for (const f of frames) assert.deepEqual([f.width, f.height], [W, H]);
    assert.equal(code, 0, out.slice(-800));
    assert.match(out, new RegExp(`srt://127\\.0\\.0\\.1:${port}`));
    assert.ok(!out.includes(PASS), 'the passphrase is in the command output');
  });

  it('srt-live-transmit relays us (caller) to a reader; the relay restarting makes us reconnect', async () => {
    const inPort = await freeUdpPort();
    const outPort = await freeUdpPort();
    const relayArgs = ['-q', `srt://127.0.0.1:${inPort}?mode=listener&passphrase=${PASS}`, `srt://127.0.0.1:${outPort}?mode=listener`];
    let relay = run('srt-live-transmit', relayArgs);
    const link = testLink({ scrub: false });
    const d = new SrtDestination({ url: `srt://127.0.0.1:${inPort}`, passphrase: PASS, reconnect: { initialDelayMs: 200, maxDelayMs: 500 } });
    const errors: DestinationError[] = [];
    d.on('error', (e) => errors.push(e));
    cleanups.push(() => d.close(AbortSignal.timeout(5000)));
    // The relay takes its output's reader before its input.
    const reading = readFrames(`srt://127.0.0.1:${outPort}?mode=caller`, 30, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    await d.open(VIDEO, link.link);
    const stop = feed(d);
    const frames = await reading;
    assert.equal(frames.length, 30);
    for (const f of frames) assert.deepEqual([f.width, f.height], [W, H]);
    assert.ok(frames[0]!.keyframe, 'the reader starts at a keyframe');
    await waitFor(() => d.state === 'streaming', 5000, 'streaming');

    relay.kill('SIGKILL');
    await waitFor(() => d.state === 'reconnecting', 15_000, 'reconnecting after the relay died');
    relay = run('srt-live-transmit', relayArgs);
    const again = readFrames(`srt://127.0.0.1:${outPort}?mode=caller`, 10, 20_000);
    await waitFor(() => d.state === 'streaming', 15_000, 'streaming again');
    assert.equal((await again).length, 10);
    assert.ok(d.stats().reconnects >= 1);
    assert.ok(link.keyframeRequests >= 1, 'asked for a keyframe after reconnecting');
    stop();
    await d.close(AbortSignal.timeout(5000));
    assert.equal(d.state, 'idle');
    assert.ok(errors.some((e) => (e.cause as { code?: string }).code === 'SRT_CONNECTION_LOST'), errors.map((e) => e.message).join('; '));
    assertNoSecret(link.text(), errors, d);
  });

  it('a wrong passphrase: refused with a clear error, retried a bounded number of times, then failed; never logged', async () => {
    const port = await freeUdpPort();
    run('ffmpeg', ['-hide_banner', '-nostdin', '-i', `srt://127.0.0.1:${port}?mode=listener&passphrase=the-right-one-123`, '-f', 'null', '-']);
    await new Promise((r) => setTimeout(r, 500));
    const link = testLink({ scrub: false });
    const d = new SrtDestination({ url: `srt://127.0.0.1:${port}`, passphrase: PASS, reconnect: { initialDelayMs: 100, maxDelayMs: 200 } });
    const errors: DestinationError[] = [];
    d.on('error', (e) => errors.push(e));
    cleanups.push(() => d.close(AbortSignal.timeout(5000)));
    const stop = feed(d);
    await d.open(VIDEO, link.link).catch((e: Error) => errors.push(e as DestinationError));
    await waitFor(() => d.state === 'failed', 20_000, `failed (state ${d.state}): ${errors.map((e) => e.message).join(' | ')}`);
    stop();
    const last = errors.at(-1)!;
    assert.equal(last.code, 'SRT_REJECTED');
    assert.match(last.message, /refused the connection: a wrong or missing passphrase/);
    assert.equal(errors.filter((e) => e.code === 'SRT_REJECTED').length, SRT_MAX_REJECTIONS);
    assert.equal(d.stats().lastError, last.message);
    await d.close(AbortSignal.timeout(5000));
    assert.equal(d.state, 'idle');
    assertNoSecret(link.text(), errors, d);
  });
});
