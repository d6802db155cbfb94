// GDP framing (gdppay's), as LiveSource reads it from its pipelines: checked against real gdppay
// output, and by properties: any packet sequence split anywhere parses back the same; garbage
// never throws, reports one error and keeps no memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { GdpParser, gdpPacket, GDP_BUFFER, GDP_CAPS, GDP_EVENT_BASE, GST_FLAG_DELTA_UNIT, type GdpPacket } from '../../src/ingest/gdp.js';

function parseAll(chunks: Buffer[]): { packets: GdpPacket[]; errors: string[]; parser: GdpParser } {
  const packets: GdpPacket[] = [];
  const errors: string[] = [];
  const parser = new GdpParser((p) => packets.push(p), (e) => errors.push(e));
  for (const c of chunks) parser.push(c);
  return { packets, errors, parser };
}

test('reads what GStreamer gdppay writes: caps, buffers with PTS and the delta-unit flag', () => {
  const launch = 'videotestsrc num-buffers=12 ! video/x-raw,width=64,height=48,framerate=30/1 ! x264enc key-int-max=5 tune=zerolatency ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! gdppay ! fdsink fd=1';
  const out = execFileSync('gst-launch-1.0', ['-q', ...launch.split(' ')], { maxBuffer: 1 << 24 });
  const { packets, errors } = parseAll([out]);
  assert.deepEqual(errors, []);
  const caps = packets.filter((p) => p.kind === 'caps');
  assert.ok(caps.length >= 1);
  assert.match((caps.at(-1) as { caps: string }).caps, /^video\/x-h264, .*width=\(int\)64, height=\(int\)48/);
  const buffers = packets.filter((p): p is Extract<GdpPacket, { kind: 'buffer' }> => p.kind === 'buffer');
  assert.equal(buffers.length, 12);
  // Keyframes every 5 frames: exactly those are not delta units.
  assert.deepEqual(buffers.map((b) => !b.delta), buffers.map((_, i) => i % 5 === 0));
  const step = buffers[1]!.ptsNs - buffers[0]!.ptsNs;
  assert.ok(Math.abs(step - 33_333_333) <= 1, `PTS step ${step}`);
  for (const b of buffers) assert.deepEqual([...b.payload.subarray(0, 4)], [0, 0, 0, 1]);
});

const packetArb = fc.oneof(
  fc.record({ kind: fc.constant('buffer' as const), pts: fc.option(fc.integer({ min: 0, max: 2 ** 53 - 1 }), { nil: undefined }), delta: fc.boolean(), payload: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({ kind: fc.constant('caps' as const), caps: fc.string({ maxLength: 80 }).map((s) => s.replace(/\0/g, '')) }),
);

test('property: packets split at any chunk boundaries parse back the same', () => {
  fc.assert(
    fc.property(fc.array(packetArb, { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }), fc.boolean(), (specs, cuts, crc) => {
      const bytes = Buffer.concat(
        specs.map((s) =>
          s.kind === 'buffer'
            ? gdpPacket(GDP_BUFFER, Buffer.from(s.payload), { ptsNs: s.pts, flags: s.delta ? GST_FLAG_DELTA_UNIT : 0, crc })
            : gdpPacket(GDP_CAPS, Buffer.from(`${s.caps}\0`), { crc }),
        ),
      );
      const chunks: Buffer[] = [];
      let off = 0;
      for (let i = 0; off < bytes.length; i++) {
        const n = cuts[i % cuts.length]!;
        chunks.push(bytes.subarray(off, off + n));
        off += n;
      }
      const { packets, errors, parser } = parseAll(chunks);
      assert.deepEqual(errors, []);
      assert.equal(parser.pendingBytes, 0);
      assert.equal(packets.length, specs.length);
      specs.forEach((s, i) => {
        const p = packets[i]!;
        if (s.kind === 'buffer') {
          assert.equal(p.kind, 'buffer');
          if (p.kind !== 'buffer') return;
          assert.equal(p.ptsNs, s.pts ?? -1);
          assert.equal(p.delta, s.delta);
          assert.deepEqual([...p.payload], [...s.payload]);
        } else {
          assert.deepEqual(p, { kind: 'caps', caps: s.caps });
        }
      });
    }),
    { numRuns: 300 },
  );
});

test('property: garbage never throws; at most one error, then nothing is kept', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), (chunks) => {
      const { errors, parser } = parseAll(chunks.map((c) => Buffer.from(c)));
      assert.ok(errors.length <= 1);
      if (errors.length === 1) assert.equal(parser.pendingBytes, 0);
      else assert.ok(parser.pendingBytes < 62 + 256 * 2 ** 20);
    }),
    { numRuns: 500 },
  );
});

