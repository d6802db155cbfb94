// LiveSource relay: an RTSP camera's own H.264 re-served to destinations with no decoder and no
// encoder in this process. The camera is our RTSP server fed a clip that gst-launch encoded in a
// child process; the destination here writes the access units it gets to an Annex-B file, which
// ffprobe/ffmpeg read back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Destination, DestinationEvents, DestinationLink, DestinationState, DestinationStats, VideoInfo } from '../../src/destinations/destination.js';
import { DestinationStatus } from '../../src/destinations/status.js';
import { loadBinding } from '../../src/gst/binding.js';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { NAL_IDR, NAL_PPS, NAL_SPS, nalType, splitAnnexB } from '../../src/h264/nal.js';
import { FileDestination } from '../../src/destinations/file/file-destination.js';
import { KvsDestination } from '../../src/destinations/kvs/kvs-destination.js';
import { RtspDestination } from '../../src/destinations/rtsp/rtsp-destination.js';
import { LiveSource } from '../../src/ingest/live-source.js';
import { RelayUnits } from '../../src/ingest/relay-units.js';
import { RTSPServer } from '../../src/rtsp/server.js';
import { decodeErrors, probeVideo } from '../support/ffprobe.js';
import { assertWireCarries, startEmulator, TEST_KEY } from '../support/kvs/harness.js';
import { captureLogger } from '../support/quiet.js';
import { DECODE_ERRORS, ffmpegPlay } from '../support/rtsp-players.js';
import { commandWorks, requireTool } from '../support/require-tool.js';
import { ClipPlayer, encodeClip } from '../support/rtsp-source.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const W = 320;
const H = 240;
const FPS = 30;
const CODEC_ELEMENTS = /avdec_|x264enc|openh264|decodebin|avenc_|vaapi|nvh264|v4l2h264/;

const skip = requireTool('gst-launch-1.0 with x264enc, and ffprobe', () => commandWorks('gst-inspect-1.0', ['x264enc']) && commandWorks('ffprobe'), 'apt-get install gstreamer1.0-tools gstreamer1.0-plugins-ugly ffmpeg');

/** Every pipeline description this process builds from here on (the binding's constructor, wrapped). */
const descriptions: string[] = [];
let dir: string;
let clip: AccessUnit[];

