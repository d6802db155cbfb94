/**
 * The preview page and the index, as HTML strings (no files to ship or find at run time).
 * The page's script (PAGE_SCRIPT) is plain browser JavaScript: WebCodecs VideoDecoder onto a
 * canvas where the page is a secure context, else Media Source Extensions on a <video>;
 * ?mode=webcodecs|mse forces one. It reconnects by itself, and reports latency as display
 * time minus capture time (server clock, offset measured by ping).
 * Every shown picture is announced as a `skyline-frame` event on window
 * ({ source: canvas or video, captureMs, latencyMs, receivedAt }) for overlays and measurement.
 */

export interface PageOptions {
  path: string;
  name: string;
  auth: 'none' | 'basic' | 'bearer';
}

export interface IndexEntry {
  path: string;
  name: string;
  viewers: number;
  locked: boolean;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

const STYLE = `
  html, body { margin: 0; height: 100%; background: #111; color: #ddd; font: 14px/1.4 system-ui, sans-serif; }
  body { display: flex; flex-direction: column; }
  header { display: flex; flex-wrap: wrap; gap: 4px 18px; align-items: baseline; padding: 8px 12px; background: #1c1c1c; }
  header h1 { font-size: 16px; margin: 0; color: #fff; }
  header span b { color: #fff; font-weight: 600; }
  #state { padding: 1px 8px; border-radius: 9px; background: #444; }
  #state[data-state=playing] { background: #1e6b34; }
  #state[data-state=connecting], #state[data-state=reconnecting], #state[data-state=waiting] { background: #7a5b12; }
  #state[data-state=unauthorized], #state[data-state=error] { background: #8a1f1f; }
  main { flex: 1; min-height: 0; display: flex; align-items: center; justify-content: center; }
  canvas, video { max-width: 100%; max-height: 100%; object-fit: contain; background: #000; }
  form { display: none; gap: 6px; padding: 8px 12px; }
  a { color: #8cf; }
`;

export function renderPage(o: PageOptions): string {
  const cfg = { path: o.path, name: o.name, auth: o.auth };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(o.name)} · gst-skyline</title><style>${STYLE}</style></head>
<body>
<header>
  <h1 id="name">${escapeHtml(o.name)}</h1>
  <span id="state" data-state="connecting">connecting</span>
  <span>size <b id="size">–</b></span>
  <span>fps <b id="fps">–</b></span>
  <span>bitrate <b id="kbps">–</b></span>
  <span>viewers <b id="viewers">–</b></span>
  <span>latency <b id="latency">–</b></span>
  <span>via <b id="mode">–</b></span>
</header>
<form id="login"><input id="token" type="password" placeholder="access token" autocomplete="off"><button>Watch</button></form>
<main id="stage"></main>
<script id="skyline-config" type="application/json">${scriptJson(cfg)}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}

export function renderIndex(streams: IndexEntry[]): string {
  const rows = streams.length === 0
    ? '<p>No streams yet.</p>'
    : `<ul>${streams.map((s) => `<li><a href="${escapeHtml(s.path)}">${escapeHtml(s.name)}</a> <small>${escapeHtml(s.path)} · ${s.viewers} watching${s.locked ? ' · password' : ''}</small></li>`).join('')}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gst-skyline streams</title><style>${STYLE} body { padding: 12px 20px; display: block; }</style></head>
<body><h1>Streams</h1>${rows}</body></html>
`;
}

