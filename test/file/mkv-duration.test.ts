// Issue 9, defect 14: MKV recordings carried no duration, even after a clean stop (players showed
// no seek bar). After a clean stop an MKV has Duration and Cues; SIGKILL still leaves a playable
// file (test/file/robustness.test.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSkyLine } from '../../src/index.js';
import { probeVideo } from '../support/ffprobe.js';
import { level } from '../support/frames.js';
import { captureLogger } from '../support/quiet.js';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'skyline-mkvdur-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

/** format.duration as ffprobe reads it from the container (no fallback to stream durations or counting). */
function containerDuration(path: string): string {
  return execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', path], { encoding: 'utf8' }).trim();
}

/** Packet timestamps ffprobe finds after seeking to `seconds` (it seeks with the index when there is one). */
function firstPacketAfterSeek(path: string, seconds: number): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-read_intervals', `${seconds}%+#1`, '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', path], { encoding: 'utf8' });
  return Number(out.trim().split('\n')[0]!.split(',')[0]);
}

test('a cleanly stopped MKV carries its duration and cues', async () => {
  const sky = new FileSkyLine({ path: join(dir, 'clean.mkv'), logger: captureLogger('warn').logger, statsIntervalMs: 0, keyframeInterval: 30 });
  await sky.startStreaming({ fps: 30, width: 320, height: 240 });
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < 120; i++) assert.equal(await sky.putAsync(level(320, 240, i * 2), { timestamp: t0 + (i * 1000) / 30 }), true);
  await sky.stopStreaming();
  await sky.close();
  const d = containerDuration(sky.path!);
  assert.notEqual(d, 'N/A', 'the Segment Info has a Duration');
  // 120 frames at 30 fps: the last frame starts at 3.967 s and lasts 1/30 s.
  assert.ok(Math.abs(Number(d) - 4) < 0.05, `duration ${d}`);
  // Cues (element ID 0x1C53BB6B) and a SeekHead pointing at them, so players can seek without scanning.
  const bytes = readFileSync(sky.path!);
  assert.ok(bytes.includes(Buffer.from([0x1c, 0x53, 0xbb, 0x6b])), 'a Cues element');
  assert.ok(bytes.includes(Buffer.from([0x11, 0x4d, 0x9b, 0x74])), 'a SeekHead element');
  // And a seek lands on a keyframe at or before the target, near it.
  const at = firstPacketAfterSeek(sky.path!, 2.5);
  assert.ok(at >= 1.9 && at <= 2.5, `seek to 2.5 s starts at ${at}`);
  const p = await probeVideo(sky.path!);
  assert.equal(p.frames, 120);
});
