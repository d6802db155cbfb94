import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckParser } from '../../src/kvs/acks.js';
import { ackError, httpErrorRemedy } from '../../src/kvs/errors.js';

test('ack stream: concatenated JSON objects, split anywhere, with or without whitespace', () => {
  const text =
    '{"EventType":"BUFFERING","FragmentTimecode":1000,"FragmentNumber":"91343852333181432392682062607743920146264203547"}' +
    '{"EventType":"RECEIVED","FragmentTimecode":1000,"FragmentNumber":"9134"}\n' +
    '  {"EventType":"PERSISTED","FragmentTimecode":1000,"FragmentNumber":"9134"}\r\n' +
    '{"EventType":"ERROR","FragmentTimecode":3000,"FragmentNumber":"9135","ErrorId":5000,"ErrorCode":"INTERNAL_ERROR {\\"x\\"}"}' +
    '{"EventType":"IDLE"}';
  for (const step of [1, 3, 7, 50, text.length]) {
    const p = new AckParser();
    const acks = [];
    for (let i = 0; i < text.length; i += step) acks.push(...p.push(text.slice(i, i + step)));
    assert.deepEqual(acks.map((a) => a.EventType), ['BUFFERING', 'RECEIVED', 'PERSISTED', 'ERROR', 'IDLE'], `step ${step}`);
    assert.equal(acks[0]!.FragmentNumber, '91343852333181432392682062607743920146264203547', 'fragment numbers stay strings');
    assert.equal(acks[2]!.FragmentTimecode, 1000);
    assert.equal(acks[3]!.ErrorId, 5000);
    assert.equal(acks[3]!.ErrorCode, 'INTERNAL_ERROR {"x"}');
  }
});

test('ack stream: garbage is an error, not silently skipped', () => {
  assert.throws(() => new AckParser().push('<html>'));
  assert.throws(() => new AckParser().push('{"EventType":"NOPE"}'));
  assert.throws(() => new AckParser().push('}'));
});

test('ErrorIds map to what a producer must do', () => {
  assert.equal(ackError(5000).remedy, 'retry');
  assert.equal(ackError(5001).remedy, 'retry');
  assert.equal(ackError(4003).remedy, 'reconnect');
  assert.equal(ackError(4008).remedy, 'fatal');
  assert.equal(ackError(4500).remedy, 'fatal');
  for (const id of [4002, 4004, 4006]) assert.equal(ackError(id).remedy, 'drop');
  assert.equal(ackError(4999, 'NEW_THING').code, 'NEW_THING');
  assert.equal(ackError(5999).remedy, 'retry');
});

test('HTTP error types map to retry, throttle, auth, endpoint or fatal', () => {
  assert.equal(httpErrorRemedy('ClientLimitExceededException', 400), 'throttle');
  assert.equal(httpErrorRemedy('ConnectionLimitExceededException', 400), 'throttle');
  assert.equal(httpErrorRemedy('InvalidEndpointException', 400), 'endpoint');
  assert.equal(httpErrorRemedy('ExpiredTokenException', 403), 'auth');
  assert.equal(httpErrorRemedy('NotAuthorizedException', 401), 'auth');
  assert.equal(httpErrorRemedy('ResourceNotFoundException', 404), 'fatal');
  assert.equal(httpErrorRemedy(undefined, 503), 'retry');
  assert.equal(httpErrorRemedy(undefined, 403), 'auth');
});
