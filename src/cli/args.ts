// Command lines of `gst-skyline`: one util.parseArgs table per command, the help texts, and
// UsageError (exit code 2) for anything that does not parse.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  constructor(message: string, readonly command?: Command) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Command = 'rtsp' | 'web' | 'push' | 'srt' | 'record' | 'kvs' | 'probe' | 'screenshot';
export const REPUBLISH: readonly Command[] = ['rtsp', 'web', 'push', 'srt', 'record', 'kvs'];

type Options = NonNullable<ParseArgsConfig['options']>;

const SOURCE: Options = {
  from: { type: 'string', default: 'pattern' },
  size: { type: 'string' },
  fps: { type: 'string' },
  bitrate: { type: 'string' },
  overlay: { type: 'boolean', default: false },
  duration: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

const SOURCE_HELP = `
Source:
  --from <pattern|url|file>  what to republish (default: pattern, an animated test pattern);
                             rtsp://, rtmp://, http(s):// URLs and files are read with LiveSource
  --size <WxH>               size of the test pattern (default 1280x720)
  --fps <n>                  frame rate of the test pattern (default 30)
Output:
  --bitrate <kbit/s>         H.264 bitrate (default 2000)
  --overlay                  draw the time, frame number and fps onto every frame
  --duration <seconds>       stop after this long (default: until Ctrl-C)
  --json                     JSON lines on stdout even on a terminal
  -h, --help                 this help`;

interface Spec {
  summary: string;
  usage: string;
  positionals: string[];
  options: Options;
  details: string;
}

export const COMMANDS: Record<Command, Spec> = {
  rtsp: {
    summary: 'serve the source over RTSP',
    usage: 'gst-skyline rtsp [--port 8554] [--host 127.0.0.1] [--path /live] [--rtp-port N] [source and output options]',
    positionals: [],
    options: {
      ...SOURCE,
      port: { type: 'string', default: '8554' },
      host: { type: 'string', default: '127.0.0.1' },
      path: { type: 'string', default: '/live' },
      'rtp-port': { type: 'string' },
    },
    details: `
RTSP:
  --port <n>                 TCP port of the RTSP server (default 8554; 0 = any free port)
  --host <address>           address to bind (default 127.0.0.1; 0.0.0.0 for other machines)
  --path <path>              stream path (default /live)
  --rtp-port <even n>        UDP ports n and n+1 for RTP/RTCP to viewers (default: a free pair;
                             fix them to publish them from a container or through a firewall)`,
  },
  web: {
    summary: 'serve a browser preview page',
    usage: 'gst-skyline web [--port 8889] [--host 127.0.0.1] [--path /live] [--token] [source and output options]',
    positionals: [],
    options: {
      ...SOURCE,
      port: { type: 'string', default: '8889' },
      host: { type: 'string', default: '127.0.0.1' },
      path: { type: 'string', default: '/live' },
      token: { type: 'boolean', default: false },
    },
    details: `
Web:
  --port <n>                 HTTP port of the preview page (default 8889; 0 = any free port)
  --host <address>           address to bind (default 127.0.0.1)
  --path <path>              page path (default /live)
  --token                    viewers need an access token: SKYLINE_WEB_TOKEN from the environment,
                             else a random one, printed once in the page link (#token=...)`,
  },
  push: {
    summary: 'publish the source to an RTMP relay',
    usage: 'gst-skyline push <rtmp-url> [source and output options]',
    positionals: ['rtmp-url'],
    options: { ...SOURCE, 'keyframe-interval': { type: 'string' } },
    details: `
RTMP:
  <rtmp-url>                 rtmp://host[:port]/app/STREAM_KEY (or rtmps://); the key is never printed.
                             Tip: push "$RTMP_URL" keeps the key out of your shell history
  --keyframe-interval <n>    frames between keyframes (default 2 s worth)`,
  },
  srt: {
    summary: 'send the source over SRT (caller, or listener for players to call)',
    usage: 'gst-skyline srt <srt://host:port> [--mode caller|listener] [--streamid S] [--latency MS] [source and output options]',
    positionals: ['srt-url'],
    options: { ...SOURCE, mode: { type: 'string', default: 'caller' }, streamid: { type: 'string' }, latency: { type: 'string' }, pbkeylen: { type: 'string' } },
    details: `
SRT:
  <srt-url>                  srt://host:port: the listener to call, or (--mode listener) the address
                             and UDP port to listen on, e.g. srt://0.0.0.0:9000
  --mode <caller|listener>   default caller
  --streamid <id>            e.g. publish:<path> for MediaMTX, #!::r=<path>,m=publish for SRS
  --latency <ms>             SRT latency (default 120)
  --pbkeylen <16|24|32>      AES key length with a passphrase (default 16)
  The passphrase (10-79 characters) comes from SKYLINE_SRT_PASSPHRASE, never the command line.`,
  },
  record: {
    summary: 'record the source to an MP4 or MKV file with a timestamps sidecar',
    usage: 'gst-skyline record <out.mp4|out.mkv> [source and output options]',
    positionals: ['file'],
    options: { ...SOURCE },
    details: `
Record:
  <file>                     .mp4 (fragmented) or .mkv; <file>.timestamps.csv has a row per frame`,
  },
  kvs: {
    summary: 'stream the source to AWS Kinesis Video Streams',
    usage: 'gst-skyline kvs <stream-name> [--region R] [--create] [--endpoint URL] [source and output options]',
    positionals: ['stream-name'],
    options: { ...SOURCE, region: { type: 'string' }, create: { type: 'boolean', default: false }, endpoint: { type: 'string' } },
    details: `
KVS:
  <stream-name>              the Kinesis video stream
  --region <region>          AWS region (default: AWS_REGION)
  --create                   create the stream when it does not exist
  --endpoint <url>           control-plane endpoint (VPC endpoints, emulators)
  Credentials come from the AWS chain: environment, ~/.aws files and profiles, SSO, roles.`,
  },
  probe: {
    summary: 'print what a stream or file carries (codec, size, fps, bitrate) as JSON',
    usage: 'gst-skyline probe <url|file>',
    positionals: ['url'],
    options: { help: SOURCE.help!, timeout: { type: 'string', default: '15' } },
    details: `
  --timeout <seconds>        give up when nothing decodable came by then (default 15)`,
  },
  screenshot: {
    summary: 'save one frame of a stream or file as PNG',
    usage: 'gst-skyline screenshot <url|file> <out.png>',
    positionals: ['url', 'out.png'],
    options: { help: SOURCE.help!, timeout: { type: 'string', default: '15' } },
    details: `
  --timeout <seconds>        give up when nothing decodable came by then (default 15)`,
  },
};

export function mainHelp(): string {
  const lines = Object.entries(COMMANDS).map(([name, s]) => `  ${name.padEnd(11)} ${s.summary}`);
  return `gst-skyline: republish frames as live H.264 through GStreamer

Usage: gst-skyline <command> [options]

Commands:
${lines.join('\n')}

gst-skyline <command> --help shows a command's options.
Exit codes: 0 done (also after Ctrl-C), 1 failed while running, 2 bad command line.
`;
}

export function commandHelp(command: Command): string {
  const s = COMMANDS[command];
  const source = REPUBLISH.includes(command) ? SOURCE_HELP : '';
  return `gst-skyline ${command}: ${s.summary}

Usage: ${s.usage}
${s.details}${source}
`;
}

export interface Parsed {
  command: Command;
  help: boolean;
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

export function parseCommandLine(argv: string[]): Parsed | { command: undefined; help: true } {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') return { command: undefined, help: true };
  if (!(first in COMMANDS)) throw new UsageError(`unknown command ${JSON.stringify(first)}; expected one of ${Object.keys(COMMANDS).join(', ')}`);
  const command = first as Command;
  const spec = COMMANDS[command];
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: spec.options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message, command);
  }
  const values = parsed.values as Parsed['values'];
  if (values.help) return { command, help: true, positionals: [], values };
  if (parsed.positionals.length !== spec.positionals.length) {
    const want = spec.positionals.length === 0 ? 'no arguments' : spec.positionals.map((p) => `<${p}>`).join(' ');
    throw new UsageError(`${command} takes ${want}, got ${parsed.positionals.length === 0 ? 'none' : parsed.positionals.map((p) => JSON.stringify(p)).join(' ')}`, command);
  }
  return { command, help: false, positionals: parsed.positionals, values };
}

/** A positive number option, or its default. */
export function numberOption(values: Parsed['values'], name: string, fallback: number, command: Command, opts: { integer?: boolean; min?: number } = {}): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  const min = opts.min ?? Number.MIN_VALUE;
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < min || (opts.integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} expects ${opts.integer ? 'an integer' : 'a number'} of at least ${min === Number.MIN_VALUE ? 'just over 0' : min}, got ${JSON.stringify(raw)}`, command);
  }
  return n;
}

/** --size WxH. */
export function sizeOption(values: Parsed['values'], command: Command): { width: number; height: number } {
  const raw = values.size;
  if (raw === undefined) return { width: 1280, height: 720 };
  const m = typeof raw === 'string' ? /^(\d{2,5})x(\d{2,5})$/.exec(raw) : null;
  if (!m || Number(m[1]) < 16 || Number(m[2]) < 16) throw new UsageError(`--size expects WIDTHxHEIGHT, each at least 16 (e.g. 1280x720), got ${JSON.stringify(raw)}`, command);
  return { width: Number(m[1]), height: Number(m[2]) };
}