before(async () => {
  if (skip) return;
  const native = loadBinding();
  const Original = native.Pipeline;
  native.Pipeline = class extends Original {
    constructor(launch: string) {
      descriptions.push(launch);
      super(launch);
    }
  };
  dir = await mkdtemp(join(tmpdir(), 'skyline-relay-'));
  // Keyframe every 15 frames (0.5 s); encoded by gst-launch in a child process.
  clip = await encodeClip({ width: W, height: H, fps: FPS, frames: 90, keyInt: 15 });
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A destination written here: each access unit to an Annex-B file, start codes in front of every NAL. */
class AnnexBFile extends EventEmitter<DestinationEvents> implements Destination {
  readonly kind = 'annexb';
  readonly live = false;
  readonly name: string;
  readonly status: DestinationStatus;
  readonly units: AccessUnit[] = [];
  video: VideoInfo | undefined;
  keyframeRequests = 0;
  private out: WriteStream | undefined;

  constructor(readonly path: string) {
    super();
    this.name = `annexb:${path}`;
    this.status = new DestinationStatus(this, this.kind, this.name);
  }

  get state(): DestinationState {
    return this.status.state;
  }

  async open(video: VideoInfo, link: DestinationLink): Promise<void> {
    this.status.reset();
    this.video = video;
    this.out = createWriteStream(this.path);
    await new Promise((resolve) => this.out!.once('open', resolve));
    link.requestKeyframe();
    this.status.to('streaming');
  }

  write(au: AccessUnit): boolean {
    this.status.unitsIn++;
    this.units.push(au);
    for (const n of au.nalus) {
      this.out!.write(Buffer.from([0, 0, 0, 1]));
      this.out!.write(n);
      this.status.bytesOut += 4 + n.length;
    }
    return true;
  }

  async close(): Promise<void> {
    if (!this.out) return;
    this.status.to('closing');
    await new Promise<void>((resolve) => this.out!.end(resolve));
    this.out = undefined;
    this.status.to('idle');
  }

  async dispose(): Promise<void> {
    await this.close();
  }

  stats(): DestinationStats {
    return this.status.stats();
  }
}

/** The file as ffprobe/ffmpeg see it: frames decoded, size, decode errors. */
async function readBack(path: string): Promise<{ frames: number; width: number; height: number; errors: string }> {
  const p = await probeVideo(path, ['-f', 'h264']);
  return { frames: p.frames, width: p.width, height: p.height, errors: await decodeErrors(path) };
}

/** Every keyframe unit carries SPS and PPS before its IDR slice. */
function assertParameterSetsOnKeyframes(units: AccessUnit[]): void {
  assert.ok(units[0]!.keyframe, 'the first unit is a keyframe');
  for (const u of units.filter((x) => x.keyframe)) {
    const types = u.nalus.map(nalType);
    const idr = types.indexOf(NAL_IDR);
    assert.ok(types.indexOf(NAL_SPS) >= 0 && types.indexOf(NAL_SPS) < idr && types.indexOf(NAL_PPS) < idr && types.indexOf(NAL_PPS) >= 0, `keyframe NALs ${types}`);
  }
}

test('RelayUnits: a camera that sends SPS/PPS once gets the last ones re-inserted before every keyframe (after the AUD)', { skip }, () => {
  const units = new RelayUnits();
  const out: AccessUnit[] = [];
  let seq = 0;
  let firstKey = true;
  for (const au of clip) {
    // Keyframes after the first lose their parameter sets, as from such a camera.
    const nalus = au.keyframe && !firstKey ? au.nalus.filter((n) => nalType(n) !== NAL_SPS && nalType(n) !== NAL_PPS) : au.nalus;
    if (au.keyframe) firstKey = false;
    const data = Buffer.concat(nalus.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n]));
    const converted = units.convert({ data, ptsNs: au.ptsNs, timestampMs: 1000 + au.ptsNs / 1e6, keyframe: au.keyframe, seq: seq++ });
    assert.ok(converted);
    out.push(converted);
  }
  assert.equal(out.length, clip.length);
  assertParameterSetsOnKeyframes(out);
  for (const u of out.filter((x) => x.keyframe)) assert.equal(nalType(u.nalus[0]!), 9, 'the access unit delimiter stays first');
  assert.deepEqual([units.width, units.height], [W, H]);
  // A keyframe with no parameter set ever seen cannot start a decoder: it is not handed out.
  const fresh = new RelayUnits();
  const key = clip[0]!;
  const bare = Buffer.concat(key.nalus.filter((n) => nalType(n) === NAL_IDR).flatMap((n) => [Buffer.from([0, 0, 0, 1]), n]));
  assert.equal(fresh.convert({ data: bare, ptsNs: 0, timestampMs: 0, keyframe: true, seq: 0 }), undefined);
  assert.equal(fresh.skipped, 1);
});

