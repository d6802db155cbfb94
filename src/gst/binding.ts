// The only module that loads gstreamer-superficial. Loading it runs gst_init, which reads
// GST_PLUGIN_PATH / GST_DEBUG / GST_DEBUG_FILE once: the configuration must be in
// process.env before the first load, so it happens lazily, on the first pipeline.
import { createRequire } from 'node:module';

/** The subset of the native binding we use, typed. */
export interface NativeElement {
  [property: string]: unknown;
  push?(data: Buffer, pts?: Buffer): void;
}

export interface NativeBusMessage {
  type: string;
  _src_element_name: string;
  name?: string;
  message?: string;
  debug?: string;
  [field: string]: unknown;
}

export interface NativePipeline {
  play(): void;
  pause(): void;
  stop(): void;
  sendEOS(): void;
  forceKeyUnit(elementName: string, count: number): boolean;
  findChild(name: string): NativeElement | undefined;
  pollBus(cb: (msg: NativeBusMessage) => void): void;
  queryPosition(): number;
  'auto-flush-bus': boolean;
}

interface NativeModule {
  Pipeline: new (launch: string) => NativePipeline;
}

let native: NativeModule | undefined;

export function isLoaded(): boolean {
  return native !== undefined;
}

/** The native binding is missing or does not load: the message says how to fix it. */
export class BindingError extends Error {
  override name = 'BindingError';
}

export function loadBinding(): NativeModule {
  if (!native) {
    const require = createRequire(import.meta.url);
    try {
      native = require('gstreamer-superficial') as NativeModule;
    } catch (err) {
      throw bindingError(err as NodeJS.ErrnoException);
    }
  }
  return native;
}

/** What went wrong loading the addon, and the remedy. */
export function bindingError(err: NodeJS.ErrnoException): BindingError {
  const cause = (err.message ?? String(err)).split('\n')[0];
  const notBuilt = err.code === 'MODULE_NOT_FOUND' && /gstreamer-superficial/.test(err.message ?? '');
  const abi = /NODE_MODULE_VERSION|was compiled against a different Node\.js version/.test(err.message ?? '');
  const libs = /lib(gst|glib)[^ ]*\.so/.test(err.message ?? '');
  const remedy = notBuilt
    ? 'its native addon was not built, usually because the package manager skipped its install script. ' +
      'npm 11+: add "allowScripts": { "gstreamer-superficial": true } to your package.json; pnpm: add "gstreamer-superficial" to "pnpm.onlyBuiltDependencies"; ' +
      'make sure the build packages are there (Debian/Ubuntu: sudo apt-get install libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev g++ make pkg-config), ' +
      'then run: npm rebuild gstreamer-superficial'
    : abi
      ? `its native addon was built for another Node.js version than this one (${process.version}): run npm rebuild gstreamer-superficial`
      : libs
        ? 'GStreamer libraries are missing: sudo apt-get install gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav'
        : 'see the README\'s Install section';
  return new BindingError(`cannot load the GStreamer binding (gstreamer-superficial): ${remedy}. (${cause})`, { cause: err });
}
