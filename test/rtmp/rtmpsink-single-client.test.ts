// Issue 9, defect 10: with sinkElement 'rtmpsink' the SkyLine opened and dropped a bare TCP
// connection to test reachability before publishing. A one-client RTMP server (ffmpeg -listen 1)
// took that probe as its client and exited, so nothing was ever published.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RtmpSkyLine } from '../../src/rtmp/rtmp-skyline.js';
import { centreColour, decodeRgb, probeVideo } from '../support/ffprobe.js';
import { level } from '../support/frames.js';
import { freePort } from '../support/ports.js';
import { captureLogger } from '../support/quiet.js';
import { waitFor } from '../support/wait.js';

const KEY = 'sk_single_9c2e51d4b8';
const W = 320;
const H = 240;
const FPS = 25;
const N = 50;

/** True once something listens on 127.0.0.1:port, read from /proc (connecting would be the probe we must not make). */
function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').some((l) => {
    const f = l.trim().split(/\s+/);
    return f[1]?.endsWith(`:${hex}`) && f[3] === '0A';
  });
}

test('rtmpsink publishes to a one-client server (ffmpeg -listen 1): the file it writes decodes to the frames sent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skyline-rtmp1-'));
  const out = join(dir, 'out.flv');
  const port = await freePort();
  const url = `rtmp://127.0.0.1:${port}/live/${KEY}`;
  const ff = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'info', '-listen', '1', '-i', url, '-c', 'copy', '-f', 'flv', out], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let ffErr = '';
  ff.stderr.on('data', (d: Buffer) => (ffErr += d.toString()));
  const exited = new Promise<number | null>((r) => ff.once('close', (code) => r(code)));
  const cap = captureLogger('debug');
  const sky = new RtmpSkyLine({ url, sinkElement: 'rtmpsink', logger: cap.logger, statsIntervalMs: 0, keyframeInterval: 25, reconnect: { initialDelayMs: 200, maxDelayMs: 1000 } });
  const errors: Error[] = [];
  sky.on('error', (e) => errors.push(e));
  try {
    await waitFor(() => listening(port), 10_000, 'ffmpeg listening');
    await sky.startStreaming({ fps: FPS, width: W, height: H });
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < N; i++) assert.equal(await sky.putAsync(level(W, H, 20 + i * 4), { timestamp: t0 + (i * 1000) / FPS }), true, `frame ${i}`);
    await sky.stopStreaming();
    let code: number | null | undefined;
    void exited.then((c) => (code = c));
    await waitFor(() => code !== undefined, 20_000, `ffmpeg to finish: ${ffErr.slice(-400)}`);
    assert.deepEqual(errors.map((e) => e.message), []);
    assert.ok(existsSync(out), `ffmpeg wrote nothing: ${ffErr.slice(-600)}`);
    const p = await probeVideo(out);
    assert.equal(p.codec, 'h264');
    assert.deepEqual([p.width, p.height], [W, H]);
    const { frames, width, height } = await decodeRgb(out);
    assert.equal(frames.length, N, `frames decoded: ${ffErr.slice(-600)}`);
    for (const i of [0, 10, 25, 49]) {
      const [r] = centreColour(frames[i]!, width, height);
      assert.ok(Math.abs(r - (20 + i * 4)) < 8, `frame ${i} brightness ${r}, expected ${20 + i * 4}`);
    }
    assert.equal(cap.text().includes(KEY), false, 'the stream key is in the log');
  } finally {
    ff.kill('SIGKILL');
    await sky.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
