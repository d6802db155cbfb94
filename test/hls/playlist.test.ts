// The LL-HLS media playlist generator against RFC 8216bis, case by case, each output read back
// by m3u8-parser; and the live window (parts and segments cut from a real x264 clip).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advancePartLimit, durationViolations, formatDuration, renderMediaPlaylist, type MediaPlaylist, type PlaylistSegment } from '../../src/hls/playlist.js';
import { LiveWindow } from '../../src/hls/live-window.js';
import { encodeClip } from '../support/encoded-clip.js';
import { HLS_PACKAGES_INSTALL, hlsPackagesPresent, parseM3u8, specProblems } from '../support/hls-packages.js';
import { commandWorks, requireTool } from '../support/require-tool.js';

const skip = requireTool('m3u8-parser and hls.js', hlsPackagesPresent, HLS_PACKAGES_INSTALL);
const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);

function seg(msn: number, parts: Array<[number, boolean?]>, more: Partial<PlaylistSegment> = {}): PlaylistSegment {
  return {
    msn, uri: `s${msn}.m4s`, complete: true, mapUri: 'init0.mp4', discontinuity: false, programDateTimeMs: T0 + msn * 1000,
    parts: parts.map(([d, ind], i) => ({ uri: `p${msn}.${i}.m4s`, durationS: d, independent: ind ?? i === 0 })),
    ...more,
  };
}

function playlist(more: Partial<MediaPlaylist> = {}): MediaPlaylist {
  return { targetDurationS: 1, partTargetS: 0.25, lowLatency: true, discontinuitySequence: 0, segments: [], ended: false, preloadHintUri: 'next.m4s', ...more };
}

const full = (msn: number) => seg(msn, [[0.25], [0.25], [0.25], [0.25]]);

