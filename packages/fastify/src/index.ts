import { breakwater } from './plugin.js';

export type { FastifyBreakerOptions, HealthRouteOptions, RouteBreakerOptions } from './types.js';
export { breakwater };
export default breakwater;
