// Configuration from options and an optional .env file, applied to process.env before GStreamer
// starts (gst_init reads GST_* once, when the binding is first loaded). Never logs values.
import { config as loadDotenv } from 'dotenv';
import { isLoaded } from './gst/binding.js';

export interface EnvOptions {
  /**
   * Path of a .env file to load. Default: none. A .env is read only when named: the working
   * directory may be a cloned repository, and variables such as NODE_OPTIONS or GST_PLUGIN_PATH
   * run code.
   */
  dotenvPath?: string;
  /** GST_DEBUG_FILE: where GStreamer writes its own log. */
  gstLogFile?: string;
  /** GST_DEBUG, e.g. "2" or "x264enc:5,*:2". */
  gstLogLevel?: string;
}

/** Variables a .env file may never set: each makes a process load code (Node, the dynamic linker). */
export function refusedFromDotenv(name: string): boolean {
  return /^(NODE_OPTIONS|NODE_PATH|NODE_EXTRA_CA_CERTS|LD_.*|DYLD_.*)$/.test(name);
}

/** Returns the names of settings that arrived too late to affect GStreamer. */
export function applyEnvironment(opts: EnvOptions): string[] {
  const before = { ...pickGst(process.env) };
  if (opts.dotenvPath !== undefined) {
    const parsed: Record<string, string> = {};
    loadDotenv({ path: opts.dotenvPath, processEnv: parsed, quiet: true } as Parameters<typeof loadDotenv>[0]);
    // .env never overrides variables the process already has.
    for (const [k, v] of Object.entries(parsed)) if (!refusedFromDotenv(k) && process.env[k] === undefined) process.env[k] = v;
  }
  if (opts.gstLogFile) process.env.GST_DEBUG_FILE = opts.gstLogFile;
  if (opts.gstLogLevel) process.env.GST_DEBUG = opts.gstLogLevel;
  if (!isLoaded()) return [];
  const after = pickGst(process.env);
  return Object.keys(after).filter((k) => after[k] !== before[k]);
}

function pickGst(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return {
    GST_PLUGIN_PATH: env.GST_PLUGIN_PATH,
    GST_DEBUG: env.GST_DEBUG,
    GST_DEBUG_FILE: env.GST_DEBUG_FILE,
  };
}
