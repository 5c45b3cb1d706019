/**
 * The built-in plugins' types, for a project that imports only `limit-graph`: each plugin's index.ts
 * augments `PluginOptionsRegistry` (its `plugins.<name>` entry in `defineConfig`) and `Cradle` (what
 * `runtime.resolve` returns), and a declaration only applies when its file is part of the program.
 * kernel/index.ts names this file, and this file each plugin, in an empty `export type {} from`,
 * so the built declarations (dist/kernel/index.d.ts) reach every built-in plugin's: a .d.ts keeps
 * such an export, where it drops an `import type {}`. Types only: erased from the JavaScript, so the kernel still loads no plugin (plugins
 * are found at run time, by name).
 */
export type {} from '../plugins/api-http/index.ts';
export type {} from '../plugins/governance/index.ts';
export type {} from '../plugins/governance-rules-anomaly/index.ts';
export type {} from '../plugins/governance-rules-classifier/index.ts';
export type {} from '../plugins/governance-rules-highrisk/index.ts';
export type {} from '../plugins/governance-rules-injection/index.ts';
export type {} from '../plugins/governance-rules-jailbreak/index.ts';
export type {} from '../plugins/governance-rules-llm-judge/index.ts';
export type {} from '../plugins/governance-rules-malicious/index.ts';
export type {} from '../plugins/governance-rules-obfuscation/index.ts';
export type {} from '../plugins/governance-rules-provenance/index.ts';
export type {} from '../plugins/governance-rules-unsafe/index.ts';
export type {} from '../plugins/knee-kneedle/index.ts';
export type {} from '../plugins/knee-menger/index.ts';
export type {} from '../plugins/orchestrator/index.ts';
export type {} from '../plugins/rd-fgw/index.ts';
export type {} from '../plugins/rd-rate/index.ts';
export type {} from '../plugins/runner-anthropic/index.ts';
export type {} from '../plugins/runner-llama/index.ts';
export type {} from '../plugins/runner-openai/index.ts';
export type {} from '../plugins/runner-python/index.ts';
export type {} from '../plugins/runner-queue/index.ts';
export type {} from '../plugins/storage-file/index.ts';
export type {} from '../plugins/storage-kv/index.ts';
export type {} from '../plugins/storage-postgres/index.ts';
export type {} from '../plugins/storage-sqlite/index.ts';
