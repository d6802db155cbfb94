/**
 * Reads a source through GStreamer in a child process (ingest-worker.ts): RTMP, HTTP (HLS,
 * MJPEG), files, V4L2 and the test pattern. The encoded units come back over the child's stdout
 * as GDP; errors, EOS and start come over IPC with GStreamer's own texts, which are classified
 * into SourceError codes.
 *
 * Why a child and not a pipeline in this process: the only way the binding tells a pipeline's
 * errors is pollBus, which holds a libuv threadpool thread per pipeline (eight sources would
 * starve fs and dns); the binding never frees a pipeline, so reconnecting to a new URL would
 * leak one each time; and a crashing demuxer would take the application with it. The pipe is
 * read by libuv's event loop, like any socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Redactor } from '../log.js';
import { classifyGstError, DECODABLE_CAPS, SourceError, unsupportedCodec } from './errors.js';
import { GdpParser } from './gdp.js';
import type { WorkerReport, WorkerRequest } from './ingest-worker.js';
import type { SourceSpec } from './source-url.js';
import { H264Normalizer, parseCaps, type StreamCaps } from './units.js';

export interface ReaderUnit {
  data: Buffer;
  ptsNs: number;
  keyframe: boolean;
  /** Capture time when the reader knows it (RTCP sender reports), epoch ms. */
  captureMs?: number;
}

export interface ReaderEvents {
  caps: [StreamCaps];
  unit: [ReaderUnit];
  /** The reader stopped: an error, or undefined at a clean end of stream. Emitted once. */
  end: [SourceError | undefined];
}

/** What every reader (GStreamer child, RTSP client) offers a LiveSource. */
export interface Reader extends EventEmitter<ReaderEvents> {
  start(): void;
  /** Pauses / resumes taking data (backpressure for file sources read fast). */
  pause(): void;
  resume(): void;
  close(): void;
}

/**
 * The ingest worker's environment: GStreamer's variables and what a process needs to run (paths,
 * locale, time zone, proxies and CA files for http(s) sources). Nothing else: it parses untrusted
 * media, so it gets no AWS_* or other secrets, and no NODE_OPTIONS or LD_* that would load code.
 */
export function workerEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (/^(PATH|HOME|TMPDIR|TMP|TEMP|LANG|LANGUAGE|TZ|LC_[A-Z]+|GST_[A-Z0-9_]+|ORC_[A-Z0-9_]+|SSL_CERT_FILE|SSL_CERT_DIR|https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY|SystemRoot)$/.test(k)) out[k] = v;
  }
  out.UV_THREADPOOL_SIZE = '4';
  return out;
}

function workerPath(): { file: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  // From source (tests, tsx): tsx resolved from here, so the worker starts whatever the working directory.
  if (here.endsWith('.ts')) return { file: here.replace(/gst-reader\.ts$/, 'ingest-worker.ts'), args: ['--import', import.meta.resolve('tsx')] };
  return { file: here.replace(/gst-reader\.js$/, 'ingest-worker.js'), args: [] };
}

export class GstReader extends EventEmitter<ReaderEvents> implements Reader {
  private child: ChildProcess | undefined;
  private ended = false;
  private gstError: SourceError | undefined;
  private sawEos = false;
  private readonly h264 = new H264Normalizer();
  private codec = '';

  constructor(
    private readonly spec: SourceSpec,
    private readonly redactor: Redactor,
  ) {
    super();
  }

  start(): void {
    const { file, args } = workerPath();
    // The child gets no secrets on its command line, and a short environment (workerEnvironment).
    const child = spawn(process.execPath, [...args, file], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: workerEnvironment(process.env),
    });
    this.child = child;
    const parser = new GdpParser(
      (p) => {
        if (p.kind === 'caps') this.onCaps(p.caps);
        else if (p.kind === 'buffer') this.onBuffer(p.payload, p.ptsNs, p.delta);
      },
      (message) => this.finish(new SourceError('PROTOCOL_ERROR', `the ingest pipeline's output could not be read: ${message}`)),
    );
    child.stdout!.on('data', (chunk: Buffer) => parser.push(chunk));
    // stderr: GStreamer warnings (kept short, scrubbed) for the error text when nothing better came.
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    child.on('message', (r: WorkerReport) => {
      if (r.type === 'error') this.gstError ??= classifyGstError(this.redactor.scrub(`${r.message}${r.debug ? ` (${r.debug.split('\n').pop()})` : ''}`));
      else if (r.type === 'eos') this.sawEos = true;
    });
    child.on('error', (err) => this.finish(new SourceError('ERROR', `could not start the ingest process: ${err.message}`)));
    child.on('close', (code, signal) => {
      // The worker ends itself with SIGKILL once it reported: what it reported decides.
      if (this.gstError) this.finish(this.gstError);
      else if (this.sawEos) this.finish(undefined);
      else {
        const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        this.finish(new SourceError('ERROR', this.redactor.scrub(`the ingest process ${why}${stderr ? `: ${stderr.trim().slice(-300)}` : ''}`)));
      }
    });
    child.send({ launch: this.spec.launch!, properties: this.spec.properties } satisfies WorkerRequest);
  }

  pause(): void {
    this.child?.stdout?.pause();
  }

  resume(): void {
    this.child?.stdout?.resume();
  }

  close(): void {
    this.ended = true;
    const child = this.child;
    if (!child) return;
    child.stdout?.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
  }

  private onCaps(capsText: string): void {
    const caps = parseCaps(capsText);
    if (!DECODABLE_CAPS.has(caps.codec)) {
      this.finish(unsupportedCodec(capsText));
      return;
    }
    this.codec = caps.codec;
    if (caps.codec === 'video/x-h264') this.h264.setCaps(caps);
    this.emit('caps', caps);
  }

  private onBuffer(payload: Buffer, ptsNs: number, _delta: boolean): void {
    if (this.ended || !this.codec) return;
    if (this.codec === 'image/jpeg') {
      // Copied: the payload is a view of the pipe's chunk, which must not stay pinned by the ring.
      this.emit('unit', { data: Buffer.from(payload), ptsNs, keyframe: true });
      return;
    }
    const u = this.h264.fromBuffer(payload);
    if (u.data.length === 0) return;
    this.emit('unit', { data: u.data, ptsNs, keyframe: u.keyframe });
  }

  private finish(err: SourceError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.close();
    this.emit('end', err);
  }
}
