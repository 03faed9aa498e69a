// The SSE parser on its own: line ends, chunk boundaries, comments, multi-line data, ids.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParser, sseMessages, type SseMessage } from '../src/sse.js';

/** Feeds `text` to a fresh parser in the given pieces; returns every message. */
function parse(pieces: string[]): SseMessage[] {
  const p = new SseParser();
  const out: SseMessage[] = [];
  for (const piece of pieces) out.push(...p.push(piece));
  return out;
}

/** Every way of cutting `text` into two pieces, and one piece per character. */
function cuts(text: string): string[][] {
  const out: string[][] = [[text], [...text]];
  for (let i = 1; i < text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  return out;
}

const STREAM =
  ': keep-alive\n\n' +
  'id: 1\ndata: {"seq":1}\n\n' +
  'id: 2\r\ndata: {"seq":2}\r\n\r\n' +
  'id: 3\rdata: {"seq":3}\r\r' +
  'event: done\ndata: {"state":"completed"}\n\n';

describe('SseParser', () => {
  it('reads messages whatever the line ends and however the stream is cut', () => {
    for (const pieces of cuts(STREAM)) {
      const got = parse(pieces);
      assert.deepEqual(
        got.map((m) => [m.event, m.data, m.id]),
        [
          ['message', '{"seq":1}', '1'],
          ['message', '{"seq":2}', '2'],
          ['message', '{"seq":3}', '3'],
          ['done', '{"state":"completed"}', '3'],
        ],
        `cut as ${JSON.stringify(pieces.length > 2 ? 'characters' : pieces)}`,
      );
    }
  });

  it('a CR at the end of a chunk and an LF at the start of the next are one line end', () => {
    const got = parse(['data: a\r', '\ndata: b\r', '\n\r', '\n']);
    assert.deepEqual(got.map((m) => m.data), ['a\nb']);
  });

  it('joins data lines with newlines, drops one leading space only, ignores unknown fields', () => {
    const got = parse(['data:x\ndata:  y\nfoo: bar\ndata\n\n']);
    assert.deepEqual(got.map((m) => m.data), ['x\n y\n']);
  });

  it('does not dispatch a message without data, and keeps the last id across messages', () => {
    const got = parse(['id: 7\n\n', 'event: ping\n\n', 'data: z\n\n']);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.id, '7');
    assert.equal(got[0]!.event, 'message');
  });

  it('reads retry:, ignores an id with NUL and a BOM at the start', () => {
    const p = new SseParser();
    const got = p.push('\ufeffretry: 1500\nid: 4\ndata: a\n\nid: x\0y\ndata: b\n\n');
    assert.deepEqual(
      got.map((m) => [m.data, m.id, m.retry]),
      [
        ['a', '4', 1500],
        ['b', '4', 1500],
      ],
    );
    assert.equal(p.lastEventId, '4');
  });

  it('discards an unterminated message at the end', () => {
    const p = new SseParser();
    assert.deepEqual(p.push('data: half'), []);
    p.end();
    assert.deepEqual(p.push('\n\n'), []);
  });
});

describe('sseMessages', () => {
  it('decodes UTF-8 split across chunks', async () => {
    const bytes = new TextEncoder().encode('data: é€😀\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const b of bytes) c.enqueue(new Uint8Array([b]));
        c.close();
      },
    });
    const got: string[] = [];
    for await (const m of sseMessages(body)) got.push(m.data);
    assert.deepEqual(got, ['é€😀']);
  });

  it('cancels the body when the consumer stops early', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('data: 1\n\ndata: 2\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const m of sseMessages(body)) {
      assert.equal(m.data, '1');
      break;
    }
    assert.equal(cancelled, true);
  });
});
