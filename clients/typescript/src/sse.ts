// A parser of `text/event-stream` (the WHATWG "server-sent events" format), fed chunk by chunk.
//
// Lines end with CRLF, LF or CR (a CR at the end of one chunk and an LF at the start of the next
// are one line end); a blank line dispatches the message gathered so far; `:` starts a comment
// (the server's keep-alives); a field name without a colon has an empty value; one space after
// the colon is dropped. A message without data is not dispatched, as in browsers. No I/O here:
// `events.ts` feeds it the bytes of a fetch response.

/** One dispatched server-sent message. */
export interface SseMessage {
  /** `event:` — `message` when the server named none. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The last `id:` seen on the stream so far (the "last event ID" a reconnect sends), if any. */
  id: string | undefined;
  /** `retry:` — the reconnection time the server asked for, in milliseconds, if it sent one. */
  retry: number | undefined;
}

/** Incremental parser: `push` text as it arrives, get back the messages it completed. */
export class SseParser {
  #buffer = '';
  /** The previous chunk ended with CR: an LF opening the next one belongs to that line end. */
  #pendingCr = false;
  #started = false;
  #event = '';
  #data: string[] = [];
  #hasData = false;
  #lastId: string | undefined;
  #retry: number | undefined;

  /** The last event ID seen (it persists across messages, as the format says). */
  get lastEventId(): string | undefined {
    return this.#lastId;
  }

  /** Feeds decoded text; returns the messages completed by it, in order. */
  push(text: string): SseMessage[] {
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCr = false;
    this.#buffer += text;
    const out: SseMessage[] = [];
    let start = 0;
    for (;;) {
      let end = -1;
      for (let i = start; i < this.#buffer.length; i++) {
        const c = this.#buffer.charCodeAt(i);
        if (c === 10 || c === 13) {
          end = i;
          break;
        }
      }
      if (end < 0) break;
      const line = this.#buffer.slice(start, end);
      if (this.#buffer.charCodeAt(end) === 13) {
        if (end + 1 === this.#buffer.length) {
          this.#pendingCr = true;
          start = end + 1;
        } else {
          start = this.#buffer.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
        }
      } else {
        start = end + 1;
      }
      const m = this.#line(line);
      if (m) out.push(m);
    }
    this.#buffer = this.#buffer.slice(start);
    return out;
  }

  /** The stream ended: an unterminated message is discarded (the format says so). */
  end(): void {
    this.#buffer = '';
    this.#pendingCr = false;
    this.#reset();
  }

  #reset(): void {
    this.#event = '';
    this.#data = [];
    this.#hasData = false;
  }

  #line(line: string): SseMessage | undefined {
    if (line === '') {
      if (!this.#hasData) {
        this.#reset();
        return undefined;
      }
      const m: SseMessage = {
        event: this.#event || 'message',
        data: this.#data.join('\n'),
        id: this.#lastId,
        retry: this.#retry,
      };
      this.#reset();
      return m;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#event = value;
        break;
      case 'data':
        this.#data.push(value);
        this.#hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.#lastId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.#retry = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }
}

/** The messages of a byte stream (a fetch response body), decoded as UTF-8 across chunks. */
export async function* sseMessages(
  body: ReadableStream<Uint8Array>,
  parser: SseParser = new SseParser(),
): AsyncGenerator<SseMessage, void, undefined> {
  const decoder = new TextDecoder('utf-8');
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(decoder.decode());
    parser.end();
  } finally {
    // Stops the body when the consumer stops early (break, return or an error).
    reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