test('a corrupt header is named: version, CRC, oversized payload, unknown type', () => {
  const good = gdpPacket(GDP_BUFFER, Buffer.from([1, 2, 3]), { ptsNs: 5 });
  const badVersion = Buffer.from(good);
  badVersion[0] = 9;
  assert.match(parseAll([badVersion]).errors[0]!, /expected a GDP 1\.0 header at byte 0, got version bytes 9\.0/);
  const badCrc = Buffer.from(good);
  badCrc[12] ^= 0xff;
  assert.match(parseAll([badCrc]).errors[0]!, /CRC mismatch/);
  const huge = gdpPacket(GDP_BUFFER, Buffer.alloc(0), { crc: false });
  huge.writeUInt32BE(0xffff_fff0, 6);
  assert.match(parseAll([huge]).errors[0]!, /exceeds the .*-byte limit/);
  assert.match(parseAll([gdpPacket(7, Buffer.alloc(0))]).errors[0]!, /unknown GDP payload type 7/);
  // EOS events are recognised.
  assert.deepEqual(parseAll([gdpPacket(GDP_EVENT_BASE + ((28 << 8) | 6), Buffer.alloc(0))]).packets, [{ kind: 'eos' }]);
});

test('property: large payloads (decoded frames) assembled in place come back byte for byte, across any chunking', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 300_000 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 70_000 }), fc.integer({ min: 0, max: 255 }), (sizes, cut, seed) => {
      const payloads = sizes.map((n, k) => {
        const b = Buffer.allocUnsafe(n);
        for (let i = 0; i < n; i++) b[i] = (i * 31 + k * 7 + seed) & 0xff;
        return b;
      });
      const bytes = Buffer.concat(payloads.map((p, k) => gdpPacket(GDP_BUFFER, p, { ptsNs: k })));
      const chunks: Buffer[] = [];
      for (let off = 0; off < bytes.length; off += cut) chunks.push(bytes.subarray(off, off + cut));
      const { packets, errors, parser } = parseAll(chunks);
      assert.deepEqual(errors, []);
      assert.equal(parser.pendingBytes, 0);
      assert.equal(packets.length, payloads.length);
      packets.forEach((p, k) => {
        assert.equal(p.kind, 'buffer');
        if (p.kind === 'buffer') {
          assert.equal(p.ptsNs, k);
          assert.ok(p.payload.equals(payloads[k]!), `payload ${k} (${payloads[k]!.length} bytes)`);
        }
      });
    }),
    { numRuns: 60 },
  );
});

test('property: chunks read into one reused buffer (transient) parse back the same, small and large packets alike', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 150_000 }), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 90_000 }), { minLength: 1, maxLength: 8 }), (sizes, cuts) => {
      const payloads = sizes.map((n, k) => {
        const b = Buffer.allocUnsafe(n);
        for (let i = 0; i < n; i++) b[i] = (i * 13 + k * 101) & 0xff;
        return b;
      });
      const bytes = Buffer.concat([gdpPacket(GDP_CAPS, Buffer.from('video/x-raw\0')), ...payloads.map((p, k) => gdpPacket(GDP_BUFFER, p, { ptsNs: k }))]);
      const packets: GdpPacket[] = [];
      const errors: string[] = [];
      // The callback copies what is a view of the read buffer, as the decoder does.
      const parser = new GdpParser((p) => packets.push(p.kind === 'buffer' && !p.owned ? { ...p, payload: Buffer.from(p.payload) } : p), (e) => errors.push(e));
      const readBuffer = Buffer.alloc(90_000);
      for (let off = 0, i = 0; off < bytes.length; i++) {
        const n = bytes.copy(readBuffer, 0, off, off + cuts[i % cuts.length]!);
        parser.push(readBuffer.subarray(0, n), true);
        readBuffer.fill(0xee); // the next read overwrites it
        off += n;
      }
      assert.deepEqual(errors, []);
      assert.equal(parser.pendingBytes, 0);
      assert.deepEqual(packets[0], { kind: 'caps', caps: 'video/x-raw' });
      assert.equal(packets.length, payloads.length + 1);
      payloads.forEach((want, k) => {
        const p = packets[k + 1]!;
        assert.equal(p.kind, 'buffer');
        if (p.kind === 'buffer') assert.ok(p.ptsNs === k && p.payload.equals(want), `payload ${k} (${want.length} bytes)`);
      });
    }),
    { numRuns: 80 },
  );
});

test('property: a large payload of the size the allocate hook takes is assembled in the memory it gives, chunked any way', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(70_000, 100_000, 5), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 70_000 }), (sizes, cut) => {
      const target = Buffer.alloc(100_000);
      const payloads = sizes.map((n, k) => Buffer.alloc(n, k + 1));
      const bytes = Buffer.concat(payloads.map((p, k) => gdpPacket(GDP_BUFFER, p, { ptsNs: k })));
      const seen: Array<{ inTarget: boolean; equal: boolean }> = [];
      const parser = new GdpParser(
        (p) => {
          if (p.kind === 'buffer') seen.push({ inTarget: p.payload.buffer === target.buffer, equal: p.payload.equals(payloads[p.ptsNs]!) });
        },
        (m) => assert.fail(m),
        { maxPayloadBytes: 1 << 20, allocate: (n) => (n === target.length ? target : undefined) },
      );
      for (let off = 0; off < bytes.length; off += cut) parser.push(bytes.subarray(off, off + cut));
      assert.deepEqual(seen.map((s) => s.equal), sizes.map(() => true));
      // Only the 100 kB payloads that did not arrive whole in one chunk are assembled; those go to the target.
      sizes.forEach((n, k) => {
        if (seen[k]!.inTarget) assert.equal(n, 100_000);
      });
      if (cut < 70_000) assert.deepEqual(seen.map((s) => s.inTarget), sizes.map((n) => n === 100_000));
    }),
    { numRuns: 60 },
  );
});
