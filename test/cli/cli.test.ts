// The gst-skyline command as users run it (dist/cli/bin.js, the package's bin): every
// command against real destinations with the output read back, usage errors, failures.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS } from '../../src/cli/args.js';
import { main } from '../../src/cli/main.js';
import { decodeRgb, probeVideo } from '../support/ffprobe.js';
import { ROOT, runNode, type Running } from '../support/child.js';
import { NginxRtmp } from '../support/nginx-rtmp.js';
import { readFrames } from '../rtmp/read-back.js';
import { gstPlay } from '../support/rtsp-players.js';
import { requireTool } from '../support/require-tool.js';
import { browserShows } from '../support/browser-shows.js';
import { chromiumMissing } from '../support/browser.js';
import { startEmulator, TEST_KEY } from '../support/kvs/harness.js';
import { waitFor } from '../support/wait.js';

const BIN = join(ROOT, 'dist/cli/bin.js');
let dir: string;
before(async () => {
  assert.ok(existsSync(BIN), 'dist/cli/bin.js is built (npm run build, or the bootstrap)');
  dir = await mkdtemp(join(tmpdir(), 'skyline-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string | undefined> = {}): Running {
  return runNode(BIN, args, { SKYLINE_LOG_LEVEL: undefined, ...env }, { tsx: false, timeoutMs: 90_000 });
}

interface Line {
  event: string;
  [k: string]: unknown;
}
function lines(stdout: string): Line[] {
  return stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Line);
}

/** Runs main() in this process, capturing what it writes (only for command lines that start nothing). */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  // main() writes strings; the test runner's own messages (serialized bytes, Node 24) pass through.
  const capture = (stream: 'stdout' | 'stderr') =>
    ((chunk: unknown, ...rest: unknown[]) =>
      typeof chunk === 'string' ? ((out[stream] += chunk), true) : (writes[stream] as (...a: unknown[]) => boolean).call(process[stream], chunk, ...rest)) as typeof process.stdout.write;
  process.stdout.write = capture('stdout');
  process.stderr.write = capture('stderr');
  try {
    const code = await main(args);
    return { code, ...out };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
  }
}

test('--help works for the command and every subcommand, exit 0', async () => {
  const real = await cli(['--help']).exited; // the bin itself, once
  assert.equal(real.code, 0);
  for (const name of Object.keys(COMMANDS)) assert.match(real.stdout, new RegExp(`^  ${name} `, 'm'));
  for (const name of Object.keys(COMMANDS)) {
    for (const flag of ['--help', '-h']) {
      const r = await inProcess([name, flag]);
      assert.equal(r.code, 0, name);
      assert.match(r.stdout, new RegExp(`Usage: gst-skyline ${name}`));
    }
  }
});

test('bad command lines print the usage on stderr and exit 2, starting nothing', async () => {
  const out = join(dir, 'never.mp4');
  const cases: Array<[string[], RegExp]> = [
    [[], /no command given/],
    [['nope'], /unknown command "nope"; expected one of rtsp, web/],
    [['record'], /record takes <file>, got none/],
    [['record', out, 'extra.mp4'], /record takes <file>, got /],
    [['record', out, '--bogus'], /Unknown option '--bogus'/],
    [['record', out, '--size', '12x'], /--size expects WIDTHxHEIGHT/],
    [['record', out, '--fps', '0'], /--fps expects a number of at least 0.1, got "0"/],
    [['record', out, '--duration', 'soon'], /--duration expects a number/],
    [['rtsp', '--port', 'eighty'], /--port expects an integer/],
    [['rtsp', '--path', 'live'], /--path expects a path starting with \//],
    [['rtsp', '--rtp-port', '5001'], /--rtp-port expects an even port/],
    [['push', 'http://example.com/live/key'], /rtmp/i],
    [['kvs', 'cam'], /kvs needs a region/],
  ];
  const region = process.env.AWS_REGION;
  delete process.env.AWS_REGION;
  try {
    for (const [args, message] of cases) {
      const r = await inProcess(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.match(r.stderr, /Usage: gst-skyline|gst-skyline --help/, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
    }
  } finally {
    if (region !== undefined) process.env.AWS_REGION = region;
  }
  // And through the bin: the exit code itself.
  for (const args of [['nope'], ['record', out, '--size', '12x']]) {
    const r = await cli(args).exited;
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^gst-skyline: /);
  }
  assert.equal(existsSync(out), false);
});

test('record: the file holds every frame the command reports, at the asked size, with the overlay drawn in', async () => {
  const out = join(dir, 'rec.mp4');
  const r = await cli(['record', out, '--size', '320x240', '--fps', '15', '--duration', '2', '--overlay']).exited;
  assert.equal(r.code, 0, r.stderr);
  const events = lines(r.stdout); // not a TTY: JSON lines
  assert.equal(events[0]!.event, 'started');
  assert.ok(events.some((e) => e.event === 'status' && typeof e.fps === 'number' && typeof e.kbps === 'number'));
  const stopped = events.find((e) => e.event === 'stopped')!;
  const n = stopped.framesEncoded as number;
  // 2 s at 15 fps: 30 frames, give or take the frames in flight at either end (seen: 30, 31).
  assert.ok(n >= 24 && n <= 32, `${n} frames for 2 s at 15 fps`);
  const probe = await probeVideo(out);
  assert.deepEqual([probe.width, probe.height, probe.frames], [320, 240, n]);

  // The overlay: a black band at the bottom-left with white text, where the pattern is green-blue.
  const { frames } = await decodeRgb(out, { count: 5 });
  const rgb = frames[4]!;
  let black = 0, white = 0, total = 0;
  for (let y = 240 - 10; y < 240; y++) {
    for (let x = 0; x < 120; x++) {
      const i = (y * 320 + x) * 3;
      const [R, G, B] = [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!];
      total++;
      if (R < 40 && G < 40 && B < 40) black++;
      if (R > 200 && G > 200 && B > 200) white++;
    }
  }
  assert.ok(black > total / 2 && white > 30, `black ${black}, white ${white} of ${total}`);
});

test('rtsp: rtspsrc decodes the stream, the status shows the viewer, Ctrl-C stops it with exit 0', async () => {
  const run = cli(['rtsp', '--port', '0', '--size', '320x240']);
  try {
    const url = String((await run.waitFor(/"destination":"(rtsp:[^"]+)"/))[1]);
    const playing = gstPlay(url, { transport: 'tcp', frames: 90, width: 320, height: 240 });
    await run.waitFor(/"viewers":1/, 20_000);
    const played = await playing;
    assert.equal(played.frames, 90, played.stderr);
  } finally {
    const exit = await run.interrupt();
    assert.equal(exit.code, 0, exit.stderr);
    assert.ok(lines(exit.stdout).some((e) => e.event === 'stopped'));
  }
});

test('web: Chromium shows the preview page of the republished source; the status counts the viewer', { skip: chromiumMissing() }, async () => {
  const run = cli(['web', '--port', '0', '--size', '320x240', '--overlay']);
  try {
    const url = String((await run.waitFor(/"destination":"(http:[^"]+)"/))[1]);
    const status = await browserShows(url, 15, () => run.waitFor(/"viewers":1/));
    assert.deepEqual([status.config?.width, status.config?.height], [320, 240]);
  } finally {
    const exit = await run.interrupt();
    assert.equal(exit.code, 0, exit.stderr);
  }
});

test('web --token: the stream needs a token; a generated one is printed once, in the link; one from SKYLINE_WEB_TOKEN is never printed', async () => {
  const run = cli(['web', '--port', '0', '--size', '160x120', '--token']);
  try {
    const [, page, token] = (await run.waitFor(/open (http:\/\/[^#\s]+)#token=([A-Za-z0-9_-]+) in a browser/)) as unknown as string[];
    const ws = `${page}/ws`;
    assert.equal((await fetch(`${page}/session`, { method: 'POST' })).status, 401, 'no token');
    assert.equal((await fetch(`${page}/session`, { method: 'POST', headers: { authorization: 'Bearer wrong-token-0' } })).status, 401);
    assert.equal((await fetch(`${page}/session`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status, 204);
    assert.ok(ws.startsWith('http://127.0.0.1:'));
    await run.waitFor(/"event":"status"/);
    const exit = await run.interrupt();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(`${exit.stdout}${exit.stderr}`.split(token!).length - 1, 1, 'the token is shown exactly once');
  } finally {
    await run.interrupt();
  }
  const fixed = 'env-token-for-cli-test';
  const run2 = cli(['web', '--port', '0', '--size', '160x120', '--token'], { SKYLINE_WEB_TOKEN: fixed });
  try {
    const page = String((await run2.waitFor(/"destination":"(http:[^"]+)"/))[1]);
    assert.equal((await fetch(`${page}/session`, { method: 'POST' })).status, 401);
    assert.equal((await fetch(`${page}/session`, { method: 'POST', headers: { authorization: `Bearer ${fixed}` } })).status, 204);
  } finally {
    const exit = await run2.interrupt();
    assert.equal(exit.code, 0, exit.stderr);
    assert.ok(!`${exit.stdout}${exit.stderr}`.includes(fixed), 'a token the user set is not echoed');
  }
});

test('on a terminal: one status line redrawn in place, never wider than the terminal', { skip: requireTool('script(1)', existsSync('/usr/bin/script'), 'Debian package bsdutils') }, async () => {
  // script(1) gives the command a pseudo-terminal 40 columns wide.
  const r = spawnSync('script', ['-qec', `stty cols 40; ${process.execPath} ${BIN} rtsp --port 0 --size 320x240 --duration 2.5`, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^streaming test pattern 320x240@30 to rtsp:/m);
  const redraws = r.stdout.split('\r').map((s) => s.replace(/\x1b\[K/g, '').replace(/\n.*/s, '')).filter((s) => s.includes('fps'));
  assert.ok(redraws.length >= 1, JSON.stringify(r.stdout));
  for (const line of redraws) assert.ok(line.length <= 39, `${JSON.stringify(line)} is ${line.length} wide`);
  assert.match(redraws[0]!, /^\d+\.\d fps \| \d+ kbit\/s \| \d+ viewers/);
  assert.match(r.stdout, /stopped: \d+ frames encoded/);
});

test('push: nginx-rtmp relays what the command publishes; the stream key never reaches the output', async () => {
  const relay = await NginxRtmp.start();
  const key = 'cli-secret-key-93b1';
  try {
    const run = cli(['push', relay.url(key), '--size', '320x240', '--duration', '8']);
    await run.waitFor(/"event":"started"/);
    const frames = await readFrames(relay.url(key), 20, 20_000);
    assert.equal(frames.length, 20);
    assert.deepEqual([frames[0]!.width, frames[0]!.height], [320, 240]);
    const exit = await run.exited;
    assert.equal(exit.code, 0, exit.stderr);
    assert.ok(!(exit.stdout + exit.stderr).includes(key));
    assert.match(exit.stdout, /rtmp:\/\/127\.0\.0\.1:\d+\/live\/\*\*\*\*/);
  } finally {
    await relay.dispose();
  }
});

test('kvs: against the KVS emulator the stream is created and the stored fragments decode to the frames sent', async () => {
  const emu = await startEmulator({ streams: [] });
  try {
    const r = await cli(['kvs', 'cli-cam', '--region', emu.region, '--endpoint', emu.endpoint, '--create', '--size', '320x240', '--fps', '25', '--duration', '3'], {
      AWS_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
    }).exited;
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const stopped = lines(r.stdout).find((e) => e.event === 'stopped')!;
    const file = join(dir, 'kvs.mkv');
    await writeFile(file, emu.toMkv('cli-cam'));
    const probe = await probeVideo(file);
    assert.deepEqual([probe.width, probe.height, probe.frames], [320, 240, stopped.framesEncoded]);
    assert.ok(!(r.stdout + r.stderr).includes(TEST_KEY.secretAccessKey));
  } finally {
    await emu.close();
  }
});

test('Ctrl-C stops gracefully; a second Ctrl-C while it stops quits at once (exit 130)', async () => {
  // KVS acknowledges persistence only after 10 minutes: the first stop waits for it (up to
  // stopTimeoutMs, 15 s), so the second Ctrl-C surely lands while the stop is under way.
  const emu = await startEmulator({ streams: [], persistDelayMs: 600_000 });
  const run = cli(['kvs', 'ctrl-c-cam', '--region', emu.region, '--endpoint', emu.endpoint, '--create', '--size', '160x120', '--fps', '25'], {
    AWS_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
  });
  try {
    await run.waitFor(/"event":"started"/, 30_000);
    const sent = () => emu.connections.filter((c) => c.streamName === 'ctrl-c-cam').reduce((n, c) => n + c.wire.length, 0);
    await waitFor(() => sent() > 10, 30_000, 'video reaching the emulator');
    run.child.kill('SIGINT');
    await run.waitFor(/"event":"stopping"/, 10_000);
    assert.match(run.stdout, /Ctrl-C again to quit at once/);
    run.child.kill('SIGINT');
    const exit = await run.exited;
    assert.equal(exit.code, 130, exit.stderr + exit.stdout);
    assert.ok(!lines(exit.stdout).some((e) => e.event === 'stopped'), 'quit before the stop finished');
    assert.equal(emu.fragments('ctrl-c-cam').length, 0, 'nothing was persisted yet: the stop was under way');
  } finally {
    run.child.kill('SIGKILL');
    await run.exited;
    await emu.close();
  }
});

test('a destination that fails at start: a clear message and exit 1', async () => {
  // A parent that is a file: no one can record there (root ignores permission bits).
  writeFileSync(join(dir, 'plain-file'), 'x');
  const target = join(dir, 'plain-file', 'out.mp4');
  const r = await cli(['record', target, '--size', '64x64', '--duration', '1']).exited;
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`"event":"failed".*cannot record to ${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
});

test('an unreachable source: a clear message naming it (password masked) and exit 1', async () => {
  const r = await cli(['rtsp', '--port', '0', '--from', 'rtsp://viewer:hunter2@127.0.0.1:9/cam']).exited;
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /"event":"failed".*rtsp:\/\/viewer:\*\*\*\*@127\.0\.0\.1:9\/cam/);
  assert.ok(!(r.stdout + r.stderr).includes('hunter2'));
});

test('an unreachable source whose URL holds a key before a slash or a token in its query: masked in every line', async () => {
  const cases = [
    ['rtmp://127.0.0.1:9/live/slashKey42/', 'slashKey42', /cannot read rtmp:\/\/127\.0\.0\.1:9\/live\/\*\*\*\*/],
    ['rtmp://127.0.0.1:9/live/stream?key=queryKey42', 'queryKey42', /cannot read rtmp:\/\/127\.0\.0\.1:9\/live\/\*\*\*\*/],
    ['rtsp://127.0.0.1:9/cam?token=rtspToken42', 'rtspToken42', /cannot read rtsp:\/\/127\.0\.0\.1:9\/cam\?token=\*\*\*\*/],
  ] as const;
  for (const [url, secret, shown] of cases) {
    const r = await cli(['record', join(dir, 'never.mkv'), '--from', url]).exited;
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, shown);
    assert.ok(!(r.stdout + r.stderr).includes(secret), `${secret} printed:\n${r.stdout}${r.stderr}`);
  }
});

test('record --from a file: every frame of the file is republished, then the command ends by itself', async () => {
  const original = join(dir, 'original.mp4');
  const made = await cli(['record', original, '--size', '320x240', '--fps', '15', '--duration', '2']).exited;
  assert.equal(made.code, 0, made.stderr);
  const n = (await probeVideo(original)).frames;
  const copy = join(dir, 'copy.mp4');
  const r = await cli(['record', copy, '--from', original, '--overlay']).exited;
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const stopped = lines(r.stdout).find((e) => e.event === 'stopped')!;
  assert.equal(stopped.framesEncoded, n);
  const probe = await probeVideo(copy);
  assert.deepEqual([probe.width, probe.height, probe.frames], [320, 240, n]);
});

test('rtsp --from a live RTSP camera, then probe and screenshot of the republished stream', async () => {
  const camera = cli(['rtsp', '--port', '0', '--size', '320x240', '--fps', '20']);
  try {
    const cameraUrl = String((await camera.waitFor(/"destination":"(rtsp:[^"]+)"/))[1]);
    const relay = cli(['rtsp', '--port', '0', '--from', cameraUrl, '--overlay']);
    try {
      const url = String((await relay.waitFor(/"event":"started".*"destination":"(rtsp:[^"]+)"/, 30_000))[1]);
      const played = await gstPlay(url, { transport: 'tcp', frames: 20, width: 320, height: 240 });
      assert.equal(played.frames, 20, played.stderr);

      const probe = await cli(['probe', url]).exited;
      assert.equal(probe.code, 0, probe.stdout + probe.stderr);
      const p = lines(probe.stdout).find((e) => e.event === 'probe')!;
      assert.deepEqual([p.width, p.height], [320, 240]);
      assert.ok(Math.abs((p.fps as number) - 20) < 1.5, `fps ${p.fps}`);

      const png = join(dir, 'shot.png');
      const shot = await cli(['screenshot', url, png]).exited;
      assert.equal(shot.code, 0, shot.stdout + shot.stderr);
      const s = await probeVideo(png);
      assert.deepEqual([s.codec, s.width, s.height], ['png', 320, 240]);
    } finally {
      assert.equal((await relay.interrupt()).code, 0);
    }
  } finally {
    await camera.interrupt();
  }
});

test('probe and screenshot of an unreachable source: a clear message and exit 1', async () => {
  for (const args of [['probe', 'rtsp://127.0.0.1:9/cam'], ['screenshot', 'rtsp://127.0.0.1:9/cam', join(dir, 'never.png')]]) {
    const r = await cli(args).exited;
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stdout, /"event":"failed".*cannot read rtsp:\/\/127\.0\.0\.1:9\/cam/);
  }
  assert.equal(existsSync(join(dir, 'never.png')), false);
});