test('RTSP camera → LiveSource → destinations: the camera\'s own H.264, no decoder or encoder, late joiners start clean', { skip }, async () => {
  const server = new RTSPServer({ port: 0, logger: captureLogger('warn').logger });
  await server.listen();
  const mount = server.mount('/cam');
  const player = new ClipPlayer(clip, FPS, (au) => mount.pushAccessUnit(au));
  player.start();
  const log = captureLogger('debug');
  const source = new LiveSource({ url: server.url('/cam'), logger: log.logger });
  const errors: Error[] = [];
  source.on('error', (e) => errors.push(e));
  const first = new AnnexBFile(join(dir, 'first.h264'));
  const late = new AnnexBFile(join(dir, 'late.h264'));
  const preRolled = new AnnexBFile(join(dir, 'preroll.h264'));
  // The library's own file destination: an in-process appsrc ! h264parse ! mp4mux pipeline.
  const mp4 = new FileDestination({ path: join(dir, 'relay.mp4') });
  try {
    // Attached before the stream: opened by its first keyframe.
    await source.attach(first);
    await source.attach(mp4);
    await source.start();
    await waitFor(() => first.units.length >= 45, 20_000, '45 units relayed');
    // Re-served over our RTSP server, as MediaMTX's proxy does: a real player decodes it.
    const reserve = new RtspDestination({ port: 0, path: '/relayed', logger: captureLogger('warn').logger });
    await source.attach(reserve);
    const played = await ffmpegPlay(reserve.url, { transport: 'tcp', frames: 20, width: W, height: H, timeoutMs: 20_000 });
    assert.equal(played.frames, 20, `ffmpeg decodes the re-served camera: ${played.stderr.slice(-300)}`);
    assert.doesNotMatch(played.stderr, DECODE_ERRORS);
    await source.detach(reserve);
    await reserve.dispose();
    // Joining mid-stream: starts at once at the newest keyframe of the buffer.
    await source.attach(late);
    assert.equal(late.state, 'streaming');
    const attachedAt = Date.now();
    await source.attach(preRolled, { preRollMs: 1000 });
    await waitFor(() => late.units.length >= 30, 20_000, '30 units to the late joiner');
    assert.deepEqual(source.stats().destinations.map((d) => d.state), ['streaming', 'streaming', 'streaming', 'streaming']);
    assert.equal(source.destinations.length, 4);
    await source.detach(late);
    assert.equal(late.state, 'idle');
    await source.close();
    assert.equal(first.state, 'idle');
    assert.equal(mp4.state, 'idle');

    assert.deepEqual(errors, []);
    assert.deepEqual(first.video && [first.video.width, first.video.height], [W, H]);
    assert.ok(first.video!.fps > 0 && first.video!.framerate.includes('/'));
    for (const d of [first, late, preRolled]) {
      assertParameterSetsOnKeyframes(d.units);
      const back = await readBack(d.path);
      assert.equal(back.frames, d.units.length, `${d.name}: every unit is a frame`);
      assert.deepEqual([back.width, back.height], [W, H]);
      assert.equal(back.errors, '', `${d.name} decodes cleanly`);
      // Capture times go forward; PTS never negative.
      d.units.forEach((u, i) => assert.ok(u.ptsNs >= 0 && (i === 0 || u.captureMs > d.units[i - 1]!.captureMs)));
    }
    // The same pictures as the clip, byte for byte (slices of the first GOP the camera sent).
    const sentSlices = new Set(clip.flatMap((a) => a.nalus.filter((n) => nalType(n) === 1 || nalType(n) === NAL_IDR).map((n) => n.toString('base64'))));
    for (const u of first.units) for (const n of u.nalus.filter((x) => nalType(x) === 1 || nalType(x) === NAL_IDR)) assert.ok(sentSlices.has(n.toString('base64')), 'a slice the camera did not send');
    // Pre-roll: the destination got video captured before it was attached.
    assert.ok(preRolled.units[0]!.captureMs < attachedAt, 'pre-roll starts before the attach');
    // The MP4 holds the same pictures as the units relayed beside it, decoding cleanly.
    const recorded = await probeVideo(join(dir, 'relay.mp4'));
    assert.deepEqual([recorded.frames, recorded.width, recorded.height, recorded.codec], [first.units.length, W, H, 'h264']);
    assert.equal(await decodeErrors(join(dir, 'relay.mp4')), '');
    // Nothing was decoded or encoded: no live decoder, no codec element in any pipeline of this
    // process (the file destination's is among them: the recorder saw it).
    assert.equal(source.stats().framesDecoded, 0);
    assert.ok(descriptions.some((d) => /h264parse/.test(d) && /mp4mux/.test(d)), descriptions.join('\n'));
    for (const d of descriptions) assert.doesNotMatch(d, CODEC_ELEMENTS);
    // A camera cannot be asked for a keyframe: said once, at debug.
    assert.equal(log.lines.filter((l) => l.includes('cannot be asked')).length, 1);
  } finally {
    player.stop();
    await source.close();
    await server.close();
  }
  // The files hold Annex-B that splits into the units written.
  assert.equal(splitAnnexB(await readFile(first.path)).length, first.units.reduce((n, u) => n + u.nalus.length, 0));
});

