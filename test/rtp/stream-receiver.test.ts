// The tap's receiver: with `single` it takes one connection and closes its listener, with `ssrc`
// it drops RTP of any other source, and cuts a connection whose first packet is not ours.
// Issue 9, defect 4 (a foreign process could take over or feed the tap).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RtpStreamReceiver } from '../../src/rtp/stream-receiver.js';
import type { DepacketizedUnit } from '../../src/rtp/depacketizer.js';
import { waitFor } from '../support/wait.js';

/** An RFC 4571-framed RTP packet holding one whole NAL unit (an IDR slice), marker set. */
function packet(seq: number, ssrc: number, fill: number): Buffer {
  const rtp = Buffer.alloc(12 + 10, fill);
  rtp[0] = 0x80;
  rtp[1] = 0x80 | 96;
  rtp.writeUInt16BE(seq, 2);
  rtp.writeUInt32BE(seq * 3000, 4);
  rtp.writeUInt32BE(ssrc, 8);
  rtp[12] = 0x65;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(rtp.length);
  return Buffer.concat([len, rtp]);
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

const OURS = 0x2a00_0000;

test('single: the listener takes one connection and is gone', async () => {
  const r = new RtpStreamReceiver({ single: true, ssrc: OURS });
  const port = await r.listen();
  const first = await connect(port);
  await waitFor(() => r.connected, 5000, 'the first connection');
  await assert.rejects(connect(port), /ECONNREFUSED/);
  assert.equal(r.connected, true, 'the first connection is still ours');
  first.destroy();
  await r.close();
});

test('packets of another SSRC are dropped; ours come through', async () => {
  const r = new RtpStreamReceiver({ single: true, ssrc: OURS });
  const units: DepacketizedUnit[] = [];
  r.on('unit', (u) => units.push(u));
  const s = await connect(await r.listen());
  // Injected packets carry the sequence numbers the stream would have next: still dropped.
  s.write(Buffer.concat([packet(1, OURS, 1), packet(2, 0x1234, 9), packet(2, OURS, 3), packet(3, 0x1234, 9), packet(3, OURS, 5)]));
  await waitFor(() => units.length >= 3, 5000, 'our three units');
  assert.deepEqual(units.map((u) => u.nalus[0]![1]), [1, 3, 5]);
  assert.equal(r.foreignPackets, 2);
  s.destroy();
  await r.close();
});

test('a connection whose first packet is not ours is cut and reported', async () => {
  const r = new RtpStreamReceiver({ single: true, ssrc: OURS });
  let foreign = 0;
  const units: DepacketizedUnit[] = [];
  r.on('foreign', () => foreign++);
  r.on('unit', (u) => units.push(u));
  const s = await connect(await r.listen());
  const closed = new Promise((resolve) => s.on('close', resolve));
  s.on('error', () => undefined);
  s.write(Buffer.concat([packet(1, 0x1234, 1), packet(2, OURS, 2)]));
  await closed;
  assert.equal(foreign, 1);
  assert.deepEqual(units, []);
  await r.close();
});
