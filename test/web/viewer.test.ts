// The per-viewer delivery policy through a stub socket (the narrow part of ws it uses):
// join on a keyframe, skip to the next keyframe when the backlog is over the limit, ask for a
// keyframe once caught up (not more than every 5 s), and give up after the stall timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WebSocket } from 'ws';
import { Viewer } from '../../src/web/viewer.js';

function stubSocket() {
  const sent: Buffer[] = [];
  const ws = { OPEN: 1, readyState: 1, bufferedAmount: 0, send: (m: Buffer) => void sent.push(m) };
  return { ws, sent };
}

const LIMITS = { maxBacklogBytes: 1000, stallTimeoutMs: 3000 };
const msg = (tag: string) => () => Buffer.from(tag);

test('a joining viewer starts on a keyframe; what comes before is waited for, not counted as skipped', () => {
  const { ws, sent } = stubSocket();
  const v = new Viewer(ws as unknown as WebSocket, 'webcodecs', LIMITS);
  assert.equal(v.deliver(false, msg('p1'), undefined, 0), 'waiting');
  assert.equal(v.deliver(true, msg('k2'), msg('init'), 33), 'sent');
  assert.equal(v.deliver(false, msg('p3'), undefined, 66), 'sent');
  assert.deepEqual(sent.map(String), ['init', 'k2', 'p3']);
  assert.equal(v.skipped, 0);
});

test('over the backlog: skip up to the next keyframe, ask for one once caught up, cut off only after the stall timeout', () => {
  const { ws, sent } = stubSocket();
  const v = new Viewer(ws as unknown as WebSocket, 'webcodecs', LIMITS);
  v.deliver(true, msg('k0'), undefined, 0);
  ws.bufferedAmount = 5000;
  assert.equal(v.deliver(false, msg('p1'), undefined, 100), 'skipped');
  assert.equal(v.deliver(true, msg('k2'), undefined, 2000), 'skipped', 'even a keyframe waits while the socket is backed up');
  ws.bufferedAmount = 0;
  assert.equal(v.deliver(false, msg('p3'), undefined, 2100), 'recovered', 'caught up: ask for a keyframe');
  assert.equal(v.deliver(false, msg('p4'), undefined, 2200), 'skipped', 'asked once');
  assert.equal(v.deliver(true, msg('k5'), undefined, 2300), 'sent');
  assert.equal(v.skipped, 4);
  // Behind again soon after: skipped, but no second request within 5 s.
  ws.bufferedAmount = 5000;
  v.deliver(false, msg('p6'), undefined, 2400);
  ws.bufferedAmount = 0;
  assert.equal(v.deliver(false, msg('p7'), undefined, 2500), 'skipped');
  assert.equal(v.deliver(false, msg('p8'), undefined, 7200), 'recovered');
  // Staying over the limit: the stall clock starts when it went over, not at the first fall.
  ws.bufferedAmount = 5000;
  assert.equal(v.deliver(false, msg('p9'), undefined, 8000), 'skipped');
  assert.equal(v.deliver(false, msg('p10'), undefined, 10_900), 'skipped');
  assert.equal(v.deliver(false, msg('p11'), undefined, 11_001), 'stalled');
  assert.deepEqual(sent.map(String), ['k0', 'k5']);
});

test('a closed socket is never written to; text beyond the backlog is dropped unless forced', () => {
  const { ws, sent } = stubSocket();
  const v = new Viewer(ws as unknown as WebSocket, 'mse', LIMITS);
  ws.bufferedAmount = 5000;
  v.sendText('stats');
  v.sendText('config', true);
  ws.readyState = 3;
  assert.equal(v.deliver(true, msg('k'), undefined, 0), 'skipped');
  v.sendText('late', true);
  assert.deepEqual(sent.map(String), ['config']);
});

test('a page that asks for a keyframe gets nothing until one comes; the encoder is asked at most every 5 s', () => {
  const { ws, sent } = stubSocket();
  const v = new Viewer(ws as unknown as WebSocket, 'webcodecs', LIMITS);
  v.deliver(true, msg('k0'), undefined, 0);
  v.deliver(false, msg('p1'), undefined, 100);
  assert.equal(v.wantsKeyframe(200), true, 'the first request goes to the encoder');
  assert.equal(v.wantsKeyframe(300), false, 'a second one soon after does not');
  assert.equal(v.deliver(false, msg('p2'), undefined, 400), 'skipped', 'no picture the page would drop');
  assert.equal(v.deliver(false, msg('p3'), undefined, 5300), 'recovered', 'still none after 5 s: ask again');
  assert.equal(v.deliver(true, msg('k4'), undefined, 5400), 'sent');
  assert.deepEqual(sent.map(String), ['k0', 'p1', 'k4']);
});
