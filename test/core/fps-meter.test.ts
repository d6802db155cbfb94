import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FpsMeter, fpsFraction } from '../../src/fps.js';

test('FpsMeter measures the mean rate of capture timestamps', () => {
  const m = new FpsMeter(100);
  for (let i = 0; i < 100; i++) m.add(1_000_000 + (i * 1000) / 30);
  assert.equal(m.done, true);
  assert.ok(Math.abs(m.fps - 30) < 0.001, `got ${m.fps}`);
});

test('FpsMeter keeps fractional rates', () => {
  const m = new FpsMeter(301);
  for (let i = 0; i < 301; i++) m.add((i * 1001) / 30);
  assert.ok(Math.abs(m.fps - 29.97) < 0.001, `got ${m.fps}`);
});

test('FpsMeter is NaN before two samples and when time stands still', () => {
  const m = new FpsMeter(10);
  assert.ok(Number.isNaN(m.fps));
  m.add(5);
  assert.ok(Number.isNaN(m.fps));
  m.add(5);
  assert.ok(Number.isNaN(m.fps));
  assert.equal(m.done, false);
});

test('fpsFraction gives the simplest GStreamer fraction', () => {
  assert.equal(fpsFraction(30), '30/1');
  assert.equal(fpsFraction(15), '15/1');
  assert.equal(fpsFraction(29.97), '30000/1001');
  assert.equal(fpsFraction(59.94), '60000/1001');
  assert.equal(fpsFraction(12.5), '25/2');
  assert.equal(fpsFraction(7.3333), '22/3');
  assert.throws(() => fpsFraction(0), RangeError);
  assert.throws(() => fpsFraction(Number.NaN), RangeError);
});
