// Reaches the encoder pipelines a SkyLine plays, through the Pipeline class itself: tests stall,
// pause or kill the encoder, or make its start fail, without any hook in the SkyLine.
import { Pipeline } from '../../src/gst/pipeline.js';

export interface EncoderPipelines {
  /** The encoder pipeline played last. */
  readonly last: Pipeline | undefined;
  /** While true, play() of an encoder pipeline throws (a pipeline that cannot start). */
  failPlays: boolean;
  /** While true, an encoder pipeline is paused right after it plays: frames go in, nothing comes out. */
  stallPlays: boolean;
  restore(): void;
}

/** Watches Pipeline.prototype.play until restore(); encoder pipelines are those fed by appsrc "src". */
export function encoderPipelines(): EncoderPipelines {
  const play = Pipeline.prototype.play;
  const state: EncoderPipelines = {
    last: undefined,
    failPlays: false,
    stallPlays: false,
    restore: () => {
      Pipeline.prototype.play = play;
    },
  };
  Pipeline.prototype.play = function (this: Pipeline, ...args: Parameters<Pipeline['play']>): void {
    if (!this.description.startsWith('appsrc name=src ')) return play.apply(this, args);
    (state as { last: Pipeline | undefined }).last = this;
    if (state.failPlays) throw new Error('no such property');
    play.apply(this, args);
    if (state.stallPlays) this.pause();
  };
  return state;
}
