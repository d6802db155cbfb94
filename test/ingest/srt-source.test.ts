// LiveSource from SRT: as caller, from gst-launch's srtsink listening with a passphrase; as
// listener, from ffmpeg calling us with a stream id. Frames decoded and counted; capture times
// are arrival times (SRT carries no wall clock); the passphrase is masked and never logged.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { LiveSource, SrtDestination, type SourceFrame } from '../../src/index.js';
import { readFrames } from '../rtmp/read-back.js';
import { parseSourceUrl } from '../../src/ingest/source-url.js';
import { freeUdpPort } from '../support/ports.js';
import { captureLogger } from '../support/quiet.js';
import { commandWorks, requireTool } from '../support/require-tool.js';

const W = 320;
const H = 240;
const FPS = 25;
const PASS = 'srt-in-pass-5b81d0e4';
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function run(cmd: string, args: string[]): ChildProcess {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr!.resume();
  cleanups.push(() => { if (p.exitCode === null) p.kill('SIGKILL'); });
  return p;
}

function source(url: string) {
  const log = captureLogger('debug');
  const s = new LiveSource({ url, logger: log.logger, queueFrames: 256, reconnect: { initialDelayMs: 200, maxDelayMs: 1000 } });
  const errors: Error[] = [];
  s.on('error', (e) => errors.push(e));
  cleanups.push(() => s.close());
  return { s, log, errors };
}

async function take(s: LiveSource, n: number, timeoutMs = 20_000): Promise<SourceFrame[]> {
  const out: SourceFrame[] = [];
  const timer = setTimeout(() => void s.close(), timeoutMs);
  try {
    for await (const f of s) {
      out.push(f);
      if (out.length >= n) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

function assertFrames(frames: SourceFrame[], n: number, sentAfter: number): void {
  assert.equal(frames.length, n);
  for (const f of frames) assert.deepEqual([f.width, f.height], [W, H]);
  for (let k = 1; k < frames.length; k++) assert.ok(frames[k]!.timestamp > frames[k - 1]!.timestamp, 'capture times increase');
  // Arrival-based: after the publisher started, never in the future.
  for (const f of frames) assert.ok(f.timestamp >= sentAfter && f.timestamp <= Date.now(), `capture time ${f.timestamp}`);
}

describe('LiveSource srt://', { skip: requireTool('ffmpeg and gst-launch-1.0 with srtsink', () => commandWorks('ffmpeg') && commandWorks('gst-inspect-1.0', ['srtsink']), 'apt-get install ffmpeg gstreamer1.0-plugins-bad'), timeout: 60_000 }, () => {
  it('parses and masks: passphrase and streamid never shown, bad values refused', () => {
    const spec = parseSourceUrl(`srt://127.0.0.1:9000?mode=caller&latency=200&passphrase=${PASS}&streamid=read:cam1:user:pw-9f8e7d`);
    assert.equal(spec.kind, 'srt');
    assert.equal(spec.masked, 'srt://127.0.0.1:9000?mode=caller&latency=200&passphrase=****&streamid=****');
    assert.ok(!spec.launch!.includes(PASS) && !JSON.stringify(spec.properties!.in!.uri).includes(PASS));
    assert.equal(spec.properties!.in!.passphrase, PASS);
    assert.ok(spec.secrets.includes(PASS));
    assert.equal(parseSourceUrl('srt://:9000?mode=listener').properties!.in!.uri, 'srt://0.0.0.0:9000?mode=listener&auto-reconnect=false');
    assert.throws(() => parseSourceUrl('srt://127.0.0.1:9000?passphrase=short'), /10 to 79/);
    assert.throws(() => parseSourceUrl('srt://127.0.0.1:9000?mode=rendezvous'), /caller or listener/);
    assert.throws(() => parseSourceUrl('srt://127.0.0.1:9000?foo=1'), /not one LiveSource takes/);
  });

  it('caller: reads gst-launch srtsink listening with a passphrase', async () => {
    const port = await freeUdpPort();
    const t0 = Date.now();
    run('gst-launch-1.0', ['-q', ...`videotestsrc is-live=true ! video/x-raw,width=${W},height=${H},framerate=${FPS}/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=${FPS} ! h264parse config-interval=-1 ! mpegtsmux alignment=7 ! srtsink sync=false`.split(' '), `uri=srt://127.0.0.1:${port}?mode=listener&passphrase=${PASS}&wait-for-connection=false`]);
    await new Promise((r) => setTimeout(r, 500));
    const { s, log } = source(`srt://127.0.0.1:${port}?mode=caller&passphrase=${PASS}&latency=80`);
    assert.equal(s.url, `srt://127.0.0.1:${port}?mode=caller&passphrase=****&latency=80`);
    await s.start();
    assertFrames(await take(s, 30), 30, t0);
    assert.deepEqual([s.probe().codec, s.probe().width], ['video/x-h264', W]);
    assert.ok(!log.text().includes(PASS), 'the passphrase is never logged');
  });

  it('relays without re-encoding: srt:// in, attach() to an SrtDestination listener, ffmpeg reads it', async () => {
    const inPort = await freeUdpPort();
    const outPort = await freeUdpPort();
    run('gst-launch-1.0', ['-q', ...`videotestsrc is-live=true ! video/x-raw,width=${W},height=${H},framerate=${FPS}/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=${FPS} ! h264parse config-interval=-1 ! mpegtsmux alignment=7 ! srtsink sync=false`.split(' '), `uri=srt://127.0.0.1:${inPort}?mode=listener&wait-for-connection=false`]);
    await new Promise((r) => setTimeout(r, 500));
    const { s } = source(`srt://127.0.0.1:${inPort}`);
    await s.start();
    const out = new SrtDestination({ mode: 'listener', port: outPort, passphrase: PASS });
    cleanups.push(() => out.dispose());
    await s.attach(out);
    const frames = await readFrames(`srt://127.0.0.1:${outPort}?mode=caller&passphrase=${PASS}`, 25, 20_000);
    assert.equal(frames.length, 25);
    for (const f of frames) assert.deepEqual([f.width, f.height], [W, H]);
    assert.ok(frames[0]!.keyframe, 'the caller starts at a keyframe');
    assert.equal(out.kind, 'srt');
    await s.detach(out);
  });

  it('listener: ffmpeg calls us with a stream id', async () => {
    const port = await freeUdpPort();
    const { s, log } = source(`srt://:${port}?mode=listener&streamid=publish:cam1&passphrase=${PASS}`);
    const started = s.start();
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    run('ffmpeg', ['-hide_banner', '-nostdin', '-re', '-f', 'lavfi', '-i', `testsrc2=size=${W}x${H}:rate=${FPS}`, '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(FPS), '-pix_fmt', 'yuv420p', '-f', 'mpegts', `srt://127.0.0.1:${port}?mode=caller&pkt_size=1316&streamid=publish:cam1&passphrase=${PASS}`]);
    await started;
    assertFrames(await take(s, 30), 30, t0 - 1000);
    assert.ok(!log.text().includes(PASS), 'the passphrase is never logged');
  });
});
