// FileDestination fed with a real x264 clip's access units; every file is read back with
// ffprobe/ffmpeg: frame count, size, each frame's PTS, the sidecar's rows.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { VideoInfo } from '../../src/destinations/destination.js';
import { FileDestination } from '../../src/destinations/file/file-destination.js';
import { parseSidecar } from '../../src/destinations/file/timestamps-sidecar.js';
import { encodedSinkPool } from '../../src/gst/encoded-sink.js';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { encodeClip, shifted } from '../support/encoded-clip.js';
import { decodeErrors, frameInfo, probeVideo } from '../support/ffprobe.js';
import { commandWorks, requireTool } from '../support/require-tool.js';
import { testLink } from '../support/destination-link.js';

const W = 320;
const H = 240;
const FPS = 30;
const VIDEO: VideoInfo = { width: W, height: H, fps: FPS, framerate: `${FPS}/1` };
const ORIGIN_MS = 1_732_176_000_123;

let dir: string;
let clip: AccessUnit[];
const closeSignal = () => AbortSignal.timeout(20_000);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dest-file-'));
  // Units as a producer 5 s into its session hands them on: the file must still start at 0.
  clip = shifted(await encodeClip(join(dir, 'clip.h264'), { frames: 90, width: W, height: H, fps: FPS, keyInt: 30, originMs: ORIGIN_MS }), 5000);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes every unit, waiting for 'drain' whenever write() says the queue is full. */
async function writeAll(d: FileDestination, aus: AccessUnit[]): Promise<{ refused: number; drains: number }> {
  let refused = 0;
  let drains = 0;
  for (const au of aus) {
    while (!d.write(au)) {
      refused++;
      await once(d, 'drain');
      drains++;
    }
  }
  return { refused, drains };
}

function recorder(name: string, extra: Partial<ConstructorParameters<typeof FileDestination>[0]> = {}) {
  const d = new FileDestination({ path: join(dir, name), ...extra });
  const states: string[] = [];
  const errors: Error[] = [];
  d.on('state', (s) => states.push(s));
  d.on('error', (e) => errors.push(e));
  return { d, states, errors, link: testLink() };
}

/** Checks the file holds exactly `aus` (rebased to the first), and the sidecar one row per unit. */
async function assertRecording(path: string, sidecar: string | undefined, aus: AccessUnit[], container: 'mp4' | 'mkv') {
  const p = await probeVideo(path);
  assert.equal(p.codec, 'h264');
  assert.equal(p.frames, aus.length);
  assert.deepEqual([p.width, p.height], [W, H]);
  const frames = await frameInfo(path);
  assert.equal(frames.length, aus.length);
  const base = aus[0]!.ptsNs;
  // Matroska stores milliseconds; MP4 here has a timescale fine enough for 1/30 s.
  const tolerance = container === 'mkv' ? 0.0011 : 0.0001;
  frames.forEach((f, i) => {
    const expected = (aus[i]!.ptsNs - base) / 1e9;
    assert.ok(Math.abs(f.time - expected) <= tolerance, `frame ${i} at ${f.time} s, expected ${expected}`);
    assert.equal(f.keyframe, aus[i]!.keyframe, `frame ${i} keyframe flag`);
  });
  assert.equal(await decodeErrors(path), '');
  if (sidecar === undefined) return;
  const rows = parseSidecar(readFileSync(sidecar, 'utf8'));
  assert.equal(rows.length, aus.length);
  rows.forEach((r, i) => {
    assert.equal(r.frame, i);
    assert.equal(r.captureTimeUs, Math.round(aus[i]!.captureMs * 1000));
    assert.equal(r.ptsUs, Math.round((aus[i]!.ptsNs - base) / 1000));
  });
}

