/**
 * PutMedia acknowledgement stream: the HTTP 200 response body is a sequence of
 * JSON objects, one per event, with or without whitespace between them.
 */

export type AckEventType = 'BUFFERING' | 'RECEIVED' | 'PERSISTED' | 'ERROR' | 'IDLE';

export interface Ack {
  EventType: AckEventType;
  /** Cluster timecode of the fragment the event is about (absent for IDLE). */
  FragmentTimecode?: number;
  FragmentNumber?: string;
  ErrorId?: number;
  ErrorCode?: string;
}

/** Incremental splitter for a stream of concatenated JSON objects. */
export class AckParser {
  private pending = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;
  private scanned = 0;

  /** Feeds response text; returns the complete events it finished. Throws on malformed JSON. */
  push(text: string): Ack[] {
    this.pending += text;
    const out: Ack[] = [];
    let i = this.scanned;
    for (; i < this.pending.length; i++) {
      const c = this.pending[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (c === '"') {
        if (this.depth === 0) throw new Error('PutMedia ack stream: string outside an object');
        this.inString = true;
      } else if (c === '{') {
        if (this.depth === 0) this.start = i;
        this.depth++;
      } else if (c === '}') {
        if (this.depth === 0) throw new Error('PutMedia ack stream: unbalanced "}"');
        if (--this.depth === 0) {
          out.push(toAck(JSON.parse(this.pending.slice(this.start, i + 1)) as Record<string, unknown>));
          this.start = -1;
        }
      } else if (this.depth === 0 && !/\s/.test(c)) {
        throw new Error(`PutMedia ack stream: unexpected ${JSON.stringify(c)}`);
      }
    }
    // Keep only an unfinished object.
    if (this.depth === 0) {
      this.pending = '';
      this.scanned = 0;
    } else {
      this.pending = this.pending.slice(this.start);
      this.scanned = this.pending.length;
      this.start = 0;
    }
    if (this.pending.length > 1024 * 1024) throw new Error('PutMedia ack stream: event larger than 1 MiB');
    return out;
  }
}

const TYPES = new Set(['BUFFERING', 'RECEIVED', 'PERSISTED', 'ERROR', 'IDLE']);

function toAck(o: Record<string, unknown>): Ack {
  const type = o.EventType;
  if (typeof type !== 'string' || !TYPES.has(type)) throw new Error(`PutMedia ack with unknown EventType ${JSON.stringify(type)}`);
  const ack: Ack = { EventType: type as AckEventType };
  if (o.FragmentTimecode !== undefined) ack.FragmentTimecode = Number(o.FragmentTimecode);
  if (o.FragmentNumber !== undefined) ack.FragmentNumber = String(o.FragmentNumber);
  if (o.ErrorId !== undefined) ack.ErrorId = Number(o.ErrorId);
  if (o.ErrorCode !== undefined) ack.ErrorCode = String(o.ErrorCode);
  return ack;
}
