import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type BreakerStore, type BreakerSync, invalidOption, type SyncTarget } from '@breakwater/core';
import type { Redis } from 'ioredis';
import { Availability, isReplyError } from './availability.js';
import { type BindingHost, BreakerBinding } from './breaker-binding.js';
import { type BreakerKeys, breakerKeys } from './keys.js';
import {
  isConnected,
  MAX_TIMER_MS,
  type RedisClient,
  type RedisStoreOptions,
  STORE_DEFAULTS,
  validateStoreOptions,
} from './options.js';
import type { Script } from './scripts.js';
import { parseMessage, parseReply, type StoredState } from './stored-state.js';
import { withTimeout } from './with-timeout.js';

const DETACHED: BreakerSync = Object.freeze({ recorded() {}, transitioned() {}, detach() {} });

/**
 * Shares circuit-breaker state between the instances of a service through Redis (or Valkey):
 * window counts, state changes, the HALF_OPEN probe budget, the open-time backoff, and the
 * state itself for instances that start later. Calls never wait for Redis; when Redis is slow
 * or down, breakers go on locally and catch up when it is back.
 *
 * @example
 * const store = new RedisStore({ client: new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') });
 * const registry = new Registry({ store });
 */
export class RedisStore implements BreakerStore, BindingHost {
  readonly prefix: string;
  /** The pub/sub channel for state changes and counts. */
  readonly channel: string;
  readonly flushIntervalMs: number;
  readonly commandTimeoutMs: number;
  readonly probeLeaseMs: number;
  /** This store's identity in the cluster (its breakers add a sequence number). */
  readonly instanceId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly client: RedisClient;
  private subscriber: RedisClient | undefined;
  private readonly bindings = new Map<string, Set<BreakerBinding>>();
  private readonly availability: Availability;
  /** The outage began with a command Redis refused (OOM, READONLY) rather than one it did not answer. */
  private refused = false;
  private sequence = 0;
  private closed = false;
  /** The pub/sub connection was lost and has not subscribed again: Redis is not back until it has. */
  private subscriberDown = false;
  /** A PING is out to learn whether a Redis that stopped answering answers again. */
  private checking = false;
  /** Asks again and again, during an outage, whether Redis is back (see `watchForReturn`). */
  private watch: ReturnType<typeof setInterval> | undefined;
  private markSubscribed!: () => void;
  /** Settles once the channel subscription is active (or the store is closed). */
  private readonly subscribed = new Promise<void>((resolve) => {
    this.markSubscribed = resolve;
  });

  constructor(options: RedisStoreOptions) {
    validateStoreOptions(options);
    this.client = options.client;
    this.prefix = options.prefix ?? STORE_DEFAULTS.prefix;
    this.channel = `${this.prefix}events`;
    this.flushIntervalMs = options.flushIntervalMs ?? STORE_DEFAULTS.flushIntervalMs;
    this.commandTimeoutMs = options.commandTimeoutMs ?? STORE_DEFAULTS.commandTimeoutMs;
    this.probeLeaseMs = options.probeLeaseMs ?? STORE_DEFAULTS.probeLeaseMs;
    this.availability = new Availability(options.logger, 'circuit breaker state');
    this.client.on('ready', this.onReady);
    this.client.on('close', this.onClose);
  }

  bind(target: SyncTarget): BreakerSync {
    if (this.closed) return DETACHED;
    this.subscribe();
    const keys = breakerKeys(this.prefix, target.name);
    const binding = new BreakerBinding(target, keys, `${this.instanceId}#${++this.sequence}`, this);
    let set = this.bindings.get(keys.tag);
    if (set === undefined) {
      set = new Set();
      this.bindings.set(keys.tag, set);
    }
    set.add(binding);
    void binding.resync();
    return binding;
  }

