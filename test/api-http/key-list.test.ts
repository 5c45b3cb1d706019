/**
 * LIMIT_API_KEYS: `key:tenant[/name]` entries, or a JSON list of auth.keys' objects. An entry the
 * text form cannot read unambiguously (a second ':') is refused, never given a guessed tenant, and
 * no message repeats a key.
 */
import { describe, expect, it } from 'vitest';
import { createRuntime, isLimitError, type LimitError } from 'limit-graph';
import { parseKeyList, readKeyList } from '../../plugins/api-http/auth.ts';
import { runCli } from '../helpers/cli.ts';
import { tempProject } from '../helpers/temp-project.ts';

const KEY = 'k0123456789abcdef-acme';

describe('LIMIT_API_KEYS', () => {
  it('reads key:tenant and key:tenant/name', () => {
    expect(parseKeyList(`${KEY}:acme, k0123456789abcdef-bob:team-b/bob@example.com`)).toEqual([
      { key: KEY, tenant: 'acme' },
      { key: 'k0123456789abcdef-bob', tenant: 'team-b', name: 'bob@example.com' },
    ]);
  });

  it('refuses an entry with a second ":" rather than guess its tenant (acme:prod, or acme named prod)', () => {
    const { keys, problems } = readKeyList(`${KEY}:acme:prod`);
    expect(keys).toEqual([]);
    expect(problems).toEqual([expect.stringMatching(/^entry 1 has more than one ":" .*JSON form/)]);
    // A key that contains ':' is not split into a shorter key and a tenant.
    expect(readKeyList('k0123456789abcdef:XYZ:acme').keys).toEqual([]);
    expect(() => parseKeyList(`k0123456789abcdef-ok:t1,${KEY}:acme:prod`)).toThrow(/^LIMIT_API_KEYS entry 2 has more than one ":"/);
  });

  it('reads a JSON list, for keys and tenants with ":", as auth.keys does', () => {
    expect(parseKeyList(JSON.stringify([{ key: KEY, tenant: 'acme:prod' }, { key: 'k0123456789abcdef:XYZ', tenant: 'acme', name: 'ci' }]))).toEqual([
      { key: KEY, tenant: 'acme:prod' },
      { key: 'k0123456789abcdef:XYZ', tenant: 'acme', name: 'ci' },
    ]);
    expect(readKeyList('[{"key": "short", "tenant": "acme"}, 5]').problems).toEqual([
      'entry 1 of the JSON list is not a valid {"key", "tenant", "name"} (key: API keys must be at least 16 characters)',
      'entry 2 of the JSON list is not an object {"key", "tenant", "name"}',
    ]);
  });

  it('never repeats a key in what it says', () => {
    const secret = 'k0123456789abcdef-secret';
    const values = [
      `${secret}`, `${secret}:acme:prod`, `${secret}:bad tenant`, `${secret}:acme/`, `[{"key": "${secret}", "tenant": 5}]`,
      `[{"${secret}": "acme"}]`, `[{"key": "${secret}", "tenant": "a"`, `[${secret}]`,
    ];
    for (const value of values) {
      const { problems } = readKeyList(value);
      expect(problems.length, value).toBeGreaterThan(0);
      for (const problem of problems) expect(problem).not.toContain('secret');
    }
  });

  it('gives a key of tenant "acme:prod" that tenant, end to end', async () => {
    const config = { storage: 'sqlite', logLevel: 'silent' as const, plugins: { 'storage-sqlite': { path: ':memory:' }, governance: { packs: [] }, 'runner-python': {}, orchestrator: {}, 'api-http': {} } };
    const rt = await createRuntime({ config, env: { LIMIT_API_KEYS: JSON.stringify([{ key: KEY, tenant: 'acme:prod' }]) } });
    try {
      const app = await rt.resolve('http').app();
      const res = await app.inject({ method: 'POST', url: '/sessions', headers: { authorization: `Bearer ${KEY}` } });
      expect(res.statusCode).toBe(201);
      expect(res.json().tenant).toBe('acme:prod');
    } finally {
      await rt.close();
    }
    const error = await createRuntime({ config, env: { LIMIT_API_KEYS: `${KEY}:acme:prod` } }).then(() => undefined, (e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID')).toBe(true);
    expect((error as LimitError).message).toMatch(/LIMIT_API_KEYS › plugins\.api-http\.apiKeys: [Ee]ntry 1 has more than one ":"/);
    expect((error as LimitError).message).not.toContain(KEY);
  });
});

describe('apiKeys and LIMIT_API_KEYS are checked with the options', () => {
  const project = tempProject('limit-key-list-', { 'package.json': '{ "type": "module" }' });
  const write = (apiHttp: Record<string, unknown>) =>
    project.write('limit.config.json', JSON.stringify({ extends: 'default', logLevel: 'silent', plugins: { 'api-http': apiHttp } }));

  it('limit config refuses what serve refuses, naming LIMIT_API_KEYS', async () => {
    write({});
    const run = await runCli(['config'], { cwd: project.dir, env: { LIMIT_API_KEYS: `${KEY}:acme,tooshort:acme` } });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/LIMIT_API_KEYS › plugins\.api-http\.apiKeys: [Ee]ntry 2 is not a valid key:tenant\[\/name\] \(key: API keys must be at least 16 characters\) \(from environment variable LIMIT_API_KEYS\)/);
    expect(run.stderr).not.toContain(KEY);
  });

  it('a value from the file is the file\'s, not LIMIT_API_KEYS\'', async () => {
    write({ apiKeys: 'tooshort:acme' });
    const run = await runCli(['config'], { cwd: project.dir, env: {} });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/limit\.config\.json › plugins\.api-http\.apiKeys: [Ee]ntry 1 is not a valid key:tenant\[\/name\]/);
    expect(run.stderr).not.toMatch(/LIMIT_API_KEYS/);
  });

  it('one key given to two tenants, in the file and the variable: limit config names both entries', async () => {
    write({ auth: { keys: [{ key: KEY, tenant: 't1' }] } });
    const run = await runCli(['config'], { cwd: project.dir, env: { LIMIT_API_KEYS: `${KEY}:t2` } });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/LIMIT_API_KEYS › plugins\.api-http\.apiKeys: One API key is configured for two tenants \("t1" and "t2", at auth\.keys\.0 and apiKeys\)/);
    expect(run.stderr).not.toContain(KEY);
  });
});
