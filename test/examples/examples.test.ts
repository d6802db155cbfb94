// Every example in examples/ runs here for a few seconds, and what it produced is read back
// with independent readers (ffprobe, GStreamer rtspsrc, ffmpeg, the KVS emulator's store), so
// the examples never rot.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSidecar } from '../../src/destinations/file/timestamps-sidecar.js';
import { decodeRgb, frameTimes, probeVideo } from '../support/ffprobe.js';
import { ROOT, runNode } from '../support/child.js';
import { NginxRtmp } from '../support/nginx-rtmp.js';
import { readFrames } from '../rtmp/read-back.js';
import { ffprobeFrames, gstPlay } from '../support/rtsp-players.js';
import { startEmulator, TEST_KEY } from '../support/kvs/harness.js';
import { waitFor } from '../support/wait.js';
import { browserShows } from '../support/browser-shows.js';
import { chromiumMissing } from '../support/browser.js';

const BIN = join(ROOT, 'dist/cli/bin.js');
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skyline-examples-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** RGB24 pixels of `count` frames of a live RTSP stream, decoded by ffmpeg. */
function rtspRgb(url: string, width: number, height: number, count: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    execFile('ffmpeg', ['-v', 'error', '-rtsp_transport', 'tcp', '-timeout', '10000000', '-i', url, '-frames:v', String(count), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
      { encoding: 'buffer', maxBuffer: 64 * 2 ** 20, timeout: 30_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`ffmpeg: ${err.message} ${stderr}`));
        const size = width * height * 3;
        const frames: Buffer[] = [];
        for (let o = 0; o + size <= stdout.length; o += size) frames.push(stdout.subarray(o, o + size));
        resolve(frames);
      });
  });
}

test('record-file: the MP4 holds every frame it reports, at 30 fps, and the sidecar has a row per frame', async () => {
  const out = join(dir, 'record.mp4');
  const run = runNode('examples/record-file.ts', [out], { EXAMPLE_SECONDS: '2' });
  const exit = await run.exited;
  assert.equal(exit.code, 0, exit.stderr);
  const n = Number(/recorded (\d+) frames/.exec(exit.stdout)?.[1]);
  assert.ok(n >= 30, exit.stdout);
  const probe = await probeVideo(out);
  assert.deepEqual([probe.codec, probe.width, probe.height, probe.frames], ['h264', 640, 360, n]);
  const times = await frameTimes(out);
  // Capture times on a 30 fps grid: the last frame plays at (n - 1) / 30 s.
  assert.ok(Math.abs(times.at(-1)! - times[0]! - (n - 1) / 30) < 0.002, `${times.at(-1)} for ${n} frames`);
  const rows = parseSidecar(await readFile(`${out}.timestamps.csv`, 'utf8'));
  assert.equal(rows.length, n);
  assert.equal(rows.at(-1)!.frame, n - 1);
});

test('rtsp-preview: GStreamer rtspsrc decodes the preview at 1280x720, and Ctrl-C exits 0', async () => {
  const run = runNode('examples/rtsp-preview.ts', [], { SKYLINE_RTSP_PORT: '0' });
  try {
    const url = (await run.waitFor(/rtsp:\/\/\S+/))[0];
    const played = await gstPlay(url, { transport: 'tcp', frames: 30, width: 1280, height: 720 });
    assert.equal(played.frames, 30, played.stderr);
    await run.waitFor(/viewers \d+, frames \d+/);
  } finally {
    const exit = await run.interrupt();
    assert.equal(exit.code, 0, exit.stderr);
  }
});

test('npm start (examples/demo.ts): rtspsrc decodes 1280x720 from the printed URL, the stats line counts the viewer, Ctrl-C exits 0', async () => {
  // What `npm start` runs after its bootstrap (which the test harness has already done).
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts['start']!, /&& node --import tsx examples\/demo\.ts$/);
  const run = runNode('examples/demo.ts', [], { SKYLINE_RTSP_PORT: '0', SKYLINE_WEB_PORT: '0' });
  try {
    const url = (await run.waitFor(/streaming 1280x720@30 at (rtsp:\/\/\S+)/))[1]!;
    assert.match((await run.waitFor(/watch it in a browser: (http:\/\/\S+)/))[1]!, /^http:\/\/127\.0\.0\.1:\d+\//);
    const playing = gstPlay(url, { transport: 'tcp', frames: 30, width: 1280, height: 720 });
    await run.waitFor(/clients 1 \| browsers 0 \| frames \d+/);
    const played = await playing;
    assert.equal(played.frames, 30, played.stderr);
  } finally {
    const exit = await run.interrupt();
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stdout, /Ctrl-C: stopping…/);
    assert.match(exit.stdout, /stopped after \d+ frames/);
  }
});

