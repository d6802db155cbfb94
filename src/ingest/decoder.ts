/**
 * Decodes encoded units into raw frames in GStreamer, in this process:
 *
 *   appsrc ! h264parse ! avdec_h264 (or jpegparse ! jpegdec) ! queue ! videoconvert ! videoscale
 *          ! video/x-raw,format=F[,width,height] ! gdppay ! tcpclientsink → Node
 *
 * Packed RGB formats (BGR, RGB, BGRA, RGBA) leave GStreamer as I420, the decoder's own format
 * (videoconvert then only acts on other YUV layouts), and are converted in Node by
 * WebAssembly (convert/i420-to-rgb.ts): a third of the CPU of videoconvert's I420 → BGR, half
 * the bytes through the socket, and no per-frame allocation on GStreamer's side.
 *
 * Frames come back over a loopback socket as GDP (appsink's pull would hold a libuv threadpool
 * thread per decoder); the bus is not watched for the same reason: a decoder that stops
 * answering is noticed by the caller's watchdog. Units go in with their own PTS (unique and
 * positive, see LiveSource), so each decoded frame names the unit it came from exactly, also
 * when B-frames make the decoder reorder.
 *
 * The binding never frees a pipeline, so stopped pipelines are kept in a pool by description
 * and reused.
 */
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { I420ToRgb, colorimetryOf, isRgbFormat } from '../convert/i420-to-rgb.js';
import { layoutOf, type PixelFormat } from '../frame.js';
import { Pipeline, type AppSrc } from '../gst/pipeline.js';
import { GDP_MAX_PAYLOAD_BYTES, GdpParser } from './gdp.js';
import { OneConnectionListener } from './loopback-listener.js';
import { parseCaps } from './units.js';

export type OutputFormat = 'BGR' | 'RGB' | 'RGBA' | 'BGRA' | 'GRAY8' | 'I420';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['BGR', 'RGB', 'RGBA', 'BGRA', 'GRAY8', 'I420'];

export interface DecoderOptions {
  codec: string;
  format: OutputFormat;
  width?: number;
  height?: number;
  /** 'frame' threading decodes fastest but holds a few frames; 'slice' answers each unit at once. */
  threading?: 'auto' | 'slice';
}

export interface DecodedFrame {
  data: Buffer;
  width: number;
  height: number;
  format: OutputFormat;
  /** PTS of the unit this frame was decoded from, as pushed (ns). */
  ptsNs: number;
}

export interface DecoderEvents {
  frame: [DecodedFrame];
  /** The pipeline's output closed or could not be read: the decoder is unusable until restarted. */
  failed: [string];
}

const CONNECT_TIMEOUT_MS = 10_000;
/** The decoder's output is read into a buffer this big (one read takes what the socket holds). */
const READ_BUFFER_BYTES = 1 << 20;

/** The format GStreamer hands over for frames wanted in `format`: I420 where Node converts it. */
export function wireFormat(format: OutputFormat): OutputFormat {
  return isRgbFormat(format) && I420ToRgb.available(format) ? 'I420' : format;
}

export function describeDecoder(o: DecoderOptions): string {
  const input =
    o.codec === 'image/jpeg'
      ? 'appsrc name=src is-live=true format=time do-timestamp=false block=false caps=image/jpeg ! jpegparse ! jpegdec'
      : `appsrc name=src is-live=true format=time do-timestamp=false block=false caps=video/x-h264,stream-format=byte-stream,alignment=au ! h264parse ! avdec_h264 thread-type=${o.threading === 'slice' ? 'slice' : 'auto'}`;
  const size = o.width && o.height ? `,width=${o.width},height=${o.height}` : '';
  return [
    input,
    // A thread of its own for conversion and sending: the decoder goes on with the next frame meanwhile.
    'queue max-size-buffers=3 max-size-bytes=0 max-size-time=0',
    'videoconvert n-threads=0 dither=none',
    'videoscale n-threads=0',
    `video/x-raw,format=${wireFormat(o.format)}${size}`,
    'gdppay',
    'tcpclientsink name=out host=127.0.0.1 port=1 sync=false',
  ].join(' ! ');
}

const idle = new Map<string, Pipeline[]>();

function takePipeline(description: string): Pipeline {
  return idle.get(description)?.pop() ?? new Pipeline(description);
}

function givePipeline(p: Pipeline): void {
  let list = idle.get(p.description);
  if (!list) idle.set(p.description, (list = []));
  list.push(p);
}

/** Tightly packed copy of a GStreamer video buffer (rows padded to 4 bytes there). */
export function packFrame(buf: Buffer, format: OutputFormat, width: number, height: number): Buffer {
  const layout = layoutOf(format as PixelFormat, width, height);
  if (layout.tight || (buf.length === layout.srcSize && layout.srcSize === layout.gstSize)) return buf;
  const out = Buffer.allocUnsafe(layout.srcSize);
  for (const p of layout.planes) {
    for (let r = 0; r < p.rows; r++) buf.copy(out, p.srcOffset + r * p.rowBytes, p.dstOffset + r * p.dstStride, p.dstOffset + r * p.dstStride + p.rowBytes);
  }
  return out;
}

