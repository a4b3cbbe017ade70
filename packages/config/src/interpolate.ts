/** Environment variables, as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A string after `${VAR}` substitution, or why it could not be substituted. */
export type Interpolation =
  | { ok: true; value: string /** The text was one `${…}` and nothing else. */; whole: boolean; changed: boolean }
  | { ok: false; message: string };

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * Substitutes `${VAR}` (which must be set) and `${VAR:-default}` (default when unset or empty)
 * from `env`; `$${` stands for a literal `${`.
 */
export function interpolate(text: string, env: Env): Interpolation {
  if (!text.includes('${')) return { ok: true, value: text, whole: false, changed: false };
  let out = '';
  let index = 0;
  let references = 0;
  let escaped = false;
  while (index < text.length) {
    const start = text.indexOf('${', index);
    if (start === -1) {
      out += text.slice(index);
      break;
    }
    if (start > index && text[start - 1] === '$') {
      out += `${text.slice(index, start - 1)}\${`;
      index = start + 2;
      escaped = true;
      continue;
    }
    const end = text.indexOf('}', start + 2);
    const match = end === -1 ? null : REFERENCE.exec(text.slice(start + 2, end));
    if (match === null) {
      return {
        ok: false,
        message: `got ${JSON.stringify(text)}, expected \${NAME} or \${NAME:-default} (NAME of letters, digits and _; $\${ for a literal \${)`,
      };
    }
    const [, variable = '', fallback] = match;
    const found = env[variable];
    let value: string;
    if (fallback !== undefined) value = found === undefined || found === '' ? fallback : found;
    else if (found !== undefined) value = found;
    else {
      return {
        ok: false,
        message: `got ${JSON.stringify(text)}, but the environment variable ${variable} is not set (write \${${variable}:-value} to give a default)`,
      };
    }
    out += text.slice(index, start) + value;
    references++;
    index = end + 1;
  }
  const whole = references === 1 && !escaped && /^\$\{[^}]*\}$/.test(text);
  return { ok: true, value: out, whole, changed: true };
}
