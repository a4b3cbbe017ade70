const HEX = '0123456789ABCDEF';

/**
 * Turns any string into printable ASCII without `{`, `}` or `%`, one-to-one: printable ASCII
 * stays as it is, `%`, braces, spaces and everything else become `%XX` (UTF-8 bytes), and a
 * lone surrogate, which has no UTF-8 form, becomes `%uXXXX`.
 */
export function escapeName(name: string): string {
  let out = '';
  for (const char of name) {
    const code = char.codePointAt(0) as number;
    if (code > 0x20 && code < 0x7f && char !== '%' && char !== '{' && char !== '}') {
      out += char;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      out += `%u${code.toString(16).toUpperCase().padStart(4, '0')}`;
    } else {
      for (const byte of Buffer.from(char, 'utf8')) out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
    }
  }
  return out;
}

/** The Redis keys of one breaker; they share a hash tag, so Redis Cluster keeps them in one slot. */
export interface BreakerKeys {
  /** The escaped name: what messages carry. */
  tag: string;
  /** Hash: state, epoch, open period, probe owner and lease. */
  state: string;
  /** Hash: window counts, four fields per bucket. */
  counts: string;
}

export function breakerKeys(prefix: string, name: string): BreakerKeys {
  const tag = escapeName(name);
  // Breaker names are never empty, so neither is the hash tag (Redis ignores `{}`).
  const base = `${prefix}{${tag}}`;
  return { tag, state: `${base}:state`, counts: `${base}:counts` };
}