export class Decoder extends EventEmitter<DecoderEvents> {
  private pipeline: Pipeline | undefined;
  private appsrc: AppSrc | undefined;
  private listener: OneConnectionListener | undefined;
  private socket: net.Socket | undefined;
  private width = 0;
  private height = 0;
  private format: OutputFormat;
  /** Converts the I420 GStreamer sends to the packed format asked for (when it sends I420 for one). */
  private rgb: I420ToRgb | undefined;
  private running = false;
  /** Units pushed and frames received since start(). */
  pushed = 0;
  received = 0;
  /** PTS of units pushed whose frames have not come out. */
  private pending: number[] = [];

  constructor(readonly options: DecoderOptions) {
    super();
    this.format = options.format;
  }

  get active(): boolean {
    return this.running;
  }

  /** Builds (or reuses) the pipeline and connects its output; throws when GStreamer cannot build it. */
  async start(): Promise<void> {
    if (this.running) return;
    const description = describeDecoder(this.options);
    const pipeline = takePipeline(description);
    // The packed format Node converts to, when GStreamer sends I420 for it.
    const toRgb = wireFormat(this.format) !== this.format && isRgbFormat(this.format) ? this.format : undefined;
    this.rgb = undefined;
    const parser = new GdpParser(
      (p) => {
        if (p.kind === 'caps') {
          const c = parseCaps(p.caps);
          this.width = c.width ?? 0;
          this.height = c.height ?? 0;
          if (toRgb) this.rgb = new I420ToRgb(toRgb, this.width, this.height, colorimetryOf(p.caps, this.height));
        } else if (p.kind === 'buffer' && p.ptsNs >= 0) {
          this.received++;
          // Frames leave in presentation order: a unit with a lower PTS still pending was dropped by the decoder.
          if (this.pending.length > 0) this.pending = this.pending.filter((pts) => pts > p.ptsNs);
          // The frame is the caller's to keep: copied when it is a view of a socket chunk (large frames
          // span chunks and were assembled into memory of their own already), tightly packed.
          const rgb = this.rgb;
          if (rgb && p.payload.length !== rgb.inputBytes) {
            this.fail(`decoder output: expected an I420 frame of ${rgb.inputBytes} bytes (${rgb.width}x${rgb.height}), got ${p.payload.length}`);
            return;
          }
          const data = rgb ? rgb.convert(p.payload) : packFrame(p.owned ? p.payload : Buffer.from(p.payload), this.format, this.width, this.height);
          this.emit('frame', { data, width: this.width, height: this.height, format: this.format, ptsNs: p.ptsNs });
        }
      },
      (message) => this.fail(`decoder output unreadable: ${message}`),
      // A frame to convert is assembled in the converter's memory: read there without a copy.
      { maxPayloadBytes: GDP_MAX_PAYLOAD_BYTES, allocate: (n) => (this.rgb?.simd && n === this.rgb.inputBytes ? this.rgb.input : undefined) },
    );
    const listener = new OneConnectionListener({ buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES), callback: (n, b) => parser.push(b.subarray(0, n), true) });
    const port = await listener.listen();
    pipeline.set('out', 'port', port);
    this.pipeline = pipeline;
    this.listener = listener;
    this.appsrc = pipeline.appsrc('src');
    this.pushed = 0;
    this.received = 0;
    this.pending = [];
    this.running = true;
    pipeline.play();
    const socket = await listener.connection(CONNECT_TIMEOUT_MS);
    if (!socket) {
      this.stop();
      throw new Error('the decoder pipeline did not connect its output within 10 s');
    }
    if (!this.running) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket === socket && this.running) this.fail('the decoder pipeline closed its output');
    });
  }

  push(data: Buffer, ptsNs: number): void {
    if (!this.running || !this.appsrc) return;
    this.appsrc.push(data, ptsNs);
    this.pushed++;
    this.pending.push(ptsNs);
  }

  /** Units pushed whose frames have not come back yet. */
  get inFlight(): number {
    return this.pending.length;
  }

  /** Ends the input: the decoder hands out the frames it still holds (threading delay). */
  drain(): void {
    if (this.running) this.pipeline?.sendEos();
  }

  stop(): void {
    if (!this.pipeline) return;
    this.running = false;
    const socket = this.socket;
    this.socket = undefined;
    this.pipeline.stop();
    socket?.destroy();
    this.listener?.close();
    givePipeline(this.pipeline);
    this.pipeline = undefined;
    this.appsrc = undefined;
  }

  private fail(reason: string): void {
    if (!this.running) return;
    this.stop();
    this.emit('failed', reason);
  }
}
