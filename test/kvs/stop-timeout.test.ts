// stopStreaming() and close() return after stopTimeoutMs whatever KVS does: here the service
// receives every fragment and acknowledges its persistence only after 10 minutes. Issue 9, defect 11.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KVSSkyLine } from '../../src/kvs/kvs-skyline.js';
import { solid } from '../support/frames.js';
import { startEmulator, TEST_KEY } from '../support/kvs/harness.js';
import { captureLogger } from '../support/quiet.js';
import { waitFor } from '../support/wait.js';

const STOP_TIMEOUT_MS = 2000;
/**
 * A bound on the test, not a timing assertion: the acks come after 10 minutes, so a stop that
 * waited for them fails here, while a loaded machine has a minute for the stop's own work.
 */
const BOUND_MS = 60_000;

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

for (const call of ['stopStreaming', 'close'] as const) {
  test(`${call}() returns within stopTimeoutMs while KVS holds its PERSISTED acks`, async () => {
    const emu = await startEmulator({ persistDelayMs: 600_000 });
    const sky = new KVSSkyLine({
      streamName: 'cam-1',
      region: emu.region,
      credentials: TEST_KEY,
      endpoint: emu.endpoint,
      sink: 'putmedia',
      keyframeInterval: 10,
      fragmentSeconds: 1,
      stopTimeoutMs: STOP_TIMEOUT_MS,
      statsIntervalMs: 0,
      logger: captureLogger('error').logger,
    });
    sky.on('error', () => undefined);
    try {
      await sky.startStreaming({ fps: 25, width: 160, height: 120 });
      const t0 = Date.now();
      for (let i = 0; i < 50; i++) assert.equal(await sky.putAsync(solid(160, 120, [i * 5, 0, 0]), { timestamp: t0 + i * 40 }), true);
      await waitFor(() => sky.stats().bytesOut > 0, 10_000, 'video to reach the service');
      await within(sky[call](), BOUND_MS, `${call}()`);
      assert.equal(emu.fragments('cam-1').length, 0, 'nothing was persisted: the stop did not wait for it');
    } finally {
      await sky.close();
      await emu.close();
    }
  });
}
