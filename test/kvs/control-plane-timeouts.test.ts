// Issue 9, defect 6: a KVS control-plane endpoint that accepts the connection and never answers
// made startStreaming() hang for ever, and stopStreaming()/close() with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { KVSSkyLine } from '../../src/kvs/kvs-skyline.js';
import { listenOnLoopback } from '../support/ports.js';
import { captureLogger } from '../support/quiet.js';
import { TEST_KEY } from '../support/kvs/harness.js';
import { level } from '../support/frames.js';

/** A loopback server that accepts every connection, reads what comes and never answers. */
async function silentServer(): Promise<{ port: number; accepted: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.resume();
  });
  const port = await listenOnLoopback(server);
  return {
    port,
    accepted: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Settles like p, or rejects after ms saying what hung (a bound on the test, not a timing assertion). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

function skyline(port: number, extra: Record<string, unknown> = {}) {
  const log = captureLogger('debug');
  const sky = new KVSSkyLine({
    streamName: 'cam-1',
    region: 'us-west-2',
    credentials: TEST_KEY,
    endpoint: `http://127.0.0.1:${port}`,
    sink: 'putmedia',
    logger: log.logger,
    statsIntervalMs: 0,
    ...extra,
  });
  sky.on('error', () => undefined);
  return { sky, log };
}

test('an endpoint that never answers: startStreaming() rejects naming the endpoint, no secrets', async () => {
  const server = await silentServer();
  const { sky, log } = skyline(server.port, { networkTimeoutMs: 1000 });
  try {
    const err = await within(
      sky.startStreaming({ fps: 25, width: 320, height: 240 }).then(() => new Error('resolved'), (e: Error) => e),
      30_000,
      'startStreaming()',
    );
    assert.notEqual(err.message, 'resolved');
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${server.port}`), err.message);
    assert.match(err.message, /no answer|timed out/i, err.message);
    assert.ok(server.accepted() >= 1, 'the request reached the server');
    for (const s of [TEST_KEY.accessKeyId, TEST_KEY.secretAccessKey]) {
      assert.equal(err.message.includes(s), false);
      assert.equal(log.text().includes(s), false);
    }
    assert.equal(sky.state, 'error');
  } finally {
    await within(sky.close(), 10_000, 'close()');
    await server.close();
  }
});

test('stopStreaming() and close() return while a control-plane call hangs, and the start settles', async () => {
  const server = await silentServer();
  // A control-plane timeout of 10 minutes: stop and close return long before it, or the bounds
  // below (a minute, for a loaded machine) fail the test; no timing is asserted.
  const { sky } = skyline(server.port, { networkTimeoutMs: 600_000 });
  const start = sky.startStreaming({ fps: 25, width: 320, height: 240 }).then(() => 'resolved', (e: Error) => e.message);
  try {
    await within(
      (async () => {
        while (server.accepted() === 0) await new Promise((r) => setTimeout(r, 20));
      })(),
      10_000,
      'the first control-plane request',
    );
    await within(sky.stopStreaming(), 60_000, 'stopStreaming()');
    await within(sky.close(), 60_000, 'close()');
    // The start settles too: given up by the stop (resolved, nothing streaming) or failed.
    await within(start, 60_000, 'startStreaming()');
    assert.equal(sky.state, 'closed');
    assert.equal(sky.put(level(320, 240, 1)), false, 'nothing is accepted');
  } finally {
    await server.close();
  }
});

test('a credential provider that never answers fails startStreaming() instead of hanging it', async () => {
  const server = await silentServer();
  const { sky } = skyline(server.port, { networkTimeoutMs: 1000, credentials: () => new Promise(() => undefined) });
  try {
    const err = await within(
      sky.startStreaming({ fps: 25, width: 320, height: 240 }).then(() => new Error('resolved'), (e: Error) => e),
      30_000,
      'startStreaming()',
    );
    assert.match(err.message, /credential provider did not answer within 1000 ms|no answer from the KVS control-plane endpoint/, err.message);
  } finally {
    await within(sky.close(), 10_000, 'close()');
    await server.close();
  }
});
