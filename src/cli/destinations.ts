// The SkyLine each republishing command streams to, and what the status line shows of it.
import type { Logger } from 'pino';
import { FileSkyLine } from '../file/file-skyline.js';
import { KVSSkyLine } from '../kvs/kvs-skyline.js';
import { SrtDestination } from '../destinations/srt/srt-destination.js';
import { MultiSkyLine } from '../multi-skyline.js';
import { RtmpSkyLine } from '../rtmp/rtmp-skyline.js';
import { RTSPSkyLine } from '../rtsp/rtsp-skyline.js';
import type { PutOptions, SkyLineStats, StartOptions } from '../skyline.js';
import { WebSkyLine } from '../web/web-skyline.js';
import type { SourceFrame } from './sources.js';
import { randomBytes } from 'node:crypto';
import { numberOption, UsageError, type Command, type Parsed } from './args.js';

/** What the command uses of a SkyLine: every destination has it, whatever events it adds. */
export interface AnySkyLine {
  readonly state: string;
  startStreaming(options?: StartOptions): Promise<void>;
  put(frame: SourceFrame, options?: PutOptions): boolean;
  stopStreaming(): Promise<void>;
  close(): Promise<void>;
  stats(): SkyLineStats;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'reconnect', listener: (info: { attempt: number; delayMs: number; reason: string }) => void): unknown;
  on(event: 'state', listener: (state: string, previous: string) => void): unknown;
}

export interface Destination {
  sky: AnySkyLine;
  /** Where the video can be found once started (URL, file), secrets masked. */
  where(): string;
  viewers?(): number;
  /** A link with a generated secret in it, shown once at start and nowhere else. */
  secretLink?(): string;
  latencyMs?(): number | undefined;
}

export interface DestinationContext {
  parsed: Parsed;
  logger: Logger;
  bitrate: number;
  fps?: number;
}

export function openDestination(ctx: DestinationContext): Destination {
  const { parsed, logger, bitrate } = ctx;
  const v = parsed.values;
  const common = { logger, bitrate, statsIntervalMs: 1000 };
  const command: Command = parsed.command;
  switch (command) {
    case 'rtsp': {
      const port = numberOption(v, 'port', 8554, command, { integer: true, min: 0 });
      const path = String(v.path);
      if (!path.startsWith('/')) throw new UsageError(`--path expects a path starting with /, got ${JSON.stringify(path)}`, command);
      const rtpPort = v['rtp-port'] === undefined ? undefined : numberOption(v, 'rtp-port', 0, command, { integer: true, min: 2 });
      if (rtpPort !== undefined && rtpPort % 2 !== 0) throw new UsageError(`--rtp-port expects an even port (RTCP takes the next one), got ${rtpPort}`, command);
      const sky = new RTSPSkyLine({ ...common, port, host: String(v.host), path, serverOptions: rtpPort === undefined ? undefined : { rtpPort } });
      return { sky, where: () => sky.url, viewers: () => sky.stats().clients };
    }
    case 'push': {
      const interval = numberOption(v, 'keyframe-interval', Math.round(2 * (ctx.fps ?? 30)), command, { integer: true, min: 1 });
      let sky: RtmpSkyLine;
      try {
        sky = new RtmpSkyLine({ ...common, url: parsed.positionals[0]!, keyframeInterval: interval });
      } catch (err) {
        throw new UsageError((err as Error).message, command);
      }
      return { sky, where: () => sky.destination };
    }
    case 'srt': {
      const mode = String(v.mode);
      if (mode !== 'caller' && mode !== 'listener') throw new UsageError(`--mode expects caller or listener, got ${JSON.stringify(mode)}`, command);
      let srt: SrtDestination;
      try {
        srt = new SrtDestination({
          url: parsed.positionals[0]!,
          mode,
          // From the environment: a command line shows in ps and in shell history.
          passphrase: process.env.SKYLINE_SRT_PASSPHRASE || undefined,
          pbkeylen: v.pbkeylen === undefined ? undefined : (numberOption(v, 'pbkeylen', 16, command, { integer: true }) as 16 | 24 | 32),
          streamId: typeof v.streamid === 'string' ? v.streamid : undefined,
          latencyMs: v.latency === undefined ? undefined : numberOption(v, 'latency', 120, command, { integer: true, min: 0 }),
        });
      } catch (err) {
        throw new UsageError((err as Error).message, command);
      }
      const sky = new MultiSkyLine({ ...common, destinations: [srt] });
      return { sky, where: () => srt.name, ...(mode === 'listener' ? { viewers: () => srt.stats().srt?.peers ?? 0 } : {}) };
    }
    case 'record': {
      const sky = new FileSkyLine({ ...common, path: parsed.positionals[0]! });
      return { sky, where: () => `${sky.path} (frame times in ${sky.timestampsPath})` };
    }
    case 'kvs': {
      const region = typeof v.region === 'string' ? v.region : process.env.AWS_REGION;
      if (!region) throw new UsageError('kvs needs a region: --region, or AWS_REGION in the environment', command);
      const endpoint = typeof v.endpoint === 'string' ? v.endpoint : undefined;
      const sky = new KVSSkyLine({ ...common, streamName: parsed.positionals[0]!, region, endpoint, createStream: v.create === true, sink: 'putmedia' });
      return {
        sky,
        where: () => `KVS stream ${parsed.positionals[0]} in ${region}`,
        latencyMs: () => sky.stats().kvs?.persistLatencyMs.p50,
      };
    }
    case 'web': {
      const port = numberOption(v, 'port', 8889, command, { integer: true, min: 0 });
      const path = String(v.path);
      if (!path.startsWith('/')) throw new UsageError(`--path expects a path starting with /, got ${JSON.stringify(path)}`, command);
      const token = v.token === true ? webToken(command) : undefined;
      const sky = new WebSkyLine({ ...common, port, host: String(v.host), path, ...(token ? { auth: { token: token.value } } : {}) });
      return {
        sky,
        where: () => sky.url,
        viewers: () => sky.stats().viewers,
        // The token goes in the fragment, which browsers never send; one the user set is not echoed.
        ...(token?.generated ? { secretLink: () => `${sky.url}#token=${token.value}` } : {}),
      };
    }
    default:
      throw new UsageError(`${command} does not republish`, command);
  }
}

/** The web command's token: SKYLINE_WEB_TOKEN, or a random one. */
function webToken(command: Command): { value: string; generated: boolean } {
  const env = process.env.SKYLINE_WEB_TOKEN;
  if (env !== undefined && env !== '') {
    if (env.length < 8 || /[\s,"]/.test(env)) throw new UsageError('SKYLINE_WEB_TOKEN must be at least 8 characters, without spaces, commas or quotes', command);
    return { value: env, generated: false };
  }
  return { value: randomBytes(18).toString('base64url'), generated: true };
}
