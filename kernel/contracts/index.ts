export type * from './storage.ts';
export type * from './runner.ts';
export type * from './governance.ts';
export type * from './rd.ts';
export type * from './orchestrator.ts';
