import { type ResolvedOptions, resolveOptions } from '@breakwater/core';
import type { BreakwaterConfig, FallbackConfig } from './config-types.js';

/** Every option of a breaker with defaults applied (`undefined` where a rule is off). */
export type EffectiveOptions = Omit<ResolvedOptions, 'name' | 'clock' | 'isFailure'>;

/** A breaker's options as it will run: the core defaults, then the file's `default`, then the service's own. */
export interface EffectiveBreaker {
  name: string;
  options: EffectiveOptions;
  /** Statuses counted as failures; `undefined` means every status of 500 or more. */
  failureStatusCodes: readonly number[] | undefined;
  fallback: FallbackConfig | undefined;
  groups: string[];
}

/**
 * The options each breaker named in the file will run with, and those of any other name
 * (`defaults`). Group members without a `services` entry are listed too. A name the file never
 * mentions gets `default`'s breaker options but not its `failure_status_codes`: core's registry
 * defaults hold breaker options only, so such a breaker counts every status of 500 or more.
 */
export function effectiveOptions(config: BreakwaterConfig): {
  defaults: Omit<EffectiveBreaker, 'name' | 'fallback' | 'groups'>;
  breakers: EffectiveBreaker[];
} {
  const names = [...Object.keys(config.services)];
  for (const group of Object.values(config.groups))
    for (const m of group.members) if (!names.includes(m)) names.push(m);
  const breakers = names.map((name): EffectiveBreaker => {
    const service = config.services[name];
    return {
      name,
      options: resolve({ ...config.defaults, ...service?.options }),
      failureStatusCodes: service?.failureStatusCodes ?? config.failureStatusCodes,
      fallback: service?.fallback,
      groups: Object.entries(config.groups)
        .filter(([, group]) => group.members.includes(name))
        .map(([groupName]) => groupName),
    };
  });
  return {
    defaults: { options: resolve(config.defaults), failureStatusCodes: undefined },
    breakers,
  };
}

function resolve(options: BreakwaterConfig['defaults']): EffectiveOptions {
  const { name: _name, clock: _clock, isFailure: _isFailure, ...rest } = resolveOptions({ ...options, name: 'config' });
  return rest;
}
