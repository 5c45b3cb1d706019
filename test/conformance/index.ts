/**
 * `limit-graph/testing`: the conformance suites every plugin of a kind must pass, exported for the
 * authors of third-party plugins.
 */
export * from './storage.ts';
export * from './storage-process.ts';
export * from './runner.ts';
export * from './governance.ts';
export * from './knee.ts';
export * from './distortion.ts';
export * from './rate.ts';
