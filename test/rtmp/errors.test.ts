/**
 * Error classification against texts GStreamer 1.22 really posted here
 * (rtmp2sink and rtmpsink against nginx-rtmp, a closed port, a silent port).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GstError } from '../../src/gst/pipeline.js';
import { connectTimeoutError, explainRtmpError, type RtmpErrorCode } from '../../src/rtmp/errors.js';
import { parseRtmpStats } from '../../src/rtmp/sink-stats.js';
import { parseRtmpUrl } from '../../src/rtmp/url.js';

const target = parseRtmpUrl('rtmp://relay.example.com:1935/live/KEY-abcdef123');
const DEBUG_2SINK = '../gst/rtmp2/gstrtmp2sink.c(1117): send_connect_error (): /GstPipeline:pipeline0/GstRtmp2Sink:rtmpsink:\ndomain g-io-error-quark, code 0';

function classify(message: string, published = false, debug = DEBUG_2SINK) {
  return explainRtmpError(new GstError(message, 'rtmpsink', debug), target, { published });
}

describe('explainRtmpError', () => {
  const cases: Array<[string, boolean, RtmpErrorCode, RegExp]> = [
    ["Failed to connect: 'publish' cmd failed: connection closed remotely", false, 'RTMP_PUBLISH_REJECTED', /refused the publish to rtmp:\/\/relay\.example\.com:1935\/live\/\*\*\*\*/],
    ['Failed to connect: publish denied: { "code": "NetStream.Publish.Denied" }', false, 'RTMP_PUBLISH_REJECTED', /stream key not accepted/],
    ["Failed to connect: 'connect' cmd failed: connection closed remotely", false, 'RTMP_APP_REJECTED', /refused the connection to app "live"/],
    ["Failed to connect: 'connect' cmd returned 'NetConnection.Connect.Rejected'", false, 'RTMP_APP_REJECTED', /wrong app name/],
    ['Connection refused: Could not connect to relay.example.com: Connection refused', false, 'RTMP_CONNECTION_REFUSED', /nothing accepts connections at relay\.example\.com:1935/],
    ['Connection error: connection closed remotely', true, 'RTMP_CONNECTION_LOST', /connection to the RTMP relay at .* was lost/],
    ['Connection error: connection closed remotely', false, 'RTMP_PUBLISH_REJECTED', /closed the connection right after the publish/],
    ['Failed to connect: connection closed remotely', false, 'RTMP_CONNECTION_LOST', /during the RTMP handshake/],
    ['Failed to connect: Short read (want 3073 have 103)', false, 'RTMP_HANDSHAKE_FAILED', /does not speak RTMP/],
    ['Failed to connect: Error resolving “relay.example.com”: Name or service not known', false, 'RTMP_HOST_NOT_FOUND', /cannot resolve the RTMP relay host "relay\.example\.com"/],
    ['Failed to connect: Socket I/O timed out', false, 'RTMP_CONNECT_TIMEOUT', /no answer from the RTMP relay/],
    ['Connection error: Socket I/O timed out', true, 'RTMP_CONNECTION_LOST', /stopped taking data/],
    ['Failed to connect: Unacceptable TLS certificate', false, 'RTMP_TLS_ERROR', /TLS with the RTMP relay/],
    ['Something new', false, 'RTMP_ERROR', /RTMP publish to rtmp:\/\/relay\.example\.com:1935\/live\/\*\*\*\* failed/],
  ];
  for (const [message, published, code, text] of cases) {
    it(`${code}: ${message.slice(0, 60)}${published ? ' (after publishing)' : ''}`, () => {
      const e = classify(message, published);
      assert.equal(e.code, code);
      assert.match(e.message, text);
      assert.ok(e.message.includes(message), 'the GStreamer text is kept for diagnosis');
      assert.equal(e.element, 'rtmpsink');
    });
  }

  it('masks the location that librtmp quotes in its errors', () => {
    const e = classify('Could not open resource for writing.', false,
      '../ext/rtmp/gstrtmpsink.c(296): gst_rtmp_sink_render (): /GstPipeline:pipeline0/GstRTMPSink:rtmpsink:\nCould not connect to RTMP stream "rtmp://relay.example.com:1935/live/KEY-abcdef123" for writing');
    assert.ok(!e.message.includes('KEY-abcdef123'));
    assert.ok(!e.debug!.includes('KEY-abcdef123'));
    assert.match(e.debug!, /"rtmp:\/\/relay\.example\.com:1935\/live\/\*\*\*\*"/);
  });

  it('masks a key quoted alone', () => {
    const e = classify("'publish' cmd failed for stream 'KEY-abcdef123'");
    assert.ok(!e.message.includes('KEY-abcdef123'));
  });

  it('makes its own timeout error', () => {
    const e = connectTimeoutError(target, 2500, 'rtmpsink');
    assert.equal(e.code, 'RTMP_CONNECT_TIMEOUT');
    assert.match(e.message, /within 2\.5 s/);
    assert.ok(!e.message.includes('KEY-abcdef123'));
  });
});

describe('parseRtmpStats', () => {
  it('reads a live connection', () => {
    const s = parseRtmpStats('GstRtmpConnectionStats, in-chunk-size=(uint)4096, out-chunk-size=(uint)128, in-window-ack-size=(uint)5000000, out-window-ack-size=(uint)5000000, in-bytes-total=(guint64)409, out-bytes-total=(guint64)24239, in-bytes-acked=(guint64)0, out-bytes-acked=(guint64)0;');
    assert.deepEqual(s, { connected: true, outBytesTotal: 24239, outBytesAcked: 0, inBytesTotal: 409, outChunkSize: 128 });
  });

  it('reads the all-zero stats of no connection', () => {
    const s = parseRtmpStats('GstRtmpConnectionStats, in-chunk-size=(uint)0, out-chunk-size=(uint)0, in-window-ack-size=(uint)0, out-window-ack-size=(uint)0, in-bytes-total=(guint64)0, out-bytes-total=(guint64)0, in-bytes-acked=(guint64)0, out-bytes-acked=(guint64)0;');
    assert.equal(s?.connected, false);
    assert.equal(s?.outBytesTotal, 0);
  });

  it('refuses anything else', () => {
    assert.equal(parseRtmpStats(undefined), undefined);
    assert.equal(parseRtmpStats(null), undefined);
    assert.equal(parseRtmpStats('application/x-rtp, media=(string)video'), undefined);
  });
});
