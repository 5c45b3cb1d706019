/** The conformance suites' seeded generator: the kernel's mulberry32 (kernel/random.ts). */
export { mulberry32 } from 'limit-graph';
