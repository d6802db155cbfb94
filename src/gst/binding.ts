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

export function loadBinding(): NativeModule {
  if (!native) {
    const require = createRequire(import.meta.url);
    native = require('gstreamer-superficial') as NativeModule;
  }
  return native;
}