describe('renderMediaPlaylist', { skip }, () => {
  const cases: Array<{ name: string; p: MediaPlaylist; has: RegExp[]; hasNot?: RegExp[]; check?: (m: ReturnType<typeof parseM3u8>['manifest']) => void }> = [
    {
      name: 'header: version 9, target, server control with blocking reload and three part targets of hold back, part info',
      p: playlist({ segments: [full(0)] }),
      has: [/^#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n/, /^#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0\.75$/m, /^#EXT-X-PART-INF:PART-TARGET=0\.25$/m, /^#EXT-X-MEDIA-SEQUENCE:0$/m],
      check: (m) => {
        assert.equal(m.version, 9);
        assert.equal(m.serverControl?.canBlockReload, true);
        assert.equal(m.serverControl?.partHoldBack, 0.75);
        assert.equal(m.partTargetDuration, 0.25);
      },
    },
    {
      name: 'static files cannot block: plain HLS, no parts, no server control, no hint (Appendix B)',
      p: playlist({ lowLatency: false, segments: [full(0), seg(1, [[0.25]], { complete: false })] }),
      has: [/#EXTINF:1,\ns0\.m4s\n$/],
      hasNot: [/EXT-X-PART/, /SERVER-CONTROL/, /PRELOAD-HINT/, /p1\.0/],
    },
    {
      name: 'parts before their EXTINF, INDEPENDENT=YES on keyframe parts only, map and date once per segment',
      p: playlist({ segments: [seg(3, [[0.25, true], [0.25, false], [0.2, true]])] }),
      has: [
        /#EXT-X-MAP:URI="init0\.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2026-12-07T12:00:03\.000Z\n#EXT-X-PART:DURATION=0\.25,URI="p3\.0\.m4s",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0\.25,URI="p3\.1\.m4s"\n#EXT-X-PART:DURATION=0\.2,URI="p3\.2\.m4s",INDEPENDENT=YES\n#EXTINF:0\.7,\ns3\.m4s\n/,
        /^#EXT-X-MEDIA-SEQUENCE:3$/m,
      ],
      check: (m) => {
        assert.deepEqual(m.segments[0]!.parts!.map((x) => x.independent ?? false), [true, false, true]);
        assert.equal(m.segments[0]!.programDateTime, T0 + 3000);
      },
    },
    {
      name: 'the open segment: its parts after the last EXTINF, then the preload hint',
      p: playlist({ segments: [full(0), seg(1, [[0.25], [0.25]], { complete: false })], preloadHintUri: 'p1.2.m4s' }),
      has: [/s0\.m4s\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXT-X-PART:DURATION=0\.25,URI="p1\.0\.m4s",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0\.25,URI="p1\.1\.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p1\.2\.m4s"\n$/],
      check: (m) => {
        assert.equal(m.segments.length, 1);
        assert.equal(m.preloadSegment?.parts?.length, 2);
        assert.equal(m.preloadSegment?.preloadHints?.[0]?.uri, 'p1.2.m4s');
      },
    },
    {
      name: 'parts only within three target durations of the live edge (4.4.4.9)',
      p: playlist({ segments: [full(0), full(1), full(2), full(3), full(4), full(5)] }),
      has: [/URI="p4\.0\.m4s"/, /URI="p5\.3\.m4s"/],
      hasNot: [/URI="p0\./, /URI="p1\./, /URI="p2\./, /URI="p3\./],
      check: (m) => {
        assert.equal(m.segments.length, 6);
        assert.equal(m.segments[3]!.parts, undefined);
        assert.equal(m.segments[4]!.parts?.length, 4);
      },
    },
    {
      name: 'segments shorter than the target: parts of the open one and two complete ones only',
      p: playlist({ targetDurationS: 2, segments: [full(0), full(1), full(2), full(3), seg(4, [[0.25]], { complete: false })] }),
      has: [/URI="p2\.0\.m4s"/, /URI="p4\.0\.m4s"/],
      hasNot: [/URI="p1\./],
    },
    {
      name: 'ended: EXT-X-ENDLIST and no preload hint',
      p: playlist({ segments: [full(0)], ended: true }),
      has: [/#EXT-X-ENDLIST\n$/],
      hasNot: [/PRELOAD-HINT/],
      check: (m) => assert.equal(m.endList, true),
    },
    {
      name: 'a new stream: EXT-X-DISCONTINUITY and a new EXT-X-MAP; slid-out ones counted in DISCONTINUITY-SEQUENCE',
      p: playlist({ discontinuitySequence: 2, segments: [full(7), seg(8, [[0.25]], { discontinuity: true, mapUri: 'init1.mp4' })] }),
      has: [/^#EXT-X-DISCONTINUITY-SEQUENCE:2$/m, /s7\.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init1\.mp4"\n/],
      check: (m) => {
        assert.equal(m.discontinuitySequence, 2);
        assert.equal(m.segments[1]!.discontinuity, true);
        assert.equal(m.segments[1]!.map?.uri, 'init1.mp4');
      },
    },
    {
      name: 'given PART-HOLD-BACK is kept',
      p: playlist({ partHoldBackS: 1, segments: [full(0)] }),
      has: [/PART-HOLD-BACK=1$/m],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const text = renderMediaPlaylist(c.p);
      for (const r of c.has) assert.match(text, r);
      for (const r of c.hasNot ?? []) assert.doesNotMatch(text, r);
      const parsed = parseM3u8(text);
      assert.deepEqual(specProblems(parsed), []);
      assert.deepEqual(durationViolations(c.p), []);
      c.check?.(parsed.manifest);
    });
  }

  const refused: Array<[string, Partial<MediaPlaylist>, RegExp]> = [
    ['target duration not an integer', { targetDurationS: 1.5 }, /target duration/],
    ['part target over the target duration', { partTargetS: 2 }, /part target/],
    ['PART-HOLD-BACK under twice PART-TARGET (4.4.3.8)', { partHoldBackS: 0.4 }, /PART-HOLD-BACK/],
    ['an open segment before a complete one', { segments: [seg(0, [[0.25]], { complete: false }), full(1)] }, /open but not the last/],
    ['a gap in media sequence numbers', { segments: [full(0), full(2)] }, /follow each other/],
    ['a quote in a quoted URI', { segments: [seg(0, [[0.25]], { mapUri: 'a"b' })] }, /quotes/],
    ['a newline in a segment URI', { segments: [seg(0, [[0.25]], { uri: 'a\n#EXT-X-ENDLIST' })] }, /newline/],
  ];
  for (const [name, more, why] of refused) test(`refused: ${name}`, () => assert.throws(() => renderMediaPlaylist(playlist(more)), why));

  test('durations the spec forbids are reported, not thrown (live timestamps jitter)', () => {
    const p = playlist({ segments: [seg(0, [[0.3], [0.25], [0.25], [0.25]])] });
    assert.doesNotThrow(() => renderMediaPlaylist(p));
    assert.deepEqual(durationViolations(p), ['part p0.0.m4s lasts 0.3 s, over PART-TARGET 0.25']);
    assert.deepEqual(durationViolations(playlist({ segments: [seg(0, [[0.25], [0.25], [0.25], [0.25], [0.25], [0.25]])] })), ['segment 0 lasts 1.5 s, over the target duration 1']);
  });

  test('advance part limit and durations', () => {
    assert.equal(advancePartLimit(0.25), 12);
    assert.equal(advancePartLimit(0.333), 9);
    assert.equal(advancePartLimit(1), 3);
    assert.equal(advancePartLimit(2), 3);
    assert.deepEqual(['0', '0.25', '1', '0.233', '2.1'], [0, 0.25, 1, 0.23333, 2.1].map(formatDuration));
  });
});

describe('LiveWindow on a real clip (x264, 30 fps, keyframe every 30 frames)', { skip: skip || requireTool('gst-launch-1.0', () => commandWorks('gst-launch-1.0', ['--version']), 'apt-get install gstreamer1.0-tools') }, () => {
  test('parts of whole frames under PART-TARGET, segments cut on keyframes at the target, window slides, files deleted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skyline-hls-window-'));
    try {
      const aus = await encodeClip(join(dir, 'clip.h264'), { frames: 300, width: 160, height: 120, fps: 30, keyInt: 30, originMs: T0 });
      const w = new LiveWindow({ segmentMs: 2000, partMs: 250, windowSegments: 3, fps: 30, lowLatency: true });
      const removed: string[] = [];
      w.on('removed', (names) => removed.push(...names));
      for (const au of aus) {
        w.push(au);
        const parsed = parseM3u8(w.playlist());
        assert.deepEqual(specProblems(parsed), [], w.playlist());
      }
      assert.equal(w.partTargetS, 0.234); // 7 frames at 30 fps
      w.end();
      const m = parseM3u8(w.playlist()).manifest;
      assert.equal(m.endList, true);
      // 300 frames, 60 per segment: 5 segments, the window lists the last 3.
      assert.equal(m.mediaSequence, 2);
      assert.deepEqual(m.segments.map((s) => s.duration), [2, 2, 2]);
      // Parts of the segments that start within three target durations (6 s) of the end: the last two.
      assert.deepEqual(m.segments.map((s) => s.parts?.length ?? 0), [0, 9, 9]);
      for (const s of m.segments) {
        assert.ok(w.file(s.uri), `${s.uri} kept`);
        if (!s.parts) continue;
        assert.equal(s.parts[0]!.independent, true);
        // 7-frame parts (233 ms): 7, 7, 7, 7, then the keyframe at frame 30 falls inside a part,
        // since a 2-frame part would be under 85% of PART-TARGET; frames 56-59 end the segment.
        assert.deepEqual(s.parts.map((x) => Math.round(x.duration * 30)), [7, 7, 7, 7, 7, 7, 7, 7, 4]);
      }
      // Retired but kept a while (twice the window plus one): nothing deleted for 5 segments.
      assert.deepEqual(removed, []);
      assert.match(w.playlist(), /#EXT-X-PROGRAM-DATE-TIME:2026-12-07T12:00:04\.000Z/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a long camera GOP is cut between keyframes to stay under the target; a keyframe is asked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skyline-hls-gop-'));
    try {
      const aus = await encodeClip(join(dir, 'clip.h264'), { frames: 400, width: 160, height: 120, fps: 25, keyInt: 250, originMs: T0 });
      let asked = 0;
      const w = new LiveWindow({ segmentMs: 1000, partMs: 200, windowSegments: 3, fps: 25, lowLatency: true, requestKeyframe: () => asked++ });
      const removed: string[] = [];
      w.on('removed', (names) => removed.push(...names));
      let sequence = -1;
      for (const au of aus) {
        w.push(au);
        const p = parseM3u8(w.playlist());
        assert.deepEqual(specProblems(p), []);
        // The listing starts at a keyframe segment when it can, and never goes back.
        assert.ok((p.manifest.mediaSequence ?? 0) >= sequence);
        sequence = p.manifest.mediaSequence ?? 0;
      }
      assert.ok(asked >= 3, `asked for keyframes ${asked} times`);
      // 16 s of 1 s targets: well past twice the window; the oldest segments and parts are gone.
      assert.ok(removed.some((n) => n.endsWith('-s0.m4s')));
      assert.ok(removed.some((n) => /-p0\.m4s$/.test(n)));
      assert.equal(w.file(removed[0]!), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a new session on the same window: EXT-X-DISCONTINUITY, a new init, numbering goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skyline-hls-restart-'));
    try {
      const aus = await encodeClip(join(dir, 'clip.h264'), { frames: 60, width: 160, height: 120, fps: 30, keyInt: 30, originMs: T0 });
      const w = new LiveWindow({ segmentMs: 1000, partMs: 250, windowSegments: 6, fps: 30, lowLatency: true });
      for (const au of aus) w.push(au);
      w.end();
      assert.match(w.playlist(), /#EXT-X-ENDLIST/);
      w.restart();
      for (const au of aus) w.push({ ...au, captureMs: au.captureMs + 5000 });
      const text = w.playlist();
      const m = parseM3u8(text);
      assert.deepEqual(specProblems(m), [], text);
      assert.doesNotMatch(text, /ENDLIST/);
      assert.equal(m.manifest.segments.filter((s) => s.discontinuity).length, 1);
      const maps = new Set(m.manifest.segments.map((s) => s.map!.uri));
      assert.equal(maps.size, 2, text);
      for (const u of maps) assert.ok(w.file(u), `${u} kept`);
      assert.deepEqual(m.manifest.segments.map((s, i) => s.uri.endsWith(`-s${i}.m4s`)), m.manifest.segments.map(() => true));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