test('attaching to an MJPEG source is a clear UNSUPPORTED_CODEC error', { skip }, async () => {
  const file = join(dir, 'mjpeg.mkv');
  await run('gst-launch-1.0', ['-q', ...`videotestsrc num-buffers=30 ! video/x-raw,width=${W},height=${H},framerate=${FPS}/1 ! jpegenc ! matroskamux ! filesink location=${file}`.split(' ')], { timeout: 60_000 });
  const source = new LiveSource({ url: file, logger: captureLogger('warn').logger });
  source.on('error', () => undefined);
  try {
    await source.start();
    assert.equal(source.probe().codec, 'image/jpeg');
    const dest = new AnnexBFile(join(dir, 'never.h264'));
    await assert.rejects(source.attach(dest), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED_CODEC' && /only H\.264 sources can be relayed/.test(e.message) && /MJPEG/.test(e.message));
    assert.equal(source.destinations.length, 0);
    assert.equal(dest.units.length, 0);
  } finally {
    await source.close();
  }
});

test('RTSP camera → LiveSource → KvsDestination: the camera\'s own H.264 persisted in KVS, frame for frame', { skip }, async () => {
  const emu = await startEmulator();
  const server = new RTSPServer({ port: 0, logger: captureLogger('warn').logger });
  await server.listen();
  const mount = server.mount('/cam');
  const player = new ClipPlayer(clip, FPS, (au) => mount.pushAccessUnit(au));
  player.start();
  const source = new LiveSource({ url: server.url('/cam'), logger: captureLogger('warn').logger });
  const errors: Error[] = [];
  source.on('error', (e) => errors.push(e));
  const kvs = new KvsDestination({ streamName: 'cam-1', region: emu.region, credentials: TEST_KEY, endpoint: emu.endpoint, fragmentSeconds: 1 });
  // Beside it, the units as relayed, to compare with what KVS stored.
  const copy = new AnnexBFile(join(dir, 'kvs-copy.h264'));
  try {
    await source.attach(kvs);
    await source.attach(copy);
    await source.start();
    await waitFor(() => copy.units.length >= 75, 20_000, '75 units relayed');
    // Closing the source closes its destinations: KVS persists everything before close() resolves.
    await source.close();
    assert.deepEqual(errors, []);
    assert.equal(kvs.state, 'idle');
    const st = kvs.kvs!;
    assert.equal(st.framesIn, copy.units.length);
    assert.equal(st.fragmentsPersisted, st.fragmentsStarted);
    assert.equal(st.bufferedFragments, 0);
    // Every fragment starts at one of the camera's keyframes, at its capture time.
    const keyTimes = new Set(copy.units.filter((u) => u.keyframe).map((u) => Math.round(u.captureMs)));
    const stored = emu.fragments('cam-1');
    assert.ok(stored.length >= 2);
    assert.equal(stored[0]!.timecode, Math.round(copy.units[0]!.captureMs));
    for (const f of stored) assert.ok(keyTimes.has(f.timecode), `fragment at ${f.timecode} starts on a keyframe`);
    // ffprobe on the PutMedia bodies: every relayed frame went over the wire as stored.
    await assertWireCarries(emu, 'cam-1', dir, copy.units.map((u) => u.captureMs));
    const file = join(dir, 'kvs-stored.mkv');
    await writeFile(file, emu.toMkv('cam-1'));
    const probed = await probeVideo(file);
    assert.deepEqual([probed.frames, probed.width, probed.height], [copy.units.length, W, H]);
    assert.equal(await decodeErrors(file), '');
    assert.equal(source.stats().framesDecoded, 0);
    for (const d of descriptions) assert.doesNotMatch(d, CODEC_ELEMENTS);
  } finally {
    player.stop();
    await source.close();
    await server.close();
    await emu.close();
  }
});
