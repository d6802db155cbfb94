// Issue 9, defect 5, as users met it: the RTSP server logs through a child of the SkyLine's
// logger, and that child escaped the scrubbing, so the viewer password showed in clear.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RTSPSkyLine } from '../../src/index.js';
import { captureLogger } from '../support/quiet.js';
import { waitFor } from '../support/wait.js';

const PASSWORD = 'pw-7f3a9c2e51d4';

test('what the RTSP server logs never shows the viewer password, wherever a client puts it', async () => {
  const log = captureLogger('trace');
  const sky = new RTSPSkyLine({ port: 0, logger: log.logger, auth: { username: 'viewer', password: PASSWORD }, statsIntervalMs: 0 });
  sky.on('error', () => undefined);
  try {
    await sky.startStreaming({ fps: 10, width: 160, height: 120 });
    const port = sky.server.port;
    // A client that puts the password in the path and in a header: the server logs the request.
    const sock = net.connect(port, '127.0.0.1');
    let reply = '';
    sock.on('data', (d) => (reply += d.toString('latin1')));
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(`DESCRIBE rtsp://127.0.0.1:${port}/live/${PASSWORD} RTSP/1.0\r\nCSeq: 1\r\nX-Note: ${PASSWORD}\r\n\r\n`);
    await waitFor(() => reply.includes('\r\n\r\n'), 10_000, 'the DESCRIBE reply');
    sock.destroy();
    await waitFor(() => /"msg":"request"/.test(log.text()), 10_000, 'the server to log the request');
    assert.match(log.text(), /"component":"rtsp-server"/, 'the line came from the server\'s child logger');
    assert.equal(log.text().includes(PASSWORD), false, log.text());
  } finally {
    await sky.close();
  }
});
