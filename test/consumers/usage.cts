import core = require('@breakwater/core');

const breaker = new core.CircuitBreaker({ name: 'cjs-consumer' });
const permit = breaker.tryAcquire();
permit?.success();
export = breaker.state;
