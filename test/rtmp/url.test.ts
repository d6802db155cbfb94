import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { maskSecrets, parseRtmpUrl, rtmpTarget, RtmpUrlError } from '../../src/rtmp/url.js';

describe('parseRtmpUrl', () => {
  it('splits a Chrysalis ingest URL into host, default port, app and stream key', () => {
    const t = parseRtmpUrl('rtmp://relay.example.com/live/s3cr3t-KEY');
    assert.equal(t.scheme, 'rtmp');
    assert.equal(t.host, 'relay.example.com');
    assert.equal(t.port, 1935);
    assert.equal(t.app, 'live');
    assert.equal(t.streamKey, 's3cr3t-KEY');
    assert.equal(t.url, 'rtmp://relay.example.com:1935/live/s3cr3t-KEY');
    assert.equal(t.masked, 'rtmp://relay.example.com:1935/live/****');
    assert.deepEqual(t.secrets, ['s3cr3t-KEY']);
  });

  it('keeps an explicit port, a multi-segment app and a query string as part of the key', () => {
    const t = parseRtmpUrl('rtmps://live-api.example.com:8443/rtmp/eu/KEY123?s_bl=1&a=Zx');
    assert.equal(t.scheme, 'rtmps');
    assert.equal(t.port, 8443);
    assert.equal(t.app, 'rtmp/eu');
    assert.equal(t.streamKey, 'KEY123?s_bl=1&a=Zx');
    assert.equal(t.masked, 'rtmps://live-api.example.com:8443/rtmp/eu/****');
    assert.ok(!t.masked.includes('KEY123'));
  });

  it('defaults rtmps to port 443 and accepts IPv6 literals and an upper-case scheme', () => {
    assert.equal(parseRtmpUrl('rtmps://ingest.example.com/app/k').port, 443);
    const v6 = parseRtmpUrl('RTMP://[::1]:1940/live/k');
    assert.equal(v6.scheme, 'rtmp');
    assert.equal(v6.host, '[::1]');
    assert.equal(v6.url, 'rtmp://[::1]:1940/live/k');
  });

  it('keeps the key byte for byte (no re-encoding) and ignores a trailing slash', () => {
    const t = parseRtmpUrl('rtmp://h/live/a%20b~c/');
    assert.equal(t.streamKey, 'a%20b~c');
    assert.equal(t.url, 'rtmp://h:1935/live/a%20b~c');
  });

  it('treats a URL password as a secret too', () => {
    const t = parseRtmpUrl('rtmp://bob:hunter2@h:1935/live/KEYX');
    assert.equal(t.username, 'bob');
    assert.equal(t.password, 'hunter2');
    assert.equal(t.masked, 'rtmp://bob:****@h:1935/live/****');
    assert.deepEqual([...t.secrets].sort(), ['KEYX', 'hunter2']);
  });

  it('shows neither key nor password when the target is serialized or inspected', () => {
    const t = parseRtmpUrl('rtmp://bob:hunter2@h:1935/live/KEYX-secret');
    for (const text of [JSON.stringify(t), inspect(t, { depth: 5 })]) {
      assert.ok(text.includes('rtmp://bob:****@h:1935/live/****'), text);
      assert.ok(!text.includes('KEYX-secret') && !text.includes('hunter2'), text);
    }
  });

  it('rejects bad URLs without quoting the key', () => {
    const bad = [
      'http://h/live/TOPSECRET',
      'rtmp://h/TOPSECRET',
      'rtmp://h',
      'rtmp:/h/live/TOPSECRET',
      'rtmp://h:99999/live/TOPSECRET',
      'rtmp://h/live/TOPSECRET#frag',
      'not a url TOPSECRET',
    ];
    for (const url of bad) {
      assert.throws(
        () => parseRtmpUrl(url),
        (err: unknown) => err instanceof RtmpUrlError && !err.message.includes('TOPSECRET'),
        url,
      );
    }
    assert.throws(() => parseRtmpUrl('rtmp://h/TOPSECRET'), /needs an application and a stream key/);
    assert.throws(() => parseRtmpUrl('http://h/live/x'), /unsupported URL scheme "http:"/);
  });
});

describe('rtmpTarget', () => {
  it('builds from parts with defaults port 1935 and app live', () => {
    const t = rtmpTarget({ host: '10.0.0.5', streamKey: 'abc' });
    assert.equal(t.url, 'rtmp://10.0.0.5:1935/live/abc');
    assert.equal(t.masked, 'rtmp://10.0.0.5:1935/live/****');
    const s = rtmpTarget({ host: 'h', port: 4443, app: '/app2/', streamKey: 'k?x=1', scheme: 'rtmps' });
    assert.equal(s.url, 'rtmps://h:4443/app2/k?x=1');
    assert.equal(rtmpTarget({ host: 'h', streamKey: 'k', scheme: 'rtmps' }).port, 443);
  });

  it('uses url when given', () => {
    assert.equal(rtmpTarget({ url: 'rtmp://a/b/c', host: 'ignored' }).host, 'a');
  });

  it('rejects missing or malformed parts without quoting the key', () => {
    const cases = [
      {},
      { host: 'h' },
      { host: 'h', streamKey: '' },
      { host: 'rtmp://h', streamKey: 'TOPSECRET' },
      { host: 'h:1935', streamKey: 'TOPSECRET' },
      { host: 'h', port: 0, streamKey: 'TOPSECRET' },
      { host: 'h', port: 1.5, streamKey: 'TOPSECRET' },
      { host: 'h', app: '', streamKey: 'TOPSECRET' },
      { host: 'h', streamKey: 'TOP/SECRET' },
    ];
    for (const c of cases) {
      assert.throws(
        () => rtmpTarget(c),
        (err: unknown) => err instanceof RtmpUrlError && !/TOP.?SECRET/.test(err.message),
        JSON.stringify(c),
      );
    }
  });
});

describe('maskSecrets', () => {
  it('replaces the URL by its masked form and any stray key or password', () => {
    const t = parseRtmpUrl('rtmp://u:pw99@h/live/KEY42');
    const text = `Could not open ${t.url}; stream 'KEY42' refused for u:pw99`;
    assert.equal(maskSecrets(text, t), "Could not open rtmp://u:****@h:1935/live/****; stream '****' refused for u:****");
  });

  it('masks a short key too, in the URL and in free text: what is known to be a secret is one', () => {
    const t = parseRtmpUrl('rtmp://h/live/abc');
    assert.equal(maskSecrets(`open ${t.url}: abc`, t), 'open rtmp://h:1935/live/****: ****');
  });

  it('a key before a trailing slash or in the query is masked, and so is the query value alone', () => {
    const slash = parseRtmpUrl('rtmp://h/live/slashKey42/');
    assert.equal(slash.masked, 'rtmp://h:1935/live/****');
    assert.equal(maskSecrets('refused slashKey42', slash), 'refused ****');
    const query = parseRtmpUrl('rtmp://h/live/stream?key=queryKey42');
    assert.equal(query.masked, 'rtmp://h:1935/live/****');
    assert.equal(maskSecrets('bad key queryKey42', query), 'bad key ****');
  });

  it('masks a longer secret whole when a shorter one is part of it', () => {
    const t = parseRtmpUrl('rtmp://u:pass@h/live/pass-and-more');
    assert.equal(maskSecrets('key pass-and-more, then pass', t), 'key ****, then ****');
  });
});
