// Property-based tests (fast-check) of what reads RTP and RTCP from the network: parseRtp,
// parseRtcp and the H.264 depacketizer. Random and mutated packets never throw and never grow
// memory; packetizer output (through real RTP bytes) depacketizes back to the access units sent,
// and RTCP we write parses back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { H264Depacketizer, type DepacketizedUnit } from '../../src/rtp/depacketizer.js';
import { H264Packetizer } from '../../src/rtp/packetizer.js';
import { parseRtp, type RtpPacket } from '../../src/rtp/packet.js';
import { byeCompound, parseRtcp, RTCP_BYE, RTCP_SDES, RTCP_SR, senderReportCompound } from '../../src/rtp/rtcp.js';

const RUNS = { numRuns: 300 } as const;

/** RTP bytes: the 12-byte fixed header, optional CSRCs, extension and padding, then the payload. */
function rtpBytes(p: { marker: boolean; pt: number; seq: number; ts: number; ssrc: number; payload: Uint8Array; csrc?: number; ext?: number; pad?: number }): Buffer {
  const csrc = p.csrc ?? 0;
  const ext = p.ext;
  const pad = p.pad ?? 0;
  const head = Buffer.alloc(12 + 4 * csrc + (ext === undefined ? 0 : 4 + 4 * ext));
  head[0] = 0x80 | (pad > 0 ? 0x20 : 0) | (ext === undefined ? 0 : 0x10) | csrc;
  head[1] = (p.marker ? 0x80 : 0) | p.pt;
  head.writeUInt16BE(p.seq, 2);
  head.writeUInt32BE(p.ts, 4);
  head.writeUInt32BE(p.ssrc, 8);
  if (ext !== undefined) head.writeUInt16BE(ext, 12 + 4 * csrc + 2);
  const padding = Buffer.alloc(pad);
  if (pad > 0) padding[pad - 1] = pad;
  return Buffer.concat([head, p.payload, padding]);
}

test('parseRtp: random bytes never throw; a payload always lies inside the packet', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1600 }), (bytes) => {
      const buf = Buffer.from(bytes);
      const p = parseRtp(buf);
      if (p) {
        assert.ok(p.payload.byteOffset >= buf.byteOffset + 12 && p.payload.byteOffset + p.payload.length <= buf.byteOffset + buf.length);
        assert.ok(p.payloadType < 128 && p.sequence < 65536);
      }
    }),
    { numRuns: 2000 },
  );
});

test('parseRtp: packets with CSRCs, extensions and padding give back their fields and payload', () => {
  fc.assert(
    fc.property(
      fc.record({
        marker: fc.boolean(), pt: fc.integer({ min: 0, max: 127 }), seq: fc.integer({ min: 0, max: 65535 }),
        ts: fc.integer({ min: 0, max: 0xffffffff }), ssrc: fc.integer({ min: 0, max: 0xffffffff }),
        payload: fc.uint8Array({ maxLength: 300 }), csrc: fc.integer({ min: 0, max: 15 }),
        ext: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }), pad: fc.integer({ min: 0, max: 255 }),
      }),
      (p) => {
        const got = parseRtp(rtpBytes(p))!;
        assert.deepEqual([got.marker, got.payloadType, got.sequence, got.timestamp, got.ssrc], [p.marker, p.pt, p.seq, p.ts, p.ssrc]);
        assert.deepEqual(got.payload, Buffer.from(p.payload));
      },
    ),
    RUNS,
  );
});

