/**
 * kvssink (AWS's GStreamer plugin from the C++ producer SDK) as the pipeline
 * tail: found through GST_PLUGIN_PATH, fed avc/au H.264, credentials through a
 * credential file (never the launch string).
 */
import { hasElement } from '../gst/registry.js';

export const KVSSINK = 'kvssink';

export interface KvssinkSettings {
  streamName: string;
  region: string;
  credentialPath: string;
  retentionHours?: number;
  /** Fragment duration, ms. */
  fragmentMs?: number;
  /** Buffer duration, s. */
  bufferSeconds?: number;
  /** Content store size, MB (kvssink storage-size). */
  storageSizeMb?: number;
}

/** Stream names KVS accepts; anything else would also be unsafe in a launch string. */
export const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,256}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

export function kvssinkAvailable(): Promise<boolean> {
  return hasElement(KVSSINK);
}

/** The launch-string tail for kvssink. Holds no secret: credentials are in the file at credentialPath. */
export function kvssinkLaunch(s: KvssinkSettings): string {
  if (!STREAM_NAME.test(s.streamName)) throw new RangeError(`invalid KVS stream name ${JSON.stringify(s.streamName)}`);
  if (!REGION.test(s.region)) throw new RangeError(`invalid AWS region ${JSON.stringify(s.region)}`);
  if (/[\s"'!]/.test(s.credentialPath)) throw new RangeError('credential path must not contain spaces, quotes or "!"');
  const props = [
    `name=${KVSSINK}`,
    `stream-name=${s.streamName}`,
    `aws-region=${s.region}`,
    `credential-path=${s.credentialPath}`,
    `storage-size=${Math.max(1, Math.round(s.storageSizeMb ?? 128))}`,
    'restart-on-error=true',
  ];
  if (s.retentionHours !== undefined) props.push(`retention-period=${Math.round(s.retentionHours)}`);
  if (s.fragmentMs !== undefined) props.push(`fragment-duration=${Math.round(s.fragmentMs)}`);
  if (s.bufferSeconds !== undefined) props.push(`buffer-duration=${Math.round(s.bufferSeconds)}`);
  return `${KVSSINK} ${props.join(' ')}`;
}
