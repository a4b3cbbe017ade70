// The helpers every package's tests share.
export * from '../../../test/support/index.js';
