import { invalidOption } from '../errors/invalid-option.js';

/** Which response statuses count as failures: a list, or a predicate. */
export type FailureStatusCodes = readonly number[] | ((status: number) => boolean);

const serverError = (status: number): boolean => status >= 500;

/**
 * Returns the predicate that classifies a response status: by default every status ≥ 500 is
 * a failure and everything else (4xx included) a success.
 */
export function statusClassifier(codes?: FailureStatusCodes): (status: number) => boolean {
  if (codes === undefined) return serverError;
  if (typeof codes === 'function') return codes;
  if (!Array.isArray(codes)) {
    throw invalidOption('failureStatusCodes', codes, 'an array of status codes or a function');
  }
  for (const code of codes) {
    if (!Number.isInteger(code) || code < 100 || code > 599) {
      throw invalidOption('failureStatusCodes', code, 'HTTP status codes from 100 to 599 in the list');
    }
  }
  const set = new Set(codes);
  return (status) => set.has(status);
}

/** The failure recorded for a response whose status counts as one. */
export class HttpStatusError extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`Response status ${status}`);
    this.name = 'HttpStatusError';
    this.status = status;
  }
}
