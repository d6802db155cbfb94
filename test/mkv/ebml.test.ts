import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeId,
  encodeVint,
  readChildren,
  readElementHeader,
  readVint,
  uintElement,
  UNKNOWN_SIZE_BYTES,
  vintLength,
} from '../../src/mkv/ebml.js';

test('vint encoding follows RFC 8794 section 4', () => {
  assert.deepEqual(encodeVint(0), Buffer.from([0x80]));
  assert.deepEqual(encodeVint(1), Buffer.from([0x81]));
  assert.deepEqual(encodeVint(126), Buffer.from([0xfe]));
  // 127 is all ones in one byte (reserved for unknown size): it needs two bytes.
  assert.deepEqual(encodeVint(127), Buffer.from([0x40, 0x7f]));
  assert.deepEqual(encodeVint(16382), Buffer.from([0x7f, 0xfe]));
  assert.deepEqual(encodeVint(16383), Buffer.from([0x20, 0x3f, 0xff]));
  // Same value, wider encodings are valid too.
  assert.deepEqual(encodeVint(1, 2), Buffer.from([0x40, 0x01]));
  assert.deepEqual(encodeVint(1, 8), Buffer.from([0x01, 0, 0, 0, 0, 0, 0, 1]));
  assert.equal(vintLength(Number.MAX_SAFE_INTEGER), 8);
  assert.equal(vintLength(2 ** 49 - 2), 7);
  assert.equal(vintLength(2 ** 49 - 1), 8);
  assert.throws(() => encodeVint(2 ** 56 - 1));
  assert.throws(() => encodeVint(300, 1));
  assert.deepEqual(UNKNOWN_SIZE_BYTES, Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
});

test('vints read back, including unknown sizes of any width', () => {
  for (const v of [0, 1, 126, 127, 128, 16382, 16383, 2 ** 21, 2 ** 35 + 7, 2 ** 49 + 3]) {
    const b = encodeVint(v);
    assert.deepEqual(readVint(b, 0), { value: v, length: b.length, unknown: false });
  }
  assert.equal(readVint(Buffer.from([0xff]), 0)?.unknown, true);
  assert.equal(readVint(Buffer.from([0x7f, 0xff]), 0)?.unknown, true);
  assert.equal(readVint(UNKNOWN_SIZE_BYTES, 0)?.unknown, true);
  assert.equal(readVint(Buffer.from([0x40]), 0), undefined, 'truncated vint waits for more bytes');
  assert.throws(() => readVint(Buffer.from([0x00, 1]), 0));
});

test('element IDs keep their marker bits', () => {
  assert.deepEqual(encodeId(0x1a45dfa3), Buffer.from([0x1a, 0x45, 0xdf, 0xa3]));
  assert.deepEqual(encodeId(0xa3), Buffer.from([0xa3]));
  assert.deepEqual(encodeId(0x2ad7b1), Buffer.from([0x2a, 0xd7, 0xb1]));
  assert.throws(() => encodeId(0x7f)); // no marker in one byte
  assert.throws(() => encodeId(0x1a45)); // 0x1a is not a 2-byte marker
});

test('unsigned integers use the fewest bytes and read back', () => {
  assert.deepEqual(uintElement(0xd7, 1), Buffer.from([0xd7, 0x81, 0x01]));
  assert.deepEqual(uintElement(0x2ad7b1, 1_000_000), Buffer.from([0x2a, 0xd7, 0xb1, 0x83, 0x0f, 0x42, 0x40]));
  assert.deepEqual(uintElement(0xe7, 0), Buffer.from([0xe7, 0x81, 0x00]));
  const big = uintElement(0xe7, 1_700_000_000_123);
  const h = readElementHeader(big, 0)!;
  assert.equal(h.id, 0xe7);
  assert.equal(h.size, 6);
  const kids = readChildren(Buffer.concat([big, uintElement(0xd7, 5)]));
  assert.deepEqual(kids.map((k) => k.id), [0xe7, 0xd7]);
  assert.equal(kids[0]!.data.readUIntBE(0, 6), 1_700_000_000_123);
});
