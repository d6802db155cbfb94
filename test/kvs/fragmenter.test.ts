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
  const requestedAt: number[] = []; // index of the unit being pushed when a keyframe was asked for
  let pushing = -1;
  const f = new Fragmenter(
    { width: 320, height: 240, requestKeyframe: () => requestedAt.push(pushing), ...opts },
    { fragmentStart: (x) => frags.push(x), frame: () => {}, fragmentEnd: () => {} },
  );
  aus.forEach((au, i) => {
    pushing = i;
    f.push(au, au.captureMs); // arrival time = capture time: deterministic
  });
  f.flush();
  return { frags, f, requestedAt };
}

test('a keyframe is requested when the fragment reaches fragmentSeconds; none reaches 10 s', () => {
  const { frags, f, requestedAt } = run(gop250, { fragmentMs: 2000 });
  assert.equal(frags.length, 1, 'only one keyframe in the input');
  // 25 fps: the fragment is 2000 ms old at unit 50; asked again each 26 units (1040 ms, the first
  // step over 1 s) while no keyframe comes; the 9500 ms cap is reached at unit 238 (9520 ms),
  // where the fragment is closed, the rest dropped and a keyframe asked for once more.
  assert.deepEqual(requestedAt.slice(0, 9), [50, 76, 102, 128, 154, 180, 206, 232, 238]);
  const frag = frags[0]!;
  const span = frag.frames[frag.frames.length - 1]!.timecodeMs - frag.timecodeMs;
  assert.ok(span < 9500, `fragment spans ${span} ms`);
  assert.ok(frag.complete);
  assert.equal(frag.frames.length, 238, 'units 0..237 fit under the cap');
  assert.equal(f.framesDropped, 62, 'frames past the cap are dropped and counted');
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