test('web-preview: headless Chromium opens the printed page and shows 1280x720 pictures', { skip: chromiumMissing() }, async () => {
  const run = runNode('examples/web-preview.ts', [], { SKYLINE_WEB_PORT: '0' });
  try {
    const url = (await run.waitFor(/http:\/\/\S+/))[0];
    // The example's stats line counts the page while it is open.
    const status = await browserShows(url, 15, () => run.waitFor(/viewers 1, frames \d+/));
    assert.deepEqual([status.config?.width, status.config?.height], [1280, 720]);
  } finally {
    const exit = await run.interrupt();
    assert.equal(exit.code, 0, exit.stderr);
  }
});

test('rtmp-publish: nginx-rtmp relays the stream; when the relay dies the example shows the reconnects and streams again after', async () => {
  const relay = await NginxRtmp.start();
  const key = 'example-secret-key-7f3a';
  const run = runNode('examples/rtmp-publish.ts', [], { RTMP_URL: relay.url(key) });
  try {
    await run.waitFor(/-> streaming/);
    const first = await readFrames(relay.url(key), 15, 20_000);
    assert.equal(first.length, 15);
    assert.deepEqual([first[0]!.width, first[0]!.height], [640, 360]);

    await relay.kill();
    await run.waitFor(/reconnect #1 in \d+ ms/);
    await relay.restart();
    await waitFor(() => (run.stdout.match(/-> streaming/g) ?? []).length >= 2, 30_000, 'streaming again after the relay restart');
    const again = await readFrames(relay.url(key), 15, 20_000);
    assert.equal(again.length, 15);
  } finally {
    const exit = await run.interrupt();
    await relay.dispose();
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stdout, /done: \d+ frames sent, \d+ dropped/);
    assert.ok(!`${exit.stdout}${exit.stderr}`.includes(key), 'the stream key never reaches the output');
  }
});

test('kvs: against the KVS emulator (no AWS), the stream is created and its stored fragments decode to the frames sent', async () => {
  const emu = await startEmulator({ streams: [] });
  try {
    const run = runNode('examples/kvs.ts', ['example-cam'], {
      EXAMPLE_SECONDS: '3',
      AWS_REGION: emu.region,
      KVS_ENDPOINT: emu.endpoint,
      AWS_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
    });
    const exit = await run.exited;
    assert.equal(exit.code, 0, exit.stderr);
    const m = /(\d+) fragments persisted, (\d+) frames/.exec(exit.stdout);
    assert.ok(m, exit.stdout);
    const frags = emu.fragments('example-cam');
    assert.equal(frags.length, Number(m[1]));
    assert.ok(frags.length >= 1);
    const file = join(dir, 'kvs.mkv');
    await writeFile(file, emu.toMkv('example-cam'));
    const probe = await probeVideo(file);
    assert.deepEqual([probe.width, probe.height, probe.frames], [640, 360, Number(m[2])]);
  } finally {
    await emu.close();
  }
});

test('canvas-overlay: the republished stream carries the green box and label drawn with @napi-rs/canvas', async () => {
  const run = runNode('examples/canvas-overlay.ts', [], { SKYLINE_RTSP_PORT: '0' });
  try {
    const url = (await run.waitFor(/rtsp:\/\/\S+/))[0];
    const frames = await rtspRgb(url, 640, 360, 3);
    assert.equal(frames.length, 3);
    // The test pattern has no green near (0, 255, 102): every such pixel is the overlay's.
    const rgb = frames[2]!;
    let green = 0;
    for (let i = 0; i < rgb.length; i += 3) {
      if (rgb[i]! < 60 && rgb[i + 1]! > 200 && Math.abs(rgb[i + 2]! - 102) < 50) green++;
    }
    assert.ok(green > 1500, `${green} overlay pixels`);
  } finally {
    const exit = await run.interrupt();
    assert.equal(exit.code, 0, exit.stderr);
  }
});

