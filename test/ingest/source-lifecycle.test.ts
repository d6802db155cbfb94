// LiveSource's transition table: the moves a source makes are allowed, the others are bugs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSourceTransition, SOURCE_TRANSITIONS } from '../../src/ingest/source-lifecycle.js';
import type { LiveSourceState } from '../../src/index.js';

const cases: Array<[from: LiveSourceState, to: LiveSourceState, allowed: boolean]> = [
  ['stopped', 'connecting', true],
  ['connecting', 'streaming', true],
  ['streaming', 'reconnecting', true],
  ['reconnecting', 'streaming', true],
  ['streaming', 'ended', true],
  ['ended', 'connecting', true],
  ['error', 'connecting', true],
  ['streaming', 'closed', true],
  ['stopped', 'streaming', false],
  ['stopped', 'reconnecting', false],
  ['ended', 'streaming', false],
  ['error', 'streaming', false],
  ['closed', 'connecting', false],
  ['closed', 'stopped', false],
];

test('LiveSource transitions: allowed moves pass, the others throw as bugs', () => {
  for (const [from, to, allowed] of cases) {
    if (allowed) assert.doesNotThrow(() => checkSourceTransition(from, to), `${from} -> ${to}`);
    else assert.throws(() => checkSourceTransition(from, to), /gst-skyline bug: no LiveSource transition/, `${from} -> ${to}`);
  }
  assert.deepEqual(SOURCE_TRANSITIONS.closed, [], 'closed is for good');
});
