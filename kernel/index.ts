/**
 * LIMIT-Graph's public API. Plugins and applications import from here (`limit-graph`) only.
 */
// The built-in plugins' config entries and services, typed for a project importing only limit-graph (types only).
export type {} from './builtin-plugin-types.ts';
/** The zod instance the kernel validates with: use it for plugin option schemas. */
export { z } from 'zod';
export { createRuntime } from './runtime.ts';
export type { CreateRuntimeOptions, Runtime, PluginInfo, PluginHealth, CloseReport } from './runtime.ts';
export { definePlugin, isPlugin } from './plugin.ts';
export type { Plugin, PluginDefinition, PluginMeta, PluginContext, PluginInstance, ProvideOptions } from './plugin.ts';
export { defineConfig, ConfigSchema } from './config/schema.ts';
export type { ConfigInput, EnvOptional, ResolvedConfig, PluginOptionsRegistry } from './config/schema.ts';
export { loadConfig, CONFIG_FILES, KERNEL_ENV } from './config/load.ts';
export { redactQuery, redactSecrets, redactUrl } from './config/redact.ts';
export { packageVersion } from './package-info.ts';
export { createHookCatalogue, runEveryTap } from './hooks.ts';
export type { LimitHooks, HookName, CommandRegistry, GovernHookContext } from './hooks.ts';
export type { Cradle, SessionCloseReason, SessionHandle, OpenSessionInput } from './container.ts';
export { LimitError, ERROR_CODES, isLimitError, formatError, describeThrown, toLimitError } from './errors.ts';
export type { LimitErrorCode, LimitErrorOptions, ToLimitErrorOptions } from './errors.ts';
export { createLogger, REDACT_PATHS } from './logger.ts';
export type { Logger, LogLevel } from './logger.ts';
export * from './model/index.ts';
export { GENESIS_HASH, MAX_MERGE_ANCESTRY, flagDigest, hashProvenance, memoizeChainOf, mergeAncestryMemo, nextProvenanceEntry, outputDigests, recordDigests, sha256, verifyMergeAncestry, verifyMergeAncestryAsync, verifyProvenanceChain, verifyTraceChain, type ChainBoundTrace, type MergeAncestryMemo } from './model/provenance.ts';
export { canonicalJson } from './model/canonical-json.ts';
export type * from './contracts/index.ts';
export * from './storage-helpers.ts';
export * from './rd-tools.ts';
export { callOptionsSchema, mergeCallOptions } from './call-options.ts';
export { booleanText, decimalInt, durationMs, pathText, unpaddedText } from './option-schemas.ts';
export { postgresUrl } from './postgres-url.ts';
export type { CallOptionsSchema, MergeCallOptionsSpec } from './call-options.ts';
export { measureDistortion, distortionAborted } from './rd-distortion.ts';
export { mulberry32 } from './random.ts';
export { allInOrder } from './in-order.ts';
export * from './runner-helpers.ts';
export { SessionIdleSweeper, sessionIdleMsOption } from './session-idle.ts';
export * from './governance-helpers.ts';
export * from './cli-helpers.ts';
export { atExit, pidAlive, temporaryFolder, trackProcessGroup } from './process-cleanup.ts';
export { MAX_TIMER_MS } from './timeout.ts';