test('multi-rtsp: three streams of different sizes on one server, each read back by ffprobe', async () => {
  const run = runNode('examples/multi-rtsp.ts', [], { SKYLINE_RTSP_PORT: '0' });
  try {
    await run.waitFor(/cam3: rtsp/);
    await run.waitFor(/cam2: rtsp/);
    await run.waitFor(/cam1: rtsp/);
    for (const n of [1, 2, 3]) {
      const url = new RegExp(`cam${n}: (rtsp://\\S+)`).exec(run.stdout)![1]!;
      assert.ok(url.endsWith(`/cam${n}`));
      const probed = await ffprobeFrames(url, 'tcp', 5);
      assert.ok(probed.frames.length >= 5, probed.stderr);
      assert.deepEqual([probed.frames[0]!.width, probed.frames[0]!.height], [320 * n, 240]);
    }
    const ports = new Set([...run.stdout.matchAll(/rtsp:\/\/[^:]+:(\d+)\//g)].map((m) => m[1]));
    assert.equal(ports.size, 1, 'one server');
  } finally {
    const exit = await run.interrupt();
    assert.equal(exit.code, 0, exit.stderr);
  }
});

test('shutdown: Ctrl-C while recording exits 0 with every accepted frame in the file', async () => {
  const out = join(dir, 'until-ctrl-c.mp4');
  const run = runNode('examples/shutdown.ts', [out]);
  await run.waitFor(/recording to/);
  // Wait on data: at least 20 frames have gone through the encoder.
  await waitFor(() => sidecarRows(`${out}.timestamps.csv`) >= 20, 20_000, '20 sidecar rows');
  const exit = await run.interrupt();
  assert.equal(exit.code, 0, exit.stderr);
  const n = Number(/stopped cleanly: (\d+) frames/.exec(exit.stdout)?.[1]);
  assert.ok(n >= 20, exit.stdout);
  assert.equal((await probeVideo(out)).frames, n);
});

/** Data rows in a sidecar being written (0 while it does not exist). */
function sidecarRows(path: string): number {
  if (!existsSync(path)) return 0;
  return readFileSync(path, 'utf8').split('\n').filter((l) => /^\d/.test(l)).length;
}

test('annotate-file: every frame of a recording is annotated into a new file at frame-rate timestamps', async () => {
  const input = join(dir, 'to-annotate.mp4');
  const made = await runNode(BIN, ['record', input, '--size', '320x240', '--fps', '15', '--duration', '2'], {}, { tsx: false }).exited;
  assert.equal(made.code, 0, made.stderr);
  const inFrames = (await probeVideo(input)).frames;
  const output = join(dir, 'annotated.mp4');
  const run = await runNode('examples/annotate-file.ts', [input, output]).exited;
  assert.equal(run.code, 0, run.stderr);
  const n = Number(/annotated (\d+) frames at 15 fps/.exec(run.stdout)?.[1]);
  assert.equal(n, inFrames, run.stdout);
  const probe = await probeVideo(output);
  assert.deepEqual([probe.width, probe.height, probe.frames], [320, 240, n]);
  // Frame n at exactly n / 15 s.
  const times = await frameTimes(output);
  times.forEach((t, i) => assert.ok(Math.abs(t - times[0]! - i / 15) < 0.0015, `frame ${i} at ${t}`));
  // The magenta box drawn with the canvas is in every frame.
  const { frames } = await decodeRgb(output, { count: 3 });
  for (const rgb of frames) assert.ok(magenta(rgb) > 400, `${magenta(rgb)} magenta pixels`);
});

test('live-annotate: LiveSource reads a live RTSP camera, the annotated republish carries the caption', async () => {
  const camera = runNode(BIN, ['rtsp', '--port', '0', '--size', '320x240'], {}, { tsx: false });
  try {
    const cameraUrl = String((await camera.waitFor(/"destination":"(rtsp:[^"]+)"/))[1]);
    const run = runNode('examples/live-annotate.ts', [cameraUrl], { SKYLINE_RTSP_PORT: '0' });
    try {
      const url = (await run.waitFor(/rtsp:\/\/\S+\/annotated/, 30_000))[0];
      const [rgb] = await rtspRgb(url, 640, 360, 1);
      assert.ok(rgb, 'a frame');
      // The caption band: dark, with yellow text, along the bottom.
      let yellow = 0;
      for (let y = 330; y < 360; y++) for (let x = 0; x < 640; x++) {
        const i = (y * 640 + x) * 3;
        if (rgb[i]! > 180 && rgb[i + 1]! > 180 && rgb[i + 2]! < 90) yellow++;
      }
      assert.ok(yellow > 300, `${yellow} caption pixels`);
    } finally {
      const exit = await run.interrupt();
      assert.equal(exit.code, 0, exit.stderr);
    }
  } finally {
    await camera.interrupt();
  }
});

function magenta(rgb: Buffer): number {
  let n = 0;
  for (let i = 0; i < rgb.length; i += 3) if (rgb[i]! > 200 && rgb[i + 1]! < 70 && rgb[i + 2]! > 200) n++;
  return n;
}
