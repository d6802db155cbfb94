/** Wiring for producer tests: emulator, control plane, credentials and a producer with test-speed backoff. */
import type { AccessUnit } from '../../../src/h264/access-unit.js';
import { ControlPlane } from '../../../src/kvs/control-plane.js';
import { CredentialSource, type CredentialsOption } from '../../../src/kvs/credentials.js';
import { PutMediaProducer, type ProducerOptions } from '../../../src/kvs/producer.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { KvsEmulator, type EmulatorOptions } from '../kvs-emulator.js';
import { packets, type PacketInfo } from '../ffprobe.js';

export const TEST_KEY = { accessKeyId: 'AKIAEMULATORTEST0001', secretAccessKey: 'emulator/secret/key/0001+abcdefghijklmnop' };

export async function startEmulator(opts: EmulatorOptions = {}): Promise<KvsEmulator> {
  return KvsEmulator.start({ keys: [TEST_KEY], streams: ['cam-1'], ...opts });
}

export function makeProducer(
  emu: KvsEmulator,
  over: Partial<ProducerOptions> & { creds?: CredentialsOption; streamName?: string; createStream?: boolean; refreshMarginMs?: number } = {},
): PutMediaProducer {
  const streamName = over.streamName ?? 'cam-1';
  const credentials = new CredentialSource(over.creds ?? TEST_KEY, { refreshMarginMs: over.refreshMarginMs });
  const controlPlane = new ControlPlane({
    streamName,
    region: emu.region,
    credentials,
    endpoint: emu.endpoint,
    createStream: over.createStream,
    retentionHours: 2,
  });
  const { creds: _c, createStream: _cs, refreshMarginMs: _r, ...rest } = over;
  return new PutMediaProducer({
    streamName,
    region: emu.region,
    credentials,
    controlPlane,
    width: 320,
    height: 240,
    fps: 25,
    backoffBaseMs: 20,
    backoffMaxMs: 200,
    stallTimeoutMs: 5000,
    ...rest,
  });
}

/** Feeds access units, pausing `pauseMs` after every `every` units so faults can land mid-stream. */
export async function feed(p: PutMediaProducer, aus: AccessUnit[], every = 5, pauseMs = 15): Promise<void> {
  for (let i = 0; i < aus.length; i++) {
    p.push(aus[i]!);
    if ((i + 1) % every === 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/** Fragment start timecodes the producer should have made: one per keyframe (GOPs here are >= 200 ms). */
export function expectedFragmentTimecodes(aus: AccessUnit[]): number[] {
  return aus.filter((a) => a.keyframe).map((a) => Math.round(a.captureMs));
}

/**
 * What the producer actually sent, demuxed by ffprobe (not by our MKV reader): the body bytes of
 * every PutMedia connection to `streamName`, each written to a file in `dir` and read as one
 * Matroska stream. Within a connection timestamps must strictly increase.
 */
export async function wirePackets(emu: KvsEmulator, streamName: string, dir: string): Promise<PacketInfo[][]> {
  const out: PacketInfo[][] = [];
  for (const c of emu.connections.filter((c) => c.streamName === streamName && c.wire.length > 0)) {
    const file = join(dir, `wire-${streamName}-${c.id}-${Date.now()}.mkv`);
    await writeFile(file, Buffer.concat(c.wire));
    const pk = await packets(file);
    pk.forEach((p, i) => assert.ok(i === 0 || p.ptsMs > pk[i - 1]!.ptsMs, `connection ${c.id}: packet ${i} at ${p.ptsMs} ms does not follow ${pk[i - 1]?.ptsMs}`));
    out.push(pk);
  }
  return out;
}

/**
 * Checks the wire against what was put and what the emulator stored: every frame's capture time
 * (ms, ABSOLUTE timecodes) was sent on some connection as a packet of the size stored for it.
 */
export async function assertWireCarries(emu: KvsEmulator, streamName: string, dir: string, captureMs: number[]): Promise<void> {
  const sent = new Map<number, number>();
  for (const conn of await wirePackets(emu, streamName, dir)) for (const p of conn) if (!sent.has(p.ptsMs)) sent.set(p.ptsMs, p.size);
  const stored = new Map<number, number>();
  for (const f of emu.fragments(streamName)) for (const fr of f.frames) stored.set(Math.round(fr.timecodeMs), fr.data.length);
  for (const t of captureMs.map(Math.round)) {
    assert.ok(sent.has(t), `the frame captured at ${t} never went over the wire`);
    assert.equal(sent.get(t), stored.get(t), `frame at ${t}: ${sent.get(t)} bytes sent, ${stored.get(t)} stored`);
  }
}
