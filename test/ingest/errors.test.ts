// GStreamer's error texts classified into LiveSource's codes. The texts carry the URL, and
// a port number may hold a status code's digits: only the status itself may decide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classifyGstError } from '../../src/ingest/errors.js';

// souphttpsrc's own wording, as GStreamer 1.22 posts it.
const notFound = (port: number) => `Not Found (Not Found (404), URL: http://127.0.0.1:${port}/missing.m3u8, Redirect to: (NULL))`;
const unauthorized = (port: number) => `Unauthorized (Unauthorized (401), URL: http://127.0.0.1:${port}/private.m3u8, Redirect to: (NULL))`;

test('HTTP 404 and 401 from souphttpsrc are NOT_FOUND and UNAUTHORIZED, whatever digits the port has', () => {
  // 40351 holds "403": it once made a 404 read as UNAUTHORIZED.
  assert.equal(classifyGstError(notFound(40351)).code, 'NOT_FOUND');
  assert.equal(classifyGstError(notFound(34011)).code, 'NOT_FOUND');
  assert.equal(classifyGstError(unauthorized(40412)).code, 'UNAUTHORIZED');
  fc.assert(
    fc.property(fc.integer({ min: 1024, max: 65535 }), (port) =>
      classifyGstError(notFound(port)).code === 'NOT_FOUND' && classifyGstError(unauthorized(port)).code === 'UNAUTHORIZED'),
    { numRuns: 500 },
  );
});

test('connection refused is UNREACHABLE; a text file is NOT_A_STREAM', () => {
  assert.equal(classifyGstError('Could not connect to server. (Error connecting to 127.0.0.1: Connection refused)').code, 'UNREACHABLE');
  assert.equal(classifyGstError('Could not determine type of stream.').code, 'NOT_A_STREAM');
});
