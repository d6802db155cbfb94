/** Wiring for producer tests: emulator, control plane, credentials and a producer with test-speed backoff. */
import type { AccessUnit } from '../../../src/h264/access-unit.js';
import { ControlPlane } from '../../../src/kvs/control-plane.js';
import { CredentialSource, type CredentialsOption } from '../../../src/kvs/credentials.js';
import { PutMediaProducer, type ProducerOptions } from '../../../src/kvs/producer.js';
import { KvsEmulator, type EmulatorOptions } from '../kvs-emulator.js';

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
