// Property-based tests (fast-check) of the MKV reader, which reads what PutMedia producers (and the
// KVS emulator) receive over the network. Random and mutated streams only ever throw MkvParseError
// (its documented error) and stay bounded; what our writer produces reads back exactly, however
// the bytes are cut into chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MkvParseError, MkvReader, type MkvBlock, type MkvTrackEntry } from '../../src/mkv/reader.js';
import { cluster, clusterStart, simpleBlock, streamHeader, type VideoTrackInfo } from '../../src/mkv/writer.js';

const RUNS = { numRuns: 300 } as const;

function read(bytes: Uint8Array, cuts: number[], end = true) {
  const seen = { tracks: [] as MkvTrackEntry[][], clusters: [] as number[], blocks: [] as MkvBlock[], ends: 0 };
  const r = new MkvReader({
    info: () => undefined,
    tracks: (t) => seen.tracks.push(t),
    clusterTimestamp: (t) => seen.clusters.push(t),
    block: (b) => seen.blocks.push(b),
    clusterEnd: () => seen.ends++,
  });
  let at = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b).concat(bytes.length)) {
    r.push(Buffer.from(bytes.subarray(at, cut)));
    at = cut;
  }
  if (end) r.end();
  return seen;
}

/** Runs `f`; an exception other than MkvParseError fails the property. */
function onlyParseErrors(f: () => void): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof MkvParseError)) throw new Error(`threw ${(err as Error).name}: ${(err as Error).message}`);
  }
}

const track = fc.record({
  width: fc.integer({ min: 16, max: 8192 }),
  height: fc.integer({ min: 16, max: 8192 }),
  codecPrivate: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)),
  defaultDurationNs: fc.option(fc.integer({ min: 1, max: 1e9 }), { nil: undefined }),
});
const frames = fc.array(fc.record({ delta: fc.integer({ min: 1, max: 200 }), keyframe: fc.boolean(), data: fc.uint8Array({ maxLength: 400 }) }), { minLength: 1, maxLength: 12 });
const fragments = fc.array(frames, { minLength: 1, maxLength: 5 });

/** A stream as the producer writes it: header, then clusters (sized, or unknown-size as sent live). */
function stream(t: VideoTrackInfo, frags: Array<Array<{ delta: number; keyframe: boolean; data: Uint8Array }>>, live: boolean) {
  const parts = [streamHeader(t)];
  const expected: Array<{ cluster: number; offset: number; keyframe: boolean; data: Buffer }> = [];
  let now = 1_700_000_000_000;
  for (const frag of frags) {
    const start = now;
    const fs = frag.map((f, i) => {
      if (i > 0) now += f.delta;
      return { timecodeMs: now, keyframe: i === 0 ? true : f.keyframe, data: Buffer.from(f.data) };
    });
    now += 40;
    for (const f of fs) expected.push({ cluster: start, offset: f.timecodeMs - start, keyframe: f.keyframe, data: f.data });
    if (live) parts.push(clusterStart(start), ...fs.map((f) => simpleBlock(f.timecodeMs - start, f.keyframe, f.data)));
    else parts.push(cluster(start, fs));
  }
  return { bytes: Buffer.concat(parts), expected };
}

test('writer -> reader: tracks, cluster timecodes and every block come back, whatever the chunking', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(track, fragments, fc.boolean(), fc.array(fc.nat(), { maxLength: 40 }), (t, frags, live, cuts) => {
      const { bytes, expected } = stream(t, frags, live);
      const seen = read(bytes, cuts);
      assert.equal(seen.tracks.length, 1);
      const [tr] = seen.tracks[0]!;
      assert.deepEqual([tr!.number, tr!.codecId, tr!.width, tr!.height], [1, 'V_MPEG4/ISO/AVC', t.width, t.height]);
      assert.deepEqual(tr!.codecPrivate, t.codecPrivate);
      assert.equal(seen.clusters.length, frags.length);
      assert.equal(seen.ends, frags.length);
      assert.deepEqual(seen.blocks.map((b) => [b.track, b.offset, b.keyframe, b.data]), expected.map((e) => [1, e.offset, e.keyframe, e.data]));
    }),
    { numRuns: 200 },
  );
});

test('reader: random bytes only ever throw MkvParseError', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
      onlyParseErrors(() => read(bytes, cuts));
    }),
    { numRuns: 1000 },
  );
});

test('reader: mutated, truncated and spliced streams only ever throw MkvParseError', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(
      track, fragments, fc.boolean(),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (t, frags, live, flips, cutAt, cuts) => {
        const { bytes } = stream(t, frags, live);
        for (const [at, v] of flips) bytes[at % bytes.length] = v;
        const data = cutAt === undefined ? bytes : bytes.subarray(0, cutAt % (bytes.length + 1));
        onlyParseErrors(() => read(data, cuts));
      },
    ),
    { numRuns: 1000 },
  );
});

test('reader: element sizes near the limits are refused, not buffered', () => {
  // An Info element claiming 2^40 bytes: refused at once instead of waiting for a terabyte.
  const header = streamHeader({ width: 16, height: 16, codecPrivate: Buffer.of(1) });
  const huge = Buffer.concat([header, Buffer.from([0x15, 0x49, 0xa9, 0x66, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00])]);
  assert.throws(() => read(huge, [], false), MkvParseError);
});

// Regressions found by the properties above: the EBML number readers threw plain Errors.
test('reader: a 9-byte cluster Timestamp and a 3-byte Duration are MkvParseErrors', async () => {
  const { element, master, unknownSizeHeader, uintElement } = await import('../../src/mkv/ebml.js');
  const { ID } = await import('../../src/mkv/ids.js');
  const header = streamHeader({ width: 16, height: 16, codecPrivate: Buffer.of(1) });
  const badTimestamp = Buffer.concat([header, unknownSizeHeader(ID.Cluster), element(ID.Timestamp, Buffer.alloc(9, 1))]);
  assert.throws(() => read(badTimestamp, []), (e: Error) => e instanceof MkvParseError && /9 bytes/.test(e.message));
  const ebmlAndSegment = streamHeader({ width: 16, height: 16, codecPrivate: Buffer.of(1) }).subarray(0, header.indexOf(Buffer.from([0x15, 0x49, 0xa9, 0x66])));
  const badDuration = Buffer.concat([ebmlAndSegment, master(ID.Info, [uintElement(ID.TimestampScale, 1_000_000), element(ID.Duration, Buffer.alloc(3))])]);
  assert.throws(() => read(badDuration, []), (e: Error) => e instanceof MkvParseError && /3 bytes/.test(e.message));
});
