/** A location in a configuration document: mapping keys and list indexes. */
export type Segment = string | number;

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

/** `circuit_breakers.services.payment_api.failure_status_codes[1]`; odd keys are quoted: `services["api.example.com"]`. */
export function formatPath(segments: readonly Segment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Describes a value found in a file, briefly: strings quoted, mappings and long lists summarised. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    const json = JSON.stringify(value);
    return json.length <= 60 ? json : `a list of ${value.length} items`;
  }
  return 'a mapping';
}

/** A problem at a location, before it is given a dotted path and a line. */
export interface Finding {
  segments: Segment[];
  message: string;
}
