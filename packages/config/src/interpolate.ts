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
  const missing: string[] = [];
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
      // Every unset variable of the text is named, not only the first.
      if (!missing.includes(variable)) missing.push(variable);
      value = '';
    }
    out += text.slice(index, start) + value;
    references++;
    index = end + 1;
  }
  if (missing.length > 0) return { ok: false, message: unsetMessage(text, missing) };
  const whole = references === 1 && !escaped && /^\$\{[^}]*\}$/.test(text);
  return { ok: true, value: out, whole, changed: true };
}

function unsetMessage(text: string, missing: string[]): string {
  const [first = ''] = missing;
  if (missing.length === 1) {
    return `got ${JSON.stringify(text)}, but the environment variable ${first} is not set (write \${${first}:-value} to give a default)`;
  }
  const names = `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}`;
  return `got ${JSON.stringify(text)}, but the environment variables ${names} are not set (write \${${first}:-value} to give a default)`;
}