test('parseRtcp: random and mutated bytes never throw; what we send parses back', { timeout: 60_000 }, () => {
  const sr = fc.record({
    ssrc: fc.integer({ min: 0, max: 0xffffffff }), ntpMs: fc.integer({ min: 0, max: 4_000_000_000_000 }),
    rtpTime: fc.integer({ min: 0, max: 0xffffffff }), packetCount: fc.integer({ min: 0, max: 0xffffffff }), octetCount: fc.integer({ min: 0, max: 0xffffffff }),
  });
  const cname = fc.string({ maxLength: 255 });
  fc.assert(
    fc.property(sr, cname, fc.boolean(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), (info, name, isBye, flips) => {
      const bytes = isBye ? byeCompound(info, name) : senderReportCompound(info, name);
      const parsed = parseRtcp(bytes)!;
      assert.deepEqual(parsed.map((p) => p.type), isBye ? [RTCP_SR, RTCP_SDES, RTCP_BYE] : [RTCP_SR, RTCP_SDES]);
      assert.ok(parsed.every((p) => p.ssrc === info.ssrc));
      for (const [at, v] of flips) bytes[at % bytes.length] = v;
      const again = parseRtcp(bytes);
      assert.ok(again === undefined || again.length >= 1);
    }),
    RUNS,
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const r = parseRtcp(Buffer.from(bytes));
      assert.ok(r === undefined || r.every((p) => p.type >= 192 && p.type <= 223 && p.reports.length <= 31));
    }),
    { numRuns: 2000 },
  );
});

/** NAL units the packetizer passes through unchanged: no AUD/filler (dropped), no SPS/PPS/IDR (parameter sets inserted). */
const nalUnit = fc.tuple(fc.constantFrom(1, 2, 3, 4, 6, 13, 19), fc.integer({ min: 0, max: 3 }), fc.uint8Array({ minLength: 0, maxLength: 3000 }))
  .map(([type, nri, rest]) => Buffer.concat([Buffer.of((nri << 5) | type), rest]));
const accessUnits = fc.array(fc.array(nalUnit, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 });

test('packetizer -> RTP bytes -> parseRtp -> depacketizer gives back every access unit, across sequence and timestamp wraps', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(accessUnits, fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 20, max: 1500 }), (aus, seq0, ts0, mtu) => {
      const pk = new H264Packetizer({ maxPacketBytes: mtu });
      const units: DepacketizedUnit[] = [];
      const dep = new H264Depacketizer((u) => units.push(u));
      let seq = seq0;
      aus.forEach((nalus, i) => {
        const ts = (ts0 + i * 3000) % 2 ** 32;
        for (const { payload, marker } of pk.packetize({ nalus, keyframe: false, ptsNs: 0, captureMs: 0 })) {
          dep.push(parseRtp(rtpBytes({ marker, pt: 96, seq, ts, ssrc: 7, payload }))!);
          seq = (seq + 1) & 0xffff;
        }
      });
      assert.equal(dep.dropped, 0);
      assert.deepEqual(units.map((u) => u.nalus.map((n) => Buffer.from(n))), aus);
      units.forEach((u, i) => assert.equal(u.timestamp - units[0]!.timestamp, i * 3000));
    }),
    { numRuns: 200 },
  );
});

const rtpPacket: fc.Arbitrary<RtpPacket> = fc.record({
  marker: fc.boolean(), payloadType: fc.constant(96), sequence: fc.integer({ min: 0, max: 65535 }),
  timestamp: fc.integer({ min: 0, max: 0xffffffff }), ssrc: fc.constant(1),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 1500 }),
    // Payloads that look like FU-A and STAP-A, with random headers and lengths.
    fc.tuple(fc.constantFrom(24, 28, 25, 29, 0, 30, 31), fc.uint8Array({ maxLength: 1500 })).map(([t, rest]) => Uint8Array.of(0x60 | t, ...rest)),
  ).map((b) => Buffer.from(b)),
});

test('depacketizer: random packet sequences never throw, hold bounded memory, and only hand out non-empty units', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(fc.array(rtpPacket, { maxLength: 60 }), (packets) => {
      const units: DepacketizedUnit[] = [];
      const dep = new H264Depacketizer((u) => units.push(u));
      let fed = 0;
      for (const p of packets) {
        dep.push(p);
        fed += p.payload.length;
        assert.ok(dep.pendingBytes <= fed);
      }
      for (const u of units) assert.ok(u.nalus.length > 0 && u.nalus.every((n) => n.length > 0), 'no empty NAL unit handed to a decoder');
    }),
    RUNS,
  );
});
