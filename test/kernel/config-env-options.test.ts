/**
 * A plugin option that an environment variable can set (meta.env: storage-postgres' url from
 * DATABASE_URL, runner-openai's apiKey from OPENAI_API_KEY, …) is optional in the config's type
 * (EnvOptional), so the documented configs that leave it to the environment type-check; loading them
 * without the variable still fails, naming it.
 *
 * The type half of this file is checked by `tsc -p tsconfig.json` (npm test): each config below is
 * one of the docs' examples as written there, and a wrong type in a known entry is still an error.
 */
import { describe, expect, it } from 'vitest';
import { createRuntime, defineConfig, type ConfigInput } from 'limit-graph';
import { failure, tempProject } from '../helpers/temp-project.ts';

const project = tempProject('limit-config-env-options-', { 'package.json': '{ "type": "module" }' });

// docs/storage.md "Selecting a backend", storage-postgres/README.md: url from DATABASE_URL.
const postgres = defineConfig({
  storage: 'postgres',
  plugins: { 'storage-postgres': { schema: 'limit', poolSize: 20 } },
});
// runner-openai/README.md "Example": apiKey from OPENAI_API_KEY.
const openai = defineConfig({
  extends: 'default',
  plugins: { 'runner-openai': { model: 'gpt-4o-mini', systemPrompt: 'Answer in one sentence.', maxTokens: 300 } },
});
// runner-anthropic/README.md "Example": apiKey from ANTHROPIC_API_KEY.
const anthropic = defineConfig({
  extends: 'default',
  plugins: { 'runner-anthropic': { model: 'claude-sonnet-4-5', maxTokens: 2048, systemPrompt: 'Be concise.' } },
});
// governance-rules-llm-judge/README.md "Example".
const judge = defineConfig({
  extends: 'default',
  plugins: { 'runner-openai': { model: 'gpt-4o-mini' }, 'governance-rules-llm-judge': { runner: 'openai', timeoutMs: 5000 } },
});
// runner-queue/README.md "Set-up" (API instances and workers): url from LIMIT_QUEUE_URL.
const queue = defineConfig({
  extends: 'default',
  storage: 'postgres',
  plugins: { 'runner-queue': { runner: 'python' } },
});
const worker = defineConfig({ plugins: { 'runner-python': { python: '/usr/bin/python3' }, 'runner-queue': { url: process.env.LIMIT_QUEUE_URL } } });
// Every option a variable can set may be left out, a required one included (runner-llama's modelPath).
const llama = defineConfig({ plugins: { 'runner-llama': { contextSize: 4096 } } });

// The entries are still typed: a wrong type for an env-settable option, or for another, is an error.
// @ts-expect-error -- url is a string
defineConfig({ plugins: { 'storage-postgres': { url: 5 } } });
// @ts-expect-error -- apiKey is a string
defineConfig({ plugins: { 'runner-openai': { apiKey: 5 } } });
// @ts-expect-error -- poolSize is a number
defineConfig({ plugins: { 'runner-queue': { poolSize: '4' } } });

const cases: [string, ConfigInput, Record<string, string>, RegExp][] = [
  ['storage-postgres url (DATABASE_URL)', postgres, { DATABASE_URL: 'postgres://u@127.0.0.1:1/limit' }, /plugins\.storage-postgres\.url: .*set the environment variable DATABASE_URL/],
  ['runner-openai apiKey (OPENAI_API_KEY)', openai, { OPENAI_API_KEY: 'sk-test' }, /plugins\.runner-openai\.apiKey: Expected an API key: set apiKey, or the OPENAI_API_KEY environment variable/],
  ['runner-anthropic apiKey (ANTHROPIC_API_KEY)', anthropic, { ANTHROPIC_API_KEY: 'sk-ant-test' }, /plugins\.runner-anthropic\.apiKey: Expected an API key: set apiKey, or the ANTHROPIC_API_KEY environment variable/],
  ['llm-judge with runner-openai (OPENAI_API_KEY)', judge, { OPENAI_API_KEY: 'sk-test' }, /plugins\.runner-openai\.apiKey: Expected an API key/],
  ['runner-queue url (LIMIT_QUEUE_URL)', queue, { DATABASE_URL: 'postgres://u@127.0.0.1:1/limit', LIMIT_QUEUE_URL: 'postgres://u@127.0.0.1:1/queue' }, /plugins\.runner-queue\.url: Expected a PostgreSQL URL: set url or LIMIT_QUEUE_URL \(DATABASE_URL only when storage is postgres\)/],
  ['runner-queue worker url (LIMIT_QUEUE_URL)', worker, { LIMIT_QUEUE_URL: 'postgres://u@127.0.0.1:1/queue' }, /plugins\.runner-queue\.url: Expected a PostgreSQL URL: set url or LIMIT_QUEUE_URL \(DATABASE_URL only when storage is postgres\)/],
  ['runner-llama modelPath (LLAMA_MODEL_PATH)', llama, { LLAMA_MODEL_PATH: '/models/m.gguf' }, /plugins\.runner-llama\.modelPath: .*set the environment variable LLAMA_MODEL_PATH/],
];

describe('an option left to its environment variable', () => {
  it.each(cases)('%s: loads with the variable, fails naming it without', async (_name, config, env, missing) => {
    const error = await failure(createRuntime({ cwd: project.dir, config: { ...config, logLevel: 'silent' }, env: {}, boot: false }));
    expect(error.code).toBe('LIMIT_PLUGIN_OPTIONS_INVALID');
    expect(error.message).toMatch(missing);
    const runtime = await createRuntime({ cwd: project.dir, config: { ...config, logLevel: 'silent' }, env, boot: false });
    await runtime.close();
  }, 60_000);
});
