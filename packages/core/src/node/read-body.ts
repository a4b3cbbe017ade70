import type { IncomingMessage } from 'node:http';

/** Largest request body read for forwarding to an alternative service. */
export const MAX_BODY_BYTES = 1_048_576;

function readStream(req: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        cleanup();
        req.resume();
        reject(new RangeError(`request body larger than ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('request closed before its body was read'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function isFlat(value: object): value is Record<string, string | string[]> {
  return Object.values(value).every(
    (item) => typeof item === 'string' || (Array.isArray(item) && item.every((v) => typeof v === 'string')),
  );
}

/**
 * A request body as a parser left it, serialized again for forwarding: no longer in the
 * `Content-Encoding` the request came with (parsers inflate it), and sent as `contentType`, which
 * differs from the request's own when the parser's result could not be written back in it (a
 * nested form only JSON can carry, text decoded from another charset).
 */
export interface ParsedBody {
  readonly parsed: Uint8Array | string;
  readonly contentType: string | undefined;
}

const JSON_TYPE = /^\s*application\/([\w.+-]*\+)?json\s*(;|$)/i;
const CHARSET = /;\s*charset\s*=\s*("?)([^;"]*)\1/i;

/** `contentType` with its charset made UTF-8, which is what a JavaScript string is sent in. */
function inUtf8(contentType: string | undefined): string | undefined {
  const charset = contentType === undefined ? undefined : CHARSET.exec(contentType);
  if (charset === null || charset === undefined || /^utf-?8$/i.test(charset[2] as string)) return contentType;
  return (contentType as string).replace(CHARSET, '; charset=utf-8');
}

/** What an adapter tells `readBody` of its framework's body parsers. */
export interface ParserTraits {
  /**
   * Whether the parsers inflate a body sent with a `Content-Encoding` (body-parser and co-body
   * do; Fastify's do not), for bytes whose length cannot tell (a chunked request): they are then
   * sent without it, else with it. Default true.
   */
  inflate?: boolean;
}

/** The request's `Content-Length`, or undefined when it has none (a chunked request). */
function declaredLength(req: IncomingMessage): number | undefined {
  const length = req.headers['content-length'];
  return length === undefined ? undefined : Number(length);
}

/**
 * Whether bytes a parser left are the body as it was sent, still in its `Content-Encoding`:
 * their length is the request's (an inflated body's is not), or, without a length to compare,
 * as the adapter says its parsers leave them.
 */
function asSent(req: IncomingMessage, bytes: Uint8Array, traits: ParserTraits): boolean {
  if (req.headers['content-encoding'] === undefined) return true;
  const length = declaredLength(req);
  return length === undefined ? traits.inflate === false : bytes.byteLength === length;
}

/**
 * Whether a string a parser left under a JSON type is the body's own text (a parser that keeps
 * it raw, to check a signature, say), rather than a JSON string value it parsed: the text has
 * the request's length (a parsed string is two quotes shorter at least). Without a length to
 * compare (a chunked or encoded request), it is taken for a parsed value: its content cannot
 * tell, as a string value may hold JSON itself.
 */
function isRawText(req: IncomingMessage, text: string): boolean {
  const length = req.headers['content-encoding'] === undefined ? declaredLength(req) : undefined;
  return length !== undefined && Buffer.byteLength(text) === length;
}

function serialize(req: IncomingMessage, parsed: unknown, traits: ParserTraits): Uint8Array | ParsedBody | undefined {
  const contentType = req.headers['content-type'];
  if (parsed === undefined) return undefined;
  // Bytes as they came, encoding and all: forwarded with the request's own headers.
  if (parsed instanceof Uint8Array) return asSent(req, parsed, traits) ? parsed : { parsed, contentType };
  const isJson = contentType !== undefined && JSON_TYPE.test(contentType);
  if (isJson) {
    // A JSON body may parse to any JSON value, a string or null included: written back as JSON.
    const raw = typeof parsed === 'string' && isRawText(req, parsed);
    return { parsed: raw ? parsed : JSON.stringify(parsed), contentType: inUtf8(contentType) };
  }
  if (parsed === null) return undefined;
  if (typeof parsed !== 'object') return { parsed: String(parsed), contentType: inUtf8(contentType) };
  if (contentType?.toLowerCase().includes('application/x-www-form-urlencoded') && isFlat(parsed)) {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(parsed)) {
      for (const item of Array.isArray(value) ? value : [value]) form.append(name, item);
    }
    return { parsed: form.toString(), contentType: inUtf8(contentType) };
  }
  return { parsed: JSON.stringify(parsed), contentType: 'application/json' };
}

/** Whether the request carries a body (RFC 9112 §6.3): a `Transfer-Encoding`, or a `Content-Length` above 0. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) !== 0);
}

/**
 * The request body for forwarding: the raw bytes when nothing has read the stream yet (at most
 * 1 MiB), else what a body parser left (see `ParsedBody`: a string or bytes as they are, a flat
 * form as a form, other objects as JSON). Rejects when the body is no longer there to forward:
 * read in part (the handler was still receiving it), or read in full by something that left
 * nothing parsed (a handler that consumed the stream itself). Forwarding would send the request
 * without its body.
 */
export function readBody(
  req: IncomingMessage,
  parsed: unknown,
  traits: ParserTraits = {},
): Promise<Uint8Array | ParsedBody | undefined> {
  if (!req.readableDidRead && !req.readableEnded) return readStream(req);
  if (!req.readableEnded) return Promise.reject(new Error('the request body was being read by the handler'));
  if (parsed === undefined && hasBody(req)) {
    return Promise.reject(new Error('the request body was read by the handler and left nothing parsed'));
  }
  return Promise.resolve(serialize(req, parsed, traits));
}
