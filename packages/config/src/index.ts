export { ConfigError, type ConfigProblem, formatProblem } from './config-error.js';
export type { BreakwaterConfig, FallbackConfig, FileBreakerOptions, ServiceConfig } from './config-types.js';
export { type CreateRegistryOptions, createRegistry, toFallbackOptions } from './create-registry.js';
export { type EffectiveBreaker, type EffectiveOptions, effectiveOptions } from './effective-options.js';
export type { Env } from './interpolate.js';
export type { JsonSchema } from './json-schema.js';
export {
  type ConfigResult,
  inspectConfig,
  inspectConfigFile,
  type LoadConfigOptions,
  loadConfig,
  parseConfig,
} from './load-config.js';
export { type FileOption, OPTION_KEYS, type OptionKey } from './option-keys.js';
export { MAX_CONFIG_BYTES } from './parse-document.js';
export { configSchema } from './schema.js';