/** The page's script. Plain ES2020 for browsers; kept free of template-literal syntax. */
export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('skyline-config').textContent);
  var params = new URLSearchParams(location.search);
  var forced = params.get('mode');
  var canWebCodecs = typeof VideoDecoder === 'function' && window.isSecureContext;
  // WebCodecs needs a secure context: over plain http to a LAN address only MSE is there.
  var mode = forced === 'mse' || (forced === 'webcodecs' && canWebCodecs) ? forced : (canWebCodecs ? 'webcodecs' : 'mse');
  var $ = function (id) { return document.getElementById(id); };
  var stage = $('stage');
  var status = { state: 'connecting', mode: mode, framesShown: 0, framesDecoded: 0, latencyMs: null, config: null, connects: 0, error: null };
  window.skyline = status;
  $('mode').textContent = mode === 'webcodecs' ? 'WebCodecs' : 'MSE';

  // Token from the URL fragment (never sent to a server), kept for this tab only.
  var tokenKey = 'skyline-token:' + cfg.path;
  var hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get('token')) {
    try { sessionStorage.setItem(tokenKey, hash.get('token')); } catch (e) {}
    history.replaceState(null, '', location.pathname + location.search);
  }
  function token() { try { return sessionStorage.getItem(tokenKey); } catch (e) { return null; } }

  function setState(s, detail) {
    status.state = s;
    var el = $('state');
    el.dataset.state = s;
    el.textContent = detail ? s + ': ' + detail : s;
  }

  // ---- clock offset: server time minus ours, from the ping with the shortest round trip
  var offset = 0, bestRtt = Infinity;
  function serverNow() { return Date.now() + offset; }

  // ---- latency display: median of the last second
  var recent = [];
  // receivedAt: when its message arrived (page clock, epoch ms), to tell transport from decoding.
  function shown(source, captureMs, receivedAt) {
    status.framesShown++;
    var lat = serverNow() - captureMs;
    if (isFinite(lat)) recent.push(lat);
    window.dispatchEvent(new CustomEvent('skyline-frame', { detail: { source: source, captureMs: captureMs, latencyMs: lat, receivedAt: receivedAt } }));
  }
  setInterval(function () {
    if (recent.length === 0) return;
    recent.sort(function (a, b) { return a - b; });
    status.latencyMs = recent[recent.length >> 1];
    $('latency').textContent = Math.round(status.latencyMs) + ' ms';
    recent = [];
  }, 1000);

  // ---- WebCodecs: decode each access unit and draw it at once
  var wc = null;
  function WebCodecsView(config) {
    var canvas = document.createElement('canvas');
    canvas.width = config.width; canvas.height = config.height;
    stage.replaceChildren(canvas);
    var ctx = canvas.getContext('2d', { alpha: false, desynchronized: true });
    var captures = new Map();
    var waitingKey = true;
    var decoder = new VideoDecoder({
      output: function (frame) {
        ctx.drawImage(frame, 0, 0, canvas.width, canvas.height);
        var c = captures.get(frame.timestamp);
        captures.delete(frame.timestamp);
        frame.close();
        status.framesDecoded++;
        if (c !== undefined) shown(canvas, c[0], c[1]);
        setState('playing');
      },
      error: function (e) { status.error = String(e && e.message || e); waitingKey = true; rebuild(); }
    });
    var description = Uint8Array.from(atob(config.description), function (ch) { return ch.charCodeAt(0); });
    var setup = { codec: config.codec, description: description, codedWidth: config.width, codedHeight: config.height, optimizeForLatency: true };
    decoder.configure(setup);
    function rebuild() {
      try { if (decoder.state !== 'closed') decoder.reset(); decoder.configure(setup); } catch (e) {}
    }
    this.canvas = canvas;
    this.push = function (h, payload) {
      if (h.kind !== 1) return;
      if (waitingKey && !h.keyframe) { askKeyframe(); return; }
      // Behind (a slow machine): drop up to the next keyframe rather than queue.
      if (decoder.decodeQueueSize > 8 && !h.keyframe) { waitingKey = true; askKeyframe(); return; }
      waitingKey = false;
      if (decoder.state !== 'configured') return;
      var ts = Math.round(h.ptsUs);
      captures.set(ts, [h.captureMs, h.receivedAt]);
      if (captures.size > 120) captures.delete(captures.keys().next().value);
      decoder.decode(new EncodedVideoChunk({ type: h.keyframe ? 'key' : 'delta', timestamp: ts, data: payload }));
    };
    this.close = function () { try { decoder.close(); } catch (e) {} };
  }

  // ---- MSE: fragmented MP4, one moof+mdat per frame, kept 0.1-0.2 s behind live
  function MseView(config) {
    var video = document.createElement('video');
    video.muted = true; video.autoplay = true; video.playsInline = true;
    video.width = config.width; video.height = config.height;
    stage.replaceChildren(video);
    var ms = new MediaSource();
    var sb = null, queue = [], captures = [], closed = false, appended = 0;
    video.src = URL.createObjectURL(ms);
    ms.addEventListener('sourceopen', function () {
      try {
        sb = ms.addSourceBuffer('video/mp4; codecs="' + config.codec + '"');
        sb.mode = 'segments';
        sb.addEventListener('updateend', function () { steer(); pump(); });
        pump();
      } catch (e) { status.error = String(e.message || e); setState('error', 'MSE cannot play ' + config.codec); }
    });
    function pump() {
      status.mse = { queued: queue.length, appended: appended, updating: !!(sb && sb.updating), msState: ms.readyState };
      if (!sb || sb.updating || queue.length === 0 || closed) return;
      try { sb.appendBuffer(queue.shift()); appended++; } catch (e) {
        // QuotaExceeded or a decode error: start over from the next keyframe.
        queue = []; status.error = String(e.message || e); askKeyframe();
      }
    }
    // The live edge is the newest frame's time: buffered.end() includes its declared
    // duration, a generous guess (see MSE_SAMPLE_DURATION in stream.ts).
    var lastTime = 0;
    function steer() {
      var b = sb.buffered;
      if (b.length === 0) return;
      var t = video.currentTime, start = b.start(b.length - 1), lag = lastTime - t;
      if (t < start || lag > 0.6) {
        // In a gap (we skipped to a keyframe) or too far behind: jump forward near the live
        // edge. Never backward: a playhead past the newest frame just shows it until the next.
        video.currentTime = Math.max(start, lastTime - 0.1);
        video.playbackRate = 1;
      } else if (lag > 0.2) video.playbackRate = 1.1;
      else if (lag < 0.12) video.playbackRate = 1;
      if (video.paused) video.play().catch(function () {});
      if (!sb.updating && t - b.start(0) > 20) { try { sb.remove(0, t - 10); } catch (e) {} }
    }
    function onVideoFrame(now, meta) {
      if (closed) return;
      var us = meta.mediaTime * 1e6, best = null, bestD = Infinity;
      for (var i = 0; i < captures.length; i++) {
        var d = Math.abs(captures[i][0] - us);
        if (d < bestD) { bestD = d; best = captures[i]; }
      }
      status.framesDecoded++;
      if (best !== null && bestD < 20000) shown(video, best[1], best[2]);
      setState('playing');
      video.requestVideoFrameCallback(onVideoFrame);
    }
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onVideoFrame);
    this.video = video;
    this.push = function (h, payload) {
      if (h.kind === 2 || h.kind === 3) {
        queue.push(payload);
        if (queue.length > 60) queue.splice(0, queue.length - 60);
        if (h.kind === 3) {
          lastTime = h.ptsUs / 1e6;
          captures.push([h.ptsUs, h.captureMs, h.receivedAt]);
          if (captures.length > 120) captures.shift();
        }
        pump();
      }
    };
    this.close = function () { closed = true; try { URL.revokeObjectURL(video.src); } catch (e) {} };
  }

  var view = null;
  function onConfig(c) {
    status.config = c;
    $('size').textContent = c.width + '×' + c.height;
    if (view) view.close();
    view = mode === 'webcodecs' ? new WebCodecsView(c) : new MseView(c);
    wc = view;
    setState('waiting', 'first picture');
  }

  function onText(m) {
    if (m.type === 'config') onConfig(m);
    else if (m.type === 'stats') {
      $('viewers').textContent = m.viewers;
      $('fps').textContent = m.fps;
      $('kbps').textContent = m.kbps + ' kbit/s';
    } else if (m.type === 'pong') {
      var rtt = performance.now() - m.t;
      if (rtt <= bestRtt) { bestRtt = rtt; offset = m.now + rtt / 2 - Date.now(); }
    } else if (m.type === 'end') {
      setState('waiting', 'stream stopped');
    }
  }

  function onBinary(buf) {
    if (!view || buf.byteLength < 20) return;
    var dv = new DataView(buf);
    var h = { kind: dv.getUint8(0), keyframe: (dv.getUint8(1) & 1) === 1, captureMs: dv.getFloat64(4), ptsUs: dv.getFloat64(12), receivedAt: performance.timeOrigin + performance.now() };
    view.push(h, new Uint8Array(buf, 20));
  }

  // ---- connection: trade credentials for a cookie, open the socket, retry with backoff
  var retryMs = 250, ws = null, pinger = null, lastAsk = 0;
  // The page dropped pictures on its own (decoder behind or failed): ask for a keyframe
  // rather than wait out a whole GOP. The server limits how often it passes this on.
  function askKeyframe() {
    var now = performance.now();
    if (now - lastAsk < 1000 || !ws || ws.readyState !== 1) return;
    lastAsk = now;
    ws.send('{"type":"keyframe"}');
  }
  function retry(why) {
    setState('reconnecting', why);
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 3000);
  }
  function connect() {
    var headers = {};
    if (cfg.auth === 'bearer' && token()) headers.Authorization = 'Bearer ' + token();
    fetch(cfg.path + '/session', { method: 'POST', headers: headers, credentials: 'same-origin', cache: 'no-store' }).then(function (r) {
      if (r.status === 401) {
        setState('unauthorized');
        if (cfg.auth === 'bearer') $('login').style.display = 'flex';
        return;
      }
      if (!r.ok) return retry('HTTP ' + r.status);
      openSocket();
    }, function () { retry('server unreachable'); });
  }
  function openSocket() {
    var proto = location.protocol === 'https:' ? 'wss://' : 'ws://';
    ws = new WebSocket(proto + location.host + cfg.path + '/ws?mode=' + mode);
    ws.binaryType = 'arraybuffer';
    var opened = false;
    ws.onopen = function () {
      opened = true; retryMs = 250; status.connects++; bestRtt = Infinity;
      setState('waiting', 'first picture');
      var ping = function () { if (ws.readyState === 1) ws.send(JSON.stringify({ type: 'ping', t: performance.now() })); };
      ping(); pinger = setInterval(ping, 2000);
    };
    ws.onmessage = function (e) {
      if (typeof e.data === 'string') { try { onText(JSON.parse(e.data)); } catch (x) {} }
      else onBinary(e.data);
    };
    ws.onclose = function (e) {
      clearInterval(pinger);
      if (view) { view.close(); view = null; }
      retry(opened ? (e.reason || 'connection closed') : 'server unreachable');
    };
  }
  $('login').addEventListener('submit', function (e) {
    e.preventDefault();
    try { sessionStorage.setItem(tokenKey, $('token').value); } catch (x) {}
    $('login').style.display = 'none';
    connect();
  });
  connect();
})();
`;