describe('FileDestination', { skip: requireTool('ffprobe/ffmpeg', () => commandWorks('ffprobe') && commandWorks('ffmpeg'), 'apt-get install ffmpeg'), timeout: 120_000 }, () => {
  for (const container of ['mp4', 'mkv'] as const) {
    it(`records every unit to ${container} with PTS from 0 and a sidecar row per frame; close() leaves it playable`, async () => {
      const { d, states, errors, link } = recorder(`all.${container}`);
      assert.equal(d.container, container);
      assert.equal(d.live, false);
      await d.open(VIDEO, link.link);
      assert.equal(d.state, 'streaming');
      assert.equal(d.path, join(dir, `all.${container}`));
      assert.equal(d.timestampsPath, `${d.path}.timestamps.csv`);
      const fed = await writeAll(d, clip);
      assert.equal(fed.drains, fed.refused, "every refused write() was followed by 'drain'");
      await d.close(closeSignal());
      assert.deepEqual(states, ['opening', 'streaming', 'closing', 'idle']);
      await assertRecording(d.path!, d.timestampsPath, clip, container);
      const s = d.stats();
      assert.equal(s.name, `file:${join(dir, `all.${container}`)}`);
      assert.equal(s.kind, 'file');
      assert.equal(s.state, 'idle');
      assert.equal(s.unitsIn, 90);
      assert.equal(s.unitsDropped, 0);
      assert.equal(s.bytesOut, statSync(d.path!).size);
      assert.deepEqual(errors, []);
      assert.equal(link.keyframeRequests, 0);
    });
  }

  it('started mid-GOP, drops every unit before the first keyframe (counted) and asks for one', async () => {
    const { d, link } = recorder('mid-gop.mp4');
    await d.open(VIDEO, link.link);
    const from = 10;
    const firstKey = clip.findIndex((au, i) => i >= from && au.keyframe);
    assert.ok(firstKey > from, 'the clip has a keyframe after the start');
    await writeAll(d, clip.slice(from));
    await d.close(closeSignal());
    assert.equal(d.stats().unitsIn, clip.length - from);
    assert.equal(d.stats().unitsDropped, firstKey - from);
    assert.equal(link.keyframeRequests, 1);
    await assertRecording(d.path!, d.timestampsPath, clip.slice(firstKey), 'mp4');
  });

  it('a second open() writes "-2" (or the {session} number) through the same pipeline; no sidecar when asked', async () => {
    const { d, link } = recorder('again.mkv', { sidecar: false });
    await d.open(VIDEO, link.link);
    const built = encodedSinkPool().created;
    await writeAll(d, clip.slice(0, 30));
    await d.close(closeSignal());
    assert.equal(d.path, join(dir, 'again.mkv'));
    await d.open(VIDEO, link.link);
    assert.equal(d.path, join(dir, 'again-2.mkv'));
    assert.equal(d.stats().unitsIn, 0, 'counters start again');
    await writeAll(d, clip.slice(30, 60));
    await d.close(closeSignal());
    assert.equal(encodedSinkPool().created, built, 'the second open reused the first pipeline');
    assert.equal(d.timestampsPath, undefined);
    assert.equal(existsSync(join(dir, 'again.mkv.timestamps.csv')), false);
    await assertRecording(join(dir, 'again.mkv'), undefined, clip.slice(0, 30), 'mkv');
    await assertRecording(join(dir, 'again-2.mkv'), undefined, clip.slice(30, 60), 'mkv');

    const s = recorder('take-{session}.mp4');
    await s.d.open(VIDEO, s.link.link);
    await s.d.close(closeSignal());
    await s.d.open(VIDEO, s.link.link);
    assert.equal(s.d.path, join(dir, 'take-2.mp4'));
    await writeAll(s.d, clip.slice(0, 30));
    await s.d.close(closeSignal());
    await assertRecording(join(dir, 'take-2.mp4'), s.d.timestampsPath, clip.slice(0, 30), 'mp4');
  });

  it('write() refuses while its queue is full and emits drain; never throws, even when not open', async () => {
    const { d, link } = recorder('queue.mp4');
    // Not open: dropped and counted, not held by the producer.
    assert.equal(d.write(clip[0]!), true);
    assert.equal(d.stats().unitsDropped, 1);
    await d.open(VIDEO, link.link);
    // All in one turn of the event loop: the streaming thread cannot keep up with that for long.
    let taken = 0;
    while (taken < clip.length && d.write(clip[taken]!)) taken++;
    assert.ok(taken < clip.length, 'write() said false before the whole clip was queued');
    assert.ok(taken >= 8, `took ${taken} units before refusing`);
    await once(d, 'drain');
    await writeAll(d, clip.slice(taken));
    await d.close(closeSignal());
    await assertRecording(d.path!, d.timestampsPath, clip, 'mp4');
    assert.equal(d.write(clip[0]!), true);
  });

  it('open() rejects with the path when the file cannot be written, and close() releases it', async () => {
    const file = join(dir, 'not-a-dir');
    const { d, link } = recorder('not-a-dir/x.mp4');
    // A file where the directory should be.
    rmSync(file, { force: true });
    await import('node:fs/promises').then((fs) => fs.writeFile(file, ''));
    await assert.rejects(d.open(VIDEO, link.link), (e: Error & { destination?: string }) => {
      assert.equal(e.name, 'DestinationError');
      assert.equal(e.destination, d.name);
      assert.match(e.message, /cannot record to .*not-a-dir\/x\.mp4/);
      return true;
    });
    assert.equal(d.state, 'failed');
    assert.match(d.stats().lastError ?? '', /cannot record to/);
    await d.close(closeSignal());
    assert.equal(d.state, 'idle');
  });

  it('rejects bad options up front', () => {
    assert.throws(() => new FileDestination({ path: '' }), TypeError);
    assert.throws(() => new FileDestination({ path: 'a.avi', container: 'avi' as 'mp4' }), RangeError);
    assert.throws(() => new FileDestination({ path: 'a.mp4', fragmentMs: 0 }), RangeError);
    assert.equal(new FileDestination({ path: 'a.MKV' }).container, 'mkv');
  });
});
