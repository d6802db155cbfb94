// Property-based tests (fast-check) of the PutMedia ack stream parser. Acks split anywhere come back
// whole and in order; random and mutated text either parses or throws an Error (the parser's
// documented failure, which closes the connection), never anything else, and buffers at most 1 MiB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AckParser, type Ack } from '../../src/kvs/acks.js';

const ack: fc.Arbitrary<Ack> = fc.oneof(
  fc.record({ EventType: fc.constantFrom('BUFFERING' as const, 'RECEIVED' as const, 'PERSISTED' as const), FragmentTimecode: fc.integer({ min: 0, max: 2 ** 52 }), FragmentNumber: fc.stringMatching(/^\d{1,48}$/) }),
  fc.record({ EventType: fc.constant('ERROR' as const), FragmentTimecode: fc.integer({ min: 0, max: 2 ** 52 }), ErrorId: fc.integer({ min: 4000, max: 5999 }), ErrorCode: fc.string({ maxLength: 40 }) }),
  fc.constant({ EventType: 'IDLE' as const }),
);
const space = fc.constantFrom('', '\n', '\r\n', ' ', '\t\n  ');

function feed(p: AckParser, text: string, cuts: number[]): Ack[] {
  const out: Ack[] = [];
  let at = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b).concat(text.length)) {
    out.push(...p.push(text.slice(at, cut)));
    at = cut;
  }
  return out;
}

test('acks split at any point come back whole and in order', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(ack, space, fc.boolean()), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 40 }), (acks, cuts) => {
      // Real acks carry extra fields we ignore, and JSON escapes in strings.
      const text = acks.map(([a, s, extra]) => JSON.stringify(extra ? { ...a, Extra: { nested: ['}', '{', '"\\'] } } : a) + s).join('');
      assert.deepEqual(feed(new AckParser(), text, cuts), acks.map(([a]) => ({ ...a })));
    }),
    { numRuns: 300 },
  );
});

function onlyErrors(f: () => void): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof Error)) throw new Error(`threw a non-Error: ${String(err)}`);
  }
}

test('random and mutated ack text parses or throws an Error, never anything else', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 10 }), (text, cuts) => {
      onlyErrors(() => feed(new AckParser(), text, cuts));
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.array(ack, { minLength: 1, maxLength: 10 }), fc.array(fc.tuple(fc.nat(), fc.constantFrom('{', '}', '"', '\\', ':', ',', 'x', ' ', '1')), { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 10 }), (acks, flips, cuts) => {
      const chars = [...acks.map((a) => JSON.stringify(a)).join('\n')];
      for (const [at, c] of flips) chars[at % chars.length] = c;
      onlyErrors(() => {
        for (const a of feed(new AckParser(), chars.join(''), cuts)) assert.ok(['BUFFERING', 'RECEIVED', 'PERSISTED', 'ERROR', 'IDLE'].includes(a.EventType));
      });
    }),
    { numRuns: 1000 },
  );
});

test('an event that never closes is refused once it passes 1 MiB', () => {
  const p = new AckParser();
  p.push('{"EventType":"PERSISTED","FragmentNumber":"');
  assert.throws(() => {
    for (let i = 0; i < 20; i++) p.push('9'.repeat(64 * 1024));
  }, /larger than 1 MiB/);
});
