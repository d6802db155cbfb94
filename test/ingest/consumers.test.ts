// The pieces behind the consumers: the iterator's bounded buffer (drops the oldest, counts them,
// or waits when lossless) and the one-connection loopback listener the decoders connect to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FrameChannel } from '../../src/ingest/frame-channel.js';
import { OneConnectionListener } from '../../src/ingest/loopback-listener.js';

test('FrameChannel: bounded, a slow consumer loses the oldest items, counted; end() after the items', async () => {
  const c = new FrameChannel<number>(3, false);
  for (let i = 0; i < 10; i++) c.push(i);
  assert.equal(c.dropped, 7);
  assert.equal(c.size, 3);
  c.end();
  const got: number[] = [];
  for (let r = await c.next(); !r.done; r = await c.next()) got.push(r.value);
  assert.deepEqual(got, [7, 8, 9]);
  // A waiting consumer gets the next item directly; an error ends its loop after the items.
  const d = new FrameChannel<number>(2, false);
  const pending = d.next();
  d.push(42);
  assert.deepEqual(await pending, { value: 42, done: false });
  d.push(1);
  d.end(new Error('stream lost'));
  assert.deepEqual(await d.next(), { value: 1, done: false });
  await assert.rejects(d.next(), /stream lost/);
});

test('FrameChannel: a lossless channel tells its owner when there is room', async () => {
  let space = 0;
  const c = new FrameChannel<number>(1, true, () => space++);
  c.push(1);
  assert.equal(c.full, true);
  await c.next();
  assert.ok(space >= 1);
});

test('OneConnectionListener: the first connection wins; the port is closed to any other', async () => {
  const l = new OneConnectionListener();
  const port = await l.listen();
  const first = net.connect(port, '127.0.0.1');
  const got = await l.connection(5000);
  assert.ok(got);
  const second = net.connect(port, '127.0.0.1');
  const refused = await new Promise<boolean>((resolve) => {
    second.once('connect', () => resolve(false));
    second.once('error', () => resolve(true));
  });
  assert.equal(refused, true, 'a second connection is refused');
  first.destroy();
  l.close();
  const none = new OneConnectionListener();
  await none.listen();
  assert.equal(await none.connection(50), undefined, 'nothing connected: undefined, listener closed');
});

test('FrameChannel: a lossless channel never drops, even past its capacity', () => {
  const c = new FrameChannel<number>(2, true);
  for (let i = 0; i < 5; i++) c.push(i);
  assert.equal(c.dropped, 0);
  assert.equal(c.size, 5);
});
