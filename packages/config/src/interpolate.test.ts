// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} here is configuration text, not a template
import { describe, expect, it } from 'vitest';
import { interpolate } from './interpolate.js';

describe('interpolate', () => {
  const env = { HOST: 'db', PORT: '5432', EMPTY: '' };

  it('leaves text without ${ untouched', () => {
    expect(interpolate('plain $HOST text', env)).toEqual({
      ok: true,
      value: 'plain $HOST text',
      whole: false,
      changed: false,
    });
  });

  it('substitutes set variables anywhere in the text', () => {
    expect(interpolate('http://${HOST}:${PORT}/x', env)).toEqual({
      ok: true,
      value: 'http://db:5432/x',
      whole: false,
      changed: true,
    });
  });

  it('marks text that was one reference and nothing else', () => {
    expect(interpolate('${PORT}', env)).toMatchObject({ value: '5432', whole: true });
    expect(interpolate(' ${PORT}', env)).toMatchObject({ value: ' 5432', whole: false });
  });

  it('uses the default when the variable is unset or empty', () => {
    expect(interpolate('${MISSING:-fallback}', env)).toMatchObject({ value: 'fallback' });
    expect(interpolate('${EMPTY:-fallback}', env)).toMatchObject({ value: 'fallback' });
    expect(interpolate('${HOST:-fallback}', env)).toMatchObject({ value: 'db' });
    expect(interpolate('${MISSING:-}', env)).toMatchObject({ value: '' });
  });

  it('keeps an empty variable without a default as empty', () => {
    expect(interpolate('[${EMPTY}]', env)).toMatchObject({ ok: true, value: '[]' });
  });

  it('reads $${ as a literal ${', () => {
    expect(interpolate('$${HOST} is ${HOST}', env)).toMatchObject({ ok: true, value: '${HOST} is db', whole: false });
  });

  it('fails on an unset variable, naming it', () => {
    expect(interpolate('${NOPE}', env)).toEqual({
      ok: false,
      message: 'got "${NOPE}", but the environment variable NOPE is not set (write ${NOPE:-value} to give a default)',
    });
  });

  it('names every unset variable of a value, not only the first', () => {
    expect(interpolate('http://${NOPE}:${ALSO}/${NOPE}/${HOST}', env)).toEqual({
      ok: false,
      message:
        'got "http://${NOPE}:${ALSO}/${NOPE}/${HOST}", but the environment variables NOPE and ALSO are not set (write ${NOPE:-value} to give a default)',
    });
  });

  it.each(['${', '${1X}', '${A B}', '${A:default}', '${}'])('fails on the malformed reference %j', (text) => {
    expect(interpolate(text, env)).toMatchObject({ ok: false, message: expect.stringContaining('expected ${NAME}') });
  });
});
