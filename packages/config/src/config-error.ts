import { BreakwaterError } from '@breakwater/core';

/** One thing wrong with a configuration file. */
export interface ConfigProblem {
  /** Where, as a dotted path (`circuit_breakers.services.payment_api.failure_threshold`); empty for the file as a whole. */
  path: string;
  /** What is wrong: the value found and what is allowed. */
  message: string;
  /** 1-based line in the file, where known. */
  line?: number;
  /** 1-based column in the file, where known. */
  column?: number;
}

/** Formats a problem as one line: `path: message (line N)`. */
export function formatProblem(problem: ConfigProblem): string {
  const where = problem.line === undefined ? '' : ` (line ${problem.line})`;
  return problem.path === '' ? `${problem.message}${where}` : `${problem.path}: ${problem.message}${where}`;
}

/**
 * Thrown by `loadConfig` and `parseConfig` for a file that cannot be used; `problems` lists
 * every problem found, not only the first.
 */
export class ConfigError extends BreakwaterError {
  readonly problems: readonly ConfigProblem[];
  /** The file's path, when the configuration was read from one. */
  readonly source: string | undefined;

  constructor(problems: readonly ConfigProblem[], source?: string) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    const lines = problems.map((p) => `  - ${formatProblem(p)}`).join('\n');
    super(
      'ECONFIG',
      `Invalid breaker configuration${source === undefined ? '' : ` in ${source}`} (${count}):\n${lines}`,
    );
    this.problems = problems;
    this.source = source;
  }
}
// Like the built-in errors (and Breakwater's own), the name sits on the prototype.
Object.defineProperty(ConfigError.prototype, 'name', { value: 'ConfigError', writable: true, configurable: true });
