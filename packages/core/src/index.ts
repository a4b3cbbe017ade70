export { CircuitBreaker, type CircuitBreakerStats } from './circuit/circuit-breaker.js';
export type {
  CallEvent,
  CircuitBreakerEvents,
  FailureEvent,
  FallbackEvent,
  RejectEvent,
  StateChangeEvent,
} from './circuit/events.js';
export { Permit } from './circuit/permit.js';
export { CircuitState } from './circuit/state.js';
export type { BreakerStore, BreakerSync, RecordedCall, SharedState, SyncTarget } from './circuit/sync.js';
export { BreakwaterError, isBreakwaterError } from './errors/breakwater-error.js';
export { CircuitOpenError, isCircuitOpenError, type RejectionReason } from './errors/circuit-open-error.js';
export { CircuitTimeoutError, isCircuitTimeoutError } from './errors/circuit-timeout-error.js';
export { invalidOption, showValue } from './errors/invalid-option.js';
export { isSharedRequest, isSharedResponse } from './fallback/cache-policy.js';
export {
  type CapturedResponse,
  FALLBACK_HEADER,
  type FallbackContext,
  FallbackEngine,
  validateFallback,
} from './fallback/fallback-engine.js';
export type {
  AlternativeServiceFallbackOptions,
  CachedResponse,
  CacheFallbackOptions,
  CacheStore,
  CustomFallbackOptions,
  DefaultFallbackOptions,
  FallbackOptions,
  FallbackStrategy,
  RequestInfo,
} from './fallback/types.js';
export { createProtectedFetch, fetchThrough, type ProtectedFetchOptions } from './fetch/protected-fetch.js';
export { type HealthHandlerOptions, healthResponder } from './http/health.js';
export {
  type Admission,
  type Gate,
  HTTP_OPTION_KEYS,
  HttpCall,
  HttpGuard,
  type HttpOptions,
  Refusal,
} from './http/http-guard.js';
export { type Logger, log, logTransitions } from './http/logger.js';
export { type FailureStatusCodes, HttpStatusError, statusClassifier } from './http/outcome.js';
export {
  FINAL_STATUS,
  type HeaderValue,
  isAnswerHeader,
  isFinalStatus,
  type RejectionBody,
  type ResponseDescriptor,
  rejectionResponse,
  retryAfterSeconds,
  toWire,
  type WireResponse,
} from './http/response.js';
export { answeredByBreakwater, markAnswered } from './node/answered.js';
export { countWhenFinished } from './node/count-when-finished.js';
export { MAX_BODY_BYTES, type ParsedBody, type ParserTraits, readBody } from './node/read-body.js';
export { hasEnded, onResponseOver, settleCut, settleEnded, settleOnClose } from './node/settle-on-close.js';
export { forgetAnswerHeaders, silence, writeResponse } from './node/write-response.js';
export {
  breakerOptionProblems,
  type CircuitBreakerOptions,
  type Clock,
  DEFAULTS,
  type OptionProblem,
  type ResolvedOptions,
  resolveOptions,
  systemClock,
  validateBreakerOptions,
} from './options.js';
export { presets } from './presets.js';
export { BreakerGroup, type GroupOptions } from './registry/group.js';
export {
  type BreakerDefaults,
  type BreakerStatus,
  type Declaration,
  defaultRegistry,
  type HealthDocument,
  Registry,
  type RegistryOptions,
} from './registry/registry.js';
export type { TripInput, TripRule } from './rules/trip-rule.js';
export type { WindowCounts } from './window/rolling-window.js';
export { circuitBreaker, type DecoratorOptions, type Protected, withCircuitBreaker } from './wrap.js';
