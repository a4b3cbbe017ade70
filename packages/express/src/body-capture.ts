import type { ServerResponse } from 'node:http';

/** A response body being recorded for the cache fallback. */
export interface BodyCapture {
  /** The body written so far, or `undefined` when it outgrew the limit or capture was stopped. */
  body(): string | Uint8Array | undefined;
  stop(): void;
}

const TEXT_TYPE = /^\s*(text\/|application\/([\w.+-]*\+)?(json|xml|javascript))/i;

/** True when the body is UTF-8 text, kept as a string rather than bytes. */
function isUtf8Text(contentType: string): boolean {
  const charset = /charset=\s*"?([\w-]+)/i.exec(contentType)?.[1];
  return charset === undefined ? TEXT_TYPE.test(contentType) : /^utf-?8$/i.test(charset);
}

/** Records what is written to `res` (up to `limit` bytes) by wrapping its `write` and `end`. */
export function captureBody(res: ServerResponse, limit: number): BodyCapture {
  const chunks: Buffer[] = [];
  let size = 0;
  let collecting = true;
  const collect = (chunk: unknown, encoding: unknown): void => {
    if (!collecting || chunk === undefined || chunk === null || typeof chunk === 'function') return;
    let buffer: Buffer;
    if (typeof chunk === 'string')
      buffer = Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    else if (chunk instanceof Uint8Array) buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else return;
    size += buffer.length;
    if (size > limit) {
      collecting = false;
      chunks.length = 0;
      return;
    }
    chunks.push(buffer);
  };
  const write = res.write;
  const end = res.end;
  const target = res as unknown as Record<string, unknown>;
  target.write = function (this: ServerResponse, ...args: unknown[]) {
    collect(args[0], args[1]);
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  };
  target.end = function (this: ServerResponse, ...args: unknown[]) {
    collect(args[0], args[1]);
    return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
  };
  return {
    body() {
      if (!collecting) return undefined;
      const body = Buffer.concat(chunks);
      return isUtf8Text(String(res.getHeader('content-type') ?? '')) ? body.toString('utf8') : body;
    },
    stop() {
      collecting = false;
      chunks.length = 0;
    },
  };
}
