import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** A response body being recorded for the cache fallback. */
export interface BodyCapture {
  /** The body written so far, or `undefined` when it outgrew the limit or capture was stopped. */
  body(): string | Uint8Array | undefined;
  /**
   * The response's headers, those given to `res.writeHead()` included: Node writes those
   * straight out, without putting them where `res.getHeaders()` reads, when no header was set
   * before. What the cache decides on (`Cache-Control: private`, `Set-Cookie`) is often there.
   */
  headers(): OutgoingHttpHeaders;
  stop(): void;
}

const TEXT_TYPE = /^\s*(text\/|application\/([\w.+-]*\+)?(json|xml|javascript))/i;

/** True when the body is UTF-8 text, kept as a string rather than bytes. */
function isUtf8Text(contentType: string): boolean {
  const charset = /charset=\s*"?([\w-]+)/i.exec(contentType)?.[1];
  return charset === undefined ? TEXT_TYPE.test(contentType) : /^utf-?8$/i.test(charset);
}

/** The headers argument of a `writeHead` call (an object, or a flat `[name, value, …]` array), by lowercase name. */
function headersOf(args: unknown[]): OutgoingHttpHeaders {
  const given = args.find((arg, index) => index > 0 && typeof arg === 'object' && arg !== null);
  const headers: OutgoingHttpHeaders = {};
  if (Array.isArray(given)) {
    for (let i = 0; i + 1 < given.length; i += 2)
      headers[String(given[i]).toLowerCase()] = given[i + 1] as OutgoingHttpHeaders[string];
  } else if (given !== undefined) {
    for (const [name, value] of Object.entries(given as Record<string, unknown>))
      headers[name.toLowerCase()] = value as OutgoingHttpHeaders[string];
  }
  return headers;
}

/** Records what is written to `res` (up to `limit` bytes) by wrapping its `write`, `end` and `writeHead`. */
export function captureBody(res: ServerResponse, limit: number): BodyCapture {
  let written: OutgoingHttpHeaders = {};
  const headers = (): OutgoingHttpHeaders => ({ ...written, ...res.getHeaders() });
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
  const writeHead = res.writeHead;
  const target = res as unknown as Record<string, unknown>;
  target.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    written = { ...written, ...headersOf(args) };
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  };
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
      return isUtf8Text(String(headers()['content-type'] ?? '')) ? body.toString('utf8') : body;
    },
    headers,
    stop() {
      collecting = false;
      chunks.length = 0;
    },
  };
}
