import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { Fragmenter, type Fragment } from '../../src/kvs/fragmenter.js';
import { encodeAccessUnits } from '../support/kvs/h264-source.js';

let gop250: AccessUnit[];
before(async () => {
  // 12 s at 25 fps with a single keyframe: longer than KVS allows in one fragment.
  gop250 = await encodeAccessUnits({ frames: 300, fps: 25, gop: 300 });
});

function run(aus: AccessUnit[], opts: { fragmentMs?: number } = {}) {
  const frags: Fragment[] = [];
  let keyframeRequests = 0;
  const f = new Fragmenter(
    { width: 320, height: 240, requestKeyframe: () => keyframeRequests++, ...opts },
    { fragmentStart: (x) => frags.push(x), frame: () => {}, fragmentEnd: () => {} },
  );
  for (const au of aus) f.push(au, au.captureMs); // arrival time = capture time: deterministic
  f.flush();
  return { frags, f, keyframeRequests: () => keyframeRequests };
}

test('a keyframe is requested when the fragment reaches fragmentSeconds; none reaches 10 s', () => {
  const { frags, f, keyframeRequests } = run(gop250, { fragmentMs: 2000 });
  assert.equal(frags.length, 1, 'only one keyframe in the input');
  assert.ok(keyframeRequests() >= 1);
  const frag = frags[0]!;
  const span = frag.frames[frag.frames.length - 1]!.timecodeMs - frag.timecodeMs;
  assert.ok(span < 9500, `fragment spans ${span} ms`);
  assert.ok(frag.complete);
  assert.equal(f.framesDropped + frag.frames.length, 300, 'frames past the cap are dropped and counted');
  assert.ok(f.framesDropped > 0);
});

test('fragments start at keyframes, carry SPS/PPS in avcC, and get strictly increasing timecodes', () => {
  const aus = gop250.slice(0, 30).map((a, i) => ({ ...a, keyframe: a.keyframe, captureMs: 1000 + Math.floor(i / 2) })); // capture times repeat
  const { frags } = run(aus);
  const tcs = frags.flatMap((f) => f.frames.map((x) => x.timecodeMs));
  for (let i = 1; i < tcs.length; i++) assert.ok(tcs[i]! > tcs[i - 1]!, 'strictly increasing');
  assert.ok(frags.every((f) => f.frames[0]!.keyframe));
  assert.equal(frags[0]!.track.codecPrivate[0], 1);
});

test('keyframes closer than 200 ms stay inside one fragment (5 fragments/s limit)', async () => {
  const aus = await encodeAccessUnits({ frames: 50, fps: 25, gop: 2 }); // a keyframe every 80 ms
  const { frags } = run(aus);
  for (const f of frags.slice(0, -1)) {
    const next = frags[frags.indexOf(f) + 1]!;
    assert.ok(next.timecodeMs - f.timecodeMs >= 200, 'fragments at least 200 ms apart');
  }
  assert.equal(frags.reduce((n, f) => n + f.frames.length, 0), 50, 'no frame lost');
});
