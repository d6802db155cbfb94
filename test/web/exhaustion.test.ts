// Connection exhaustion of the web preview: one host holding the server's connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebServer } from '../../src/index.js';
import { flood, settle } from '../support/flood.js';

test('256 silent sockets from one host: the server keeps at most maxConnectionsPerAddress of them and serves another host', async () => {
  const server = new WebServer({ port: 0 });
  server.mount('/live');
  try {
    await server.listen();
    const attack = await flood(server.port, 256);
    try {
      assert.ok(await settle(() => attack.closed + server.stats().connections === 256), `closed ${attack.closed}, held ${server.stats().connections}`);
      assert.equal(server.stats().connections, 32, 'default maxConnectionsPerAddress');
      const res = await fetch(server.url('/live'));
      assert.equal(res.status, 200, 'a real request from another address is served');
    } finally {
      attack.end();
    }
  } finally {
    await server.close();
  }
});
