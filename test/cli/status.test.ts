// The terminal status line: always within the terminal's width, most important fields kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Reporter, statusLine, type Status } from '../../src/cli/status.js';

const status = fc.record({
  state: fc.constantFrom('streaming', 'error', 'warmup'),
  fps: fc.double({ min: 0, max: 1000, noNaN: true }),
  kbps: fc.double({ min: 0, max: 1e6, noNaN: true }),
  frames: fc.nat(),
  viewers: fc.option(fc.nat(1000), { nil: undefined }),
  drops: fc.nat(),
  reconnects: fc.nat(),
  latencyMs: fc.option(fc.double({ min: 0, max: 1e6, noNaN: true }), { nil: undefined }),
}) as fc.Arbitrary<Status>;

test('statusLine fits any terminal width and always starts with the frame rate', () => {
  fc.assert(
    fc.property(status, fc.integer({ min: 1, max: 400 }), (s, columns) => {
      const line = statusLine(s, columns);
      assert.ok(line.length <= Math.max(1, columns - 1), `${line.length} > ${columns - 1}`);
      assert.ok(`${s.fps.toFixed(1)} fps`.startsWith(line) || line.startsWith(`${s.fps.toFixed(1)} fps`));
      assert.ok(!line.includes('\n') && !line.includes('\r'));
    }),
  );
});

test('statusLine on a wide terminal shows every field', () => {
  const line = statusLine({ state: 'streaming', fps: 29.97, kbps: 1999.6, frames: 1234, viewers: 2, drops: 3, reconnects: 1, latencyMs: 41.6 }, 200);
  assert.equal(line, '30.0 fps | 2000 kbit/s | 2 viewers | 3 dropped | 1 reconnects | latency 42 ms | 1234 frames | streaming');
});

test('Reporter writes JSON lines when not on a terminal, and a redrawn line on one', () => {
  const piped: string[] = [];
  const r1 = Reporter.for({ write: (t) => piped.push(t) > 0, isTTY: false }, false);
  r1.event('started', 'streaming', { destination: 'x' });
  r1.status({ state: 'streaming', fps: 30, kbps: 100, frames: 1, drops: 0, reconnects: 0 });
  const parsed = piped.map((l) => JSON.parse(l));
  assert.deepEqual([parsed[0].event, parsed[0].destination, parsed[1].event, parsed[1].fps], ['started', 'x', 'status', 30]);

  const tty: string[] = [];
  const r2 = Reporter.for({ write: (t) => tty.push(t) > 0, isTTY: true, columns: 30 }, false);
  r2.status({ state: 'streaming', fps: 30, kbps: 100, frames: 1, drops: 0, reconnects: 0 });
  r2.event('reconnect', 'reconnecting');
  assert.deepEqual(tty, ['\r30.0 fps | 100 kbit/s\x1b[K', '\r\x1b[K', 'reconnecting\n']);
});