  /**
   * Resolves `true` once every breaker bound so far has read the cluster's state and the store
   * listens to the others' changes, or `false` when that takes longer than `timeoutMs` (Redis
   * slow or down). Never rejects.
   */
  synced(timeoutMs = this.commandTimeoutMs * 2): Promise<boolean> {
    if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
      throw invalidOption(
        'timeoutMs',
        timeoutMs,
        'a number of milliseconds of at least 0, or Infinity to wait without limit',
      );
    }
    const all: Promise<void>[] = this.subscriber === undefined ? [] : [this.subscribed];
    for (const set of this.bindings.values()) for (const binding of set) all.push(binding.loaded);
    return new Promise((resolve) => {
      // Past what a timer can hold (about 24.8 days), as with Infinity: no time limit.
      const timer = timeoutMs > MAX_TIMER_MS ? undefined : setTimeout(() => resolve(false), timeoutMs);
      timer?.unref();
      void Promise.all(all).then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /**
   * Stops sharing: breakers bound here go on locally, the pub/sub connection closes and the
   * timers stop. The client passed in stays open: it is yours.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watch);
    this.watch = undefined;
    this.markSubscribed();
    this.client.off('ready', this.onReady);
    this.client.off('close', this.onClose);
    for (const set of [...this.bindings.values()]) for (const binding of [...set]) binding.detach();
    this.bindings.clear();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber === undefined) return;
    subscriber.off('message', this.onMessage);
    subscriber.off('ready', this.onSubscriberReady);
    try {
      if (subscriber.status === 'ready') await withTimeout(subscriber.quit(), this.commandTimeoutMs);
      else subscriber.disconnect();
    } catch {
      subscriber.disconnect();
    }
  }

  // --- BindingHost: for this store's breaker bindings, not part of the API ------------------

  /** @internal */
  connected(): boolean {
    return !this.closed && isConnected(this.client);
  }

  /** @internal */
  sharing(): boolean {
    return this.availability.available && this.connected();
  }

  /** @internal */
  async run(
    script: Script,
    keys: BreakerKeys,
    args: readonly (string | number)[],
  ): Promise<{ stored: StoredState; extra: number[] } | undefined> {
    if (!this.connected()) return undefined;
    if (!this.availability.available) {
      // During an outage nothing is sent that Redis could apply late (a frozen server runs its
      // queue when it wakes up): breakers re-sync once it answers.
      this.checkBack();
      return undefined;
    }
    try {
      const reply = parseReply(await withTimeout(this.evaluate(script, keys, args), this.commandTimeoutMs));
      this.back();
      return reply;
    } catch (error) {
      if (this.closed) return undefined;
      // A refusal (OOM, READONLY) is an outage too, that only a write accepted ends (see `checkBack`).
      if (isReplyError(error)) this.refused = true;
      this.lost(error);
      return undefined;
    }
  }

  /**
   * @internal While Redis is unavailable but the connection stands (a frozen or overloaded server),
   * asks it, one at a time, whether it answers again: with a PING, or, after a refusal, a write.
   */
  checkBack(): void {
    if (this.checking || this.closed || !isConnected(this.client)) return;
    this.checking = true;
    const client = this.client as Redis;
    // After a refusal, PING would answer while writes are still refused: a short-lived write asks.
    const ask = this.refused ? client.set(`${this.prefix}writable`, '1', 'PX', 1_000) : client.ping();
    withTimeout(ask, this.commandTimeoutMs).then(
      () => {
        this.checking = false;
        this.back();
      },
      () => {
        this.checking = false;
      },
    );
  }

  /**
   * During an outage, asks Redis whether it is back (see `checkBack`) at least every
   * `commandTimeoutMs` (250 ms at the least), so that an outage ends when Redis answers again,
   * not when the next count or change happens to be sent: an idle breaker, or an open one that
   * only refuses, sends none.
   */
  private watchForReturn(): void {
    if (this.watch !== undefined || this.closed) return;
    this.watch = setInterval(
      () => {
        if (this.closed || this.availability.available) {
          clearInterval(this.watch);
          this.watch = undefined;
          return;
        }
        this.checkBack();
      },
      Math.max(this.commandTimeoutMs, 250),
    );
    this.watch.unref();
  }

  /** @internal */
  unbind(binding: BreakerBinding): void {
    const set = this.bindings.get(binding.keys.tag);
    if (set === undefined) return;
    set.delete(binding);
    if (set.size === 0) this.bindings.delete(binding.keys.tag);
  }

  // --- internals --------------------------------------------------------------------------

  private async evaluate(script: Script, keys: BreakerKeys, args: readonly (string | number)[]): Promise<unknown> {
    const client = this.client as Redis;
    try {
      return await client.evalsha(script.sha, 2, keys.state, keys.counts, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(script.lua, 2, keys.state, keys.counts, ...args);
    }
  }

  /** Redis failed a command or a connection: an outage starts, if none had, and is watched for its end. */
  private lost(error: unknown): void {
    if (!this.closed && this.availability.failed(error)) this.watchForReturn();
  }

  /** Redis answered: the outage (if any) ends, unless the pub/sub connection is still to come back. */
  private back(): void {
    if (this.closed || this.subscriberDown) return;
    this.refused = false;
    if (this.availability.succeeded()) this.resyncAll();
  }

  private subscribe(): void {
    if (this.subscriber !== undefined) return;
    const subscriber = this.client.duplicate() as RedisClient;
    this.subscriber = subscriber;
    subscriber.on('error', (error: unknown) => {
      this.lost(error);
    });
    subscriber.on('close', () => {
      if (!this.closed) this.subscriberDown = true;
    });
    subscriber.on('message', this.onMessage);
    subscriber.on('ready', this.onSubscriberReady);
    this.listen();
  }

  /** Subscribes, then reads what may have been missed before the subscription took effect. */
  private listen(): void {
    this.subscriber?.subscribe(this.channel).then(
      () => {
        this.markSubscribed();
        this.subscriberDown = false;
        if (!this.closed && isConnected(this.client)) this.availability.succeeded();
        this.resyncAll();
      },
      (error: unknown) => {
        this.lost(error);
      },
    );
  }

  private resyncAll(): void {
    if (this.closed) return;
    for (const set of this.bindings.values()) for (const binding of set) void binding.resync();
  }

  private readonly onReady = (): void => {
    if (this.closed) return;
    if (!this.subscriberDown) this.availability.succeeded();
    this.resyncAll();
  };

  // ioredis subscribes again by itself after a reconnect; subscribing once more (a no-op for
  // Redis) tells us when that has taken effect, on the same connection.
  private readonly onSubscriberReady = (): void => {
    if (!this.closed) this.listen();
  };

  private readonly onClose = (): void => {
    this.lost(new Error('connection closed'));
  };

  private readonly onMessage = (channel: string, text: string): void => {
    if (channel !== this.channel) return;
    const message = parseMessage(text);
    if (message === undefined) return;
    const set = this.bindings.get(message.tag);
    if (set === undefined) return;
    for (const binding of set) {
      if (message.kind === 'state') binding.observe(message.stored, false);
      else if (message.counts.origin !== binding.id) binding.merge(message.counts);
    }
  };
}
