import { type Logger, log } from '@breakwater/core';

/**
 * Tracks whether Redis answers, so that an outage is logged once when it starts and once when
 * it ends, however many commands fail in between.
 */
export class Availability {
  available = true;

  constructor(
    private readonly logger: Logger | undefined,
    private readonly what: string,
  ) {}

  /** Notes a failure; true when it starts an outage. */
  failed(error: unknown): boolean {
    if (!this.available) return false;
    this.available = false;
    if (this.logger !== undefined) {
      const message = error instanceof Error ? error.message : String(error);
      log(
        this.logger,
        'warn',
        { error: message },
        `Redis unavailable for ${this.what} (${message}): working locally until it is back`,
      );
    }
    return true;
  }

  /** Notes a success; true when it ends an outage. */
  succeeded(): boolean {
    if (this.available) return false;
    this.available = true;
    if (this.logger !== undefined) log(this.logger, 'info', {}, `Redis is back for ${this.what}`);
    return true;
  }
}

/** An error Redis answered with (OOM, READONLY, NOPERM…): Redis is there, it refused the command. */
export function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

/**
 * Tracks whether Redis refuses writes while it answers (`maxmemory` reached with `noeviction`, a
 * read-only replica): told once when it starts, not per command, and not an outage.
 */
export class Refusals {
  private refusing = false;

  constructor(
    private readonly logger: Logger | undefined,
    private readonly what: string,
  ) {}

  refused(error: unknown): void {
    if (this.refusing) return;
    this.refusing = true;
    if (this.logger !== undefined) {
      const message = error instanceof Error ? error.message : String(error);
      log(this.logger, 'warn', { error: message }, `Redis refuses to store ${this.what} (${message})`);
    }
  }

  accepted(): void {
    this.refusing = false;
  }
}
