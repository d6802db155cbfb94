export {
  SkyLine,
  USE_LAST_VALUE,
  FPS_METER_WARMUP_FRAMES,
  type SkyLineOptions,
  type SkyLineState,
  type SkyLineStats,
  type SkyLineEvents,
  type StartOptions,
  type PutOptions,
  type SessionInfo,
  type ReconnectOptions,
  type ReconnectInfo,
  type TimestampMode,
} from './skyline.js';
export { TRANSITIONS } from './lifecycle.js';
export { MultiSkyLine, type MultiSkyLineOptions } from './multi-skyline.js';
export {
  DestinationError,
  type Destination,
  type DestinationEvents,
  type DestinationLink,
  type DestinationReconnect,
  type DestinationState,
  type DestinationStats,
  type VideoInfo,
} from './destinations/destination.js';
export type { AttachOptions } from './destinations/fanout.js';
export { FileDestination, type FileDestinationOptions } from './destinations/file/file-destination.js';
export { RtspDestination, type RtspDestinationOptions } from './destinations/rtsp/rtsp-destination.js';
export { WebDestination, type WebDestinationOptions } from './destinations/web/web-destination.js';
export { HlsDestination, type HlsDestinationOptions } from './destinations/hls/hls-destination.js';
export type { HlsRequestCounters } from './hls/routes.js';
export { RtmpDestination, type RtmpDestinationOptions } from './destinations/rtmp/rtmp-destination.js';
export { SrtDestination, SrtError, SRT_MAX_REJECTIONS, type SrtDestinationOptions, type SrtDestinationStats, type SrtErrorCode, type SrtMode, type SrtStats } from './destinations/srt/srt-destination.js';
export { KvsDestination, type KvsDestinationOptions, type KvsDestinationStats } from './destinations/kvs/kvs-destination.js';
export { FileSkyLine, type FileSkyLineOptions, type Container } from './file/file-skyline.js';
export { parseSidecar, type SidecarRow } from './destinations/file/timestamps-sidecar.js';
export { PIXEL_FORMATS, type PixelFormat, type Frame, type FrameInput, type MatLike, type ImageDataLike } from './frame.js';
export { ENCODERS, type EncoderName } from './encoder.js';
export { GstError } from './gst/pipeline.js';
export type { AccessUnit } from './h264/access-unit.js';
export { RTSPSkyLine, type RTSPSkyLineOptions, type RTSPSkyLineStats, type RTSPSkyLineEvents } from './rtsp/rtsp-skyline.js';
export { RTSPServer, type RTSPServerOptions, type RTSPServerStats } from './rtsp/server.js';
export type { RtspMount, MountOptions, MountStats } from './rtsp/mount.js';
export type { RtspAuthOptions, AuthScheme } from './rtsp/auth.js';
export { RtmpSkyLine, type RtmpSkyLineOptions, type RtmpSinkElement, type RtmpSkyLineEvents } from './rtmp/rtmp-skyline.js';
export { RtmpError, type RtmpErrorCode } from './rtmp/errors.js';
export { parseRtmpUrl, rtmpTarget, RtmpUrlError, type RtmpTarget, type RtmpTargetOptions, type RtmpScheme } from './rtmp/url.js';
export { KVSSkyLine, type KVSSkyLineOptions, type KVSSkyLineEvents, type KVSSkyLineStats, type KvsSinkChoice } from './kvs/kvs-skyline.js';
export { KvsError } from './kvs/errors.js';
export type { KvsAckEvent, ProducerStats as KvsProducerStats } from './kvs/producer.js';
export type { Ack as KvsAck, AckEventType as KvsAckEventType } from './kvs/acks.js';
export { TestPattern } from './pattern/test-pattern.js';
export { PatternSource, type PatternSourceOptions, type TimedFrame } from './pattern/pattern-source.js';
export { savePng } from './image/png.js';
export { WebSkyLine, type WebSkyLineOptions, type WebSkyLineStats, type WebSkyLineEvents } from './web/web-skyline.js';
export { WebServer, type WebServerOptions, type WebServerStats, type WebMountOptions } from './web/web-server.js';
export type { WebPreviewOptions } from './web/preview.js';
export type { WebAuthOptions, WebTokenAuth } from './web/auth.js';
export type { WebStream, WebStreamStats } from './web/stream.js';
export { LiveSource, type LiveSourceOptions, type LiveSourceState, type LiveSourceStats, type LiveSourceEvents, type SourceFrame, type ProbeInfo } from './ingest/live-source.js';
export { SourceError, type SourceErrorCode } from './ingest/errors.js';
export { SOURCE_TRANSITIONS } from './ingest/source-lifecycle.js';
export type { RtspTlsOptions } from './ingest/rtsp-reader.js';
export { OUTPUT_FORMATS as SOURCE_FORMATS, type OutputFormat as SourceFormat } from './ingest/decoder.js';
