// Configuration from options and .env, applied to process.env before GStreamer starts
// (gst_init reads GST_* once, when the binding is first loaded). Never logs values.
import { config as loadDotenv } from 'dotenv';
import { isLoaded } from './gst/binding.js';

export interface EnvOptions {
  /** Path of a .env file; default: .env in the working directory, if present. */
  dotenvPath?: string;
  /** GST_DEBUG_FILE: where GStreamer writes its own log. */
  gstLogFile?: string;
  /** GST_DEBUG, e.g. "2" or "x264enc:5,*:2". */
  gstLogLevel?: string;
}

/** Returns the names of settings that arrived too late to affect GStreamer. */
export function applyEnvironment(opts: EnvOptions): string[] {
  const before = { ...pickGst(process.env) };
  // .env never overrides variables the process already has.
  loadDotenv({ path: opts.dotenvPath, override: false, quiet: true } as Parameters<typeof loadDotenv>[0]);
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
