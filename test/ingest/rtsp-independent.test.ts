// LiveSource's RTSP client against a server that is not ours: GStreamer's gst-rtsp-server
// (python3-gi, test/support/peers/gst_rtsp_server.py). The server runs under libfaketime with a
// wall clock one hour behind, so its RTCP sender reports carry times no other clock here has:
// capture times an hour old can only come from mapping its RTP timestamps through its reports
// (a client falling back to arrival times, or a bug shared with our own server, shows now).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LiveSource, type SourceFrame } from '../../src/index.js';
import { freePort } from '../support/ports.js';
import { captureLogger } from '../support/quiet.js';
import { requireTool } from '../support/require-tool.js';

const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const SCRIPT = fileURLToPath(new URL('../support/peers/gst_rtsp_server.py', import.meta.url));
const HOUR = 3_600_000;

const skip =
  requireTool('gst-rtsp-server for python3 (GstRtspServer through gi)', () =>
    spawnSync('/usr/bin/python3', ['-c', "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"], { stdio: 'ignore' }).status === 0,
  'apt-get install python3-gi gir1.2-gst-rtsp-server-1.0') ||
  requireTool('libfaketime', () => existsSync(FAKETIME), 'apt-get install faketime');

test('gst-rtsp-server with a clock an hour behind: frames arrive with its sender-report times, 1/30 s apart', { skip }, async () => {
  const port = await freePort();
  const server = spawn('/usr/bin/python3', [SCRIPT, String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LD_PRELOAD: FAKETIME, FAKETIME: '-1h', FAKETIME_DONT_FAKE_MONOTONIC: '1' },
  });
  let out = '';
  let err = '';
  server.stdout.on('data', (d: Buffer) => (out += d));
  server.stderr.on('data', (d: Buffer) => (err += d));
  const s = new LiveSource({ url: `rtsp://127.0.0.1:${port}/live`, format: 'GRAY8', queueFrames: 256, logger: captureLogger('warn').logger });
  s.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      const check = () => { if (/ready \d+/.test(out)) resolve(); };
      server.stdout.on('data', check);
      server.on('exit', (code) => reject(new Error(`gst-rtsp-server exited ${code}: ${err.slice(-500)}`)));
      check();
    });
    // The server's own clock, as it printed it, against ours: about an hour behind.
    const serverClock = Number(/clock ([\d.]+)/.exec(out)![1]);
    const offset = serverClock - Date.now();
    assert.ok(Math.abs(offset + HOUR) < 60_000, `the server's clock is ${offset} ms from ours`);

    await s.start();
    const frames: SourceFrame[] = [];
    for await (const f of s) {
      frames.push(f);
      if (frames.length >= 30) break;
    }
    const now = Date.now() + offset;
    assert.deepEqual([frames[0]!.width, frames[0]!.height], [320, 240]);
    // Each capture time is on the server's clock, before "now" there and within a generous 10 s.
    for (const f of frames) {
      const age = now - f.timestamp;
      assert.ok(age > -1000 && age < 10_000, `a capture time ${age} ms before the server's now (${Date.now() - f.timestamp} ms before ours)`);
    }
    // videotestsrc stamps a live frame each 1/30 s: the times its reports map them to are as regular.
    const seqs = frames.map((f) => f.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), 'consecutive units');
    for (let i = 1; i < frames.length; i++) {
      const dt = frames[i]!.timestamp - frames[i - 1]!.timestamp;
      assert.ok(Math.abs(dt - 1000 / 30) <= 1, `frames ${i - 1} and ${i}: ${dt} ms apart`);
    }
  } finally {
    await s.close();
    server.kill('SIGKILL');
  }
});
