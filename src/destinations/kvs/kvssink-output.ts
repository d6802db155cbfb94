// KVS through AWS's kvssink GStreamer plugin (found through GST_PLUGIN_PATH): the access units go
// into a pooled `appsrc ! h264parse ! kvssink` pipeline; credentials reach kvssink through a file
// we keep fresh, never the launch string. kvssink buffers and retries on its own.
import type { AccessUnit } from '../../h264/access-unit.js';
import { EncodedSink } from '../../gst/encoded-sink.js';
import type { GstError } from '../../gst/pipeline.js';
import { KvssinkCredentialFile } from '../../kvs/credentials.js';
import { kvssinkLaunch, KVSSINK } from '../../kvs/kvssink.js';
import type { KvsPutMedia, KvsSettings } from '../../kvs/kvs-stream.js';
import type { VideoInfo } from '../destination.js';

/** write() returns false while appsrc holds this many buffers or more. */
const QUEUE_LIMIT = 16;
const START_TIMEOUT_MS = 10_000;

/** Whether a restart may cure a kvssink error: connection trouble, not credentials or configuration. */
export function retryableKvssinkError(err: GstError): boolean {
  const text = `${err.message} ${err.debug ?? ''}`;
  return err.element === KVSSINK && /timeout|connect|network|curl/i.test(text) && !/credential|access|denied|forbidden|unauthori[sz]ed/i.test(text);
}

export class KvssinkOutput {
  private credentialFile: KvssinkCredentialFile | undefined;
  private sink: EncodedSink | undefined;
  private ptsBase: number | undefined;
  private lastDescription: string | undefined;

  constructor(
    private readonly settings: KvsSettings & { storageSizeMb?: number },
    private readonly kvs: KvsPutMedia,
    /** kvssink failed while streaming. */
    private readonly failed: (err: Error) => void,
  ) {}

  /** The pipeline's launch string (credential path, no secret). */
  get description(): string | undefined {
    return this.lastDescription;
  }

  async open(video: VideoInfo): Promise<void> {
    // One file path for every open: it is in the launch string, and the same description lets
    // the pooled pipeline be reused (the binding never frees one).
    this.credentialFile ??= new KvssinkCredentialFile(this.kvs.credentials, (err) =>
      this.failed(this.kvs.clean(new Error(`refreshing the kvssink credential file failed: ${err.message}`))),
    );
    const credentialPath = await this.credentialFile.start();
    const s = this.settings;
    const sink = new EncodedSink(video, kvssinkLaunch({
      streamName: s.streamName,
      region: s.region,
      credentialPath,
      retentionHours: s.retentionHours,
      fragmentMs: s.fragmentSeconds! * 1000,
      bufferSeconds: s.bufferSeconds,
      storageSizeMb: s.storageSizeMb,
    }));
    this.sink = sink;
    this.lastDescription = sink.description;
    this.ptsBase = undefined;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kvssink did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      let started = false;
      sink.start({
        onStarted: () => {
          clearTimeout(timer);
          started = true;
          resolve();
        },
        onError: (err) => {
          clearTimeout(timer);
          if (!started) reject(this.kvs.clean(err));
          else this.failed(this.kvs.clean(err));
        },
      });
    }).catch(async (err: Error) => {
      await this.stop();
      throw err;
    });
  }

  /** False when kvssink's queue is full (offer it again later). */
  write(au: AccessUnit): boolean {
    const sink = this.sink;
    if (!sink) return true;
    if (sink.level() >= QUEUE_LIMIT) return false;
    this.ptsBase ??= au.ptsNs;
    sink.push(au, au.ptsNs - this.ptsBase);
    return true;
  }

  hasRoom(): boolean {
    return (this.sink?.level() ?? 0) < QUEUE_LIMIT / 2;
  }

  /** EOS through kvssink (it sends what it holds), within `signal`; then the credential file goes. */
  async close(signal: AbortSignal): Promise<void> {
    await this.sink?.finish(signal);
    await this.stop();
  }

  async dispose(): Promise<void> {
    await this.stop();
    await this.credentialFile?.dispose();
    this.credentialFile = undefined;
  }

  private async stop(): Promise<void> {
    this.sink?.stop();
    this.sink = undefined;
    await this.credentialFile?.stop();
  }
}
