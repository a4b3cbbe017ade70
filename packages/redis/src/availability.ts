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
