/**
 * The nginx-rtmp test harness itself: a publish goes through and reads back,
 * the relay restarts on the same port, refused publishes are refused, and
 * nothing is left behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { NginxRtmp } from '../support/nginx-rtmp.js';
import { readFrames } from './read-back.js';
import { requireTool } from '../support/require-tool.js';

/** Publish a test pattern with ffmpeg for `seconds`; resolves with ffmpeg's exit code and stderr. */
function ffmpegPublish(url: string, seconds: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const ff = spawn(
      'ffmpeg',
      ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `testsrc=size=160x120:rate=25`,
        '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25',
        '-f', 'flv', url],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    ff.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    const timer = setTimeout(() => ff.kill('SIGKILL'), (seconds + 10) * 1000);
    ff.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('nginx-rtmp harness', { skip: requireTool('nginx with the RTMP module', NginxRtmp.available(), 'apt-get install nginx libnginx-mod-rtmp') }, () => {
  const relays: NginxRtmp[] = [];
  after(async () => {
    for (const r of relays) await r.dispose();
  });

  it('relays a publish to a player, restarts on the same port, and cleans up', async () => {
    const relay = await NginxRtmp.start();
    relays.push(relay);
    assert.ok(await portOpen(relay.port));

    const publishing = ffmpegPublish(relay.url('harness'), 4);
    const frames = await readFrames(relay.url('harness'), 10, 8000);
    assert.equal(frames.length, 10);
    assert.equal(frames[0].width, 160);
    assert.equal(frames[0].height, 120);
    assert.equal((await publishing).code, 0);

    await relay.kill();
    assert.equal(relay.running, false);
    assert.equal(await portOpen(relay.port), false);
    await relay.restart();
    assert.ok(await portOpen(relay.port));

    const dir = relay.dir;
    await relay.dispose();
    assert.equal(existsSync(dir), false);
    assert.equal(await portOpen(relay.port), false);
  });

  it('refuses publishes by key through on_publish and by app through deny', async () => {
    const relay = await NginxRtmp.start({
      apps: { live: { publish: (key) => key === 'good' }, closed: { publish: 'none' } },
    });
    relays.push(relay);
    const refused = await ffmpegPublish(relay.url('bad'), 1);
    assert.notEqual(refused.code, 0);
    const accepted = await ffmpegPublish(relay.url('good'), 1);
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.deepEqual(relay.publishAttempts, [
      { app: 'live', streamKey: 'bad', allowed: false },
      { app: 'live', streamKey: 'good', allowed: true },
    ]);
    const denied = await ffmpegPublish(relay.url('any', 'closed'), 1);
    assert.notEqual(denied.code, 0);
    assert.match(await relay.errorLog(), /access forbidden by rule/);
  });
});
