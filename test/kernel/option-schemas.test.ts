/**
 * Every integer option that text can set (a variable, a JSON config, a CLI flag) is decimal digits:
 * z.coerce.number / Number() read "0x100000", "1e6", " 2048" and "" as numbers. A boolean one is
 * booleanText(): true/false, 1/0 or yes/no.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { booleanText, createRuntime, decimalInt, durationMs, isLimitError, parseNumberOption } from '../../kernel/index.ts';
import apiHttp from '../../plugins/api-http/index.ts';
import runnerPython from '../../plugins/runner-python/index.ts';
import runnerLlama from '../../plugins/runner-llama/index.ts';
import storageFile from '../../plugins/storage-file/index.ts';
import storageKv from '../../plugins/storage-kv/index.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'limit-option-schemas-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const BAD = ['0x100000', '1e6', '8e3', ' 2048', '2048 ', '+2048', '2048.0', '0b100000000000', '2_048', '', 'abc', '-2048'];

const OPTIONS = [
  { plugin: storageKv, name: 'storage-kv', option: 'maxRecordBytes', message: 'Expected a whole number ≥ 1024, in decimal digits' },
  { plugin: storageKv, name: 'storage-kv', option: 'mapSize', message: 'Expected a whole number ≥ 1048576, in decimal digits' },
  { plugin: storageFile, name: 'storage-file', option: 'maxRecordBytes', message: 'Expected a whole number ≥ 1024, in decimal digits' },
  { plugin: storageFile, name: 'storage-file', option: 'staleLockMs', message: 'Expected a whole number from 1000 to 86400000, in decimal digits' },
];

describe('text options used as written refuse a blank or padded value up front (an env file keeps the spaces)', () => {
  for (const { plugin, name, option, variable, expected, values } of [
    { plugin: apiHttp, name: 'api-http', option: 'host', variable: 'LIMIT_HOST', expected: 'a host address', values: [' ', '0.0.0.0 ', ' 127.0.0.1'] },
    { plugin: runnerPython, name: 'runner-python', option: 'python', variable: 'LIMIT_PYTHON', expected: 'an interpreter name or path', values: [' ', 'python3 ', ' /usr/bin/python3'] },
  ]) it(`${name}.${option} (${variable})`, async () => {
    for (const value of values) {
      const error = await createRuntime({ config: { logLevel: 'silent', dataDir, plugins: { [name]: {} } }, plugins: [plugin], env: { [variable]: value } })
        .then(async (rt) => { await rt.close(); return undefined; }, (e: unknown) => e);
      expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID'), JSON.stringify(value)).toBe(true);
      expect((error as Error).message).toContain(`plugins.${name}.${option}: Expected ${expected} without leading or trailing spaces, received ${JSON.stringify(value)} (from environment variable ${variable})`);
    }
  });
});

describe('path options refuse a blank or padded value, and a leading ~ (no shell expands it in an env file)', () => {
  for (const { plugin, name, option, variable } of [
    { plugin: storageFile, name: 'storage-file', option: 'root', variable: 'LIMIT_FILE_ROOT' },
    { plugin: storageKv, name: 'storage-kv', option: 'path', variable: 'LIMIT_KV_PATH' },
    { plugin: runnerPython, name: 'runner-python', option: 'venvPath', variable: 'LIMIT_PYTHON_VENV' },
    { plugin: runnerLlama, name: 'runner-llama', option: 'modelPath', variable: 'LLAMA_MODEL_PATH' },
  ]) it(`${name}.${option} (${variable})`, async () => {
    for (const [value, message] of [
      ['~/data', `Expected a path not starting with "~" (it is not the home folder here, but a folder named "~"): write the absolute path (or ./~name for a folder named so), received "~/data"`],
      [' /data', 'Expected a path without leading or trailing spaces, received " /data"'],
    ]) {
      const error = await createRuntime({ config: { logLevel: 'silent', dataDir, plugins: { [name]: {} } }, plugins: [plugin], env: { [variable]: value! } })
        .then(async (rt) => { await rt.close(); return undefined; }, (e: unknown) => e);
      expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID'), value).toBe(true);
      expect((error as Error).message).toContain(`plugins.${name}.${option}: ${message} (from environment variable ${variable})`);
    }
  });
});

describe('integer plugin options given as text', () => {
  for (const { plugin, name, option, message } of OPTIONS) {
    it.each(BAD)(`${name}.${option} refuses %j, naming the option`, async (value) => {
      const error = await createRuntime({ config: { logLevel: 'silent', dataDir, plugins: { [name]: { [option]: value } } }, plugins: [plugin], env: {} })
        .then(async (rt) => { await rt.close(); return undefined; }, (e: unknown) => e);
      expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID'), JSON.stringify(value)).toBe(true);
      expect((error as Error).message).toContain(`plugins.${name}.${option}: ${message}`);
    });

    it(`${name}.${option} reads decimal digits and takes a number as it is`, () => {
      const schema = (plugin.options as unknown as { shape: Record<string, { parse(v: unknown): unknown }> }).shape[option]!;
      expect(schema.parse('2097152')).toBe(2_097_152);
      expect(schema.parse(2_097_152)).toBe(2_097_152);
    });
  }
});

describe('storage-file staleLockMs', () => {
  it('is at most a day: a third of more than 2^31-1 ms made setInterval refresh the lock every millisecond', async () => {
    const error = await createRuntime({ config: { logLevel: 'silent', dataDir, plugins: { 'storage-file': { staleLockMs: 7_000_000_000 } } }, plugins: [storageFile], env: {} })
      .then(async (rt) => { await rt.close(); return undefined; }, (e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID')).toBe(true);
    expect((error as Error).message).toContain('plugins.storage-file.staleLockMs: Expected a whole number from 1000 to 86400000, in decimal digits');
  });
});

describe('decimalInt', () => {
  it.each(BAD)('refuses %j with the one message', (value) => {
    const r = decimalInt(0, 10_000_000).safeParse(value);
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toBe('Expected a whole number from 0 to 10000000, in decimal digits');
  });

  it('refuses a digit string past the safe integers', () => {
    expect(decimalInt(1).safeParse('99999999999999999999').success).toBe(false);
  });
});

describe('parseNumberOption with integer: true (a CLI flag)', () => {
  it.each(BAD.filter((v) => v !== '-2048'))('refuses %j', (value) => {
    expect(() => parseNumberOption('--port', value, { integer: true, min: 0, max: 65_535 })).toThrow(`--port must be an integer from 0 to 65535, got ${JSON.stringify(value)}`);
  });

  it('reads digits, and a minus sign where the range allows it', () => {
    expect(parseNumberOption('--port', '8080', { integer: true, min: 0, max: 65_535 })).toBe(8080);
    expect(parseNumberOption('--offset', '-3', { integer: true })).toBe(-3);
    expect(() => parseNumberOption('--n', '99999999999999999999', { integer: true })).toThrow(/--n must be an integer/);
  });
});

const BOOLEAN_MESSAGE = 'Expected true or false (as text: true/false, 1/0 or yes/no)';

describe('boolean plugin options given as text', () => {
  const OPTIONS_BOOL = [
    { plugin: storageKv, name: 'storage-kv', option: 'noSync', variable: 'LIMIT_KV_NO_SYNC' },
    { plugin: storageFile, name: 'storage-file', option: 'fsync', variable: 'LIMIT_FILE_FSYNC' },
  ];
  for (const { plugin, name, option, variable } of OPTIONS_BOOL) {
    it.each(['TRUE', 'on', 'maybe', ' 1'])(`${name}.${option} from ${variable} refuses %j, naming the option and the variable`, async (value) => {
      const error = await createRuntime({ config: { logLevel: 'silent', dataDir, plugins: {} }, plugins: [plugin], env: { [variable]: value } })
        .then(async (rt) => { await rt.close(); return undefined; }, (e: unknown) => e);
      expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID'), JSON.stringify(value)).toBe(true);
      expect((error as Error).message).toContain(`plugins.${name}.${option}: ${BOOLEAN_MESSAGE} (from environment variable ${variable})`);
    });
  }
});

describe('booleanText', () => {
  it.each([['true', true], ['1', true], ['yes', true], [true, true], ['false', false], ['0', false], ['no', false], [false, false]])('reads %j as %j', (value, expected) => {
    expect(booleanText().parse(value)).toBe(expected);
  });

  it.each(['True', 'YES', 'on', 'off', 'y', '', ' true', 'toString', 1, 0, null])('refuses %j with the one message', (value) => {
    const r = booleanText().safeParse(value);
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toBe(BOOLEAN_MESSAGE);
  });
});

describe('durationMs: a duration as text or a number', () => {
  it.each([
    ['250', 250], ['10s', 10_000], ['1 minute', 60_000], ['1.5h', 5_400_000], ['.5 s', 500], ['2 Days', 172_800_000], ['1w', 604_800_000], [' 3 ms ', 3],
  ] as const)('%j is %d ms', (text, ms) => expect(durationMs(text)).toBe(ms));

  it.each(['', 'soon', '0 s', '-5 minutes', '1h30m', '1 fortnight', '0.0004 s', '1e3', '9'.repeat(20) + ' w'])('%j is not a duration (undefined: its caller refuses it)', (text) => {
    expect(durationMs(text)).toBeUndefined();
  });

  it.each([1, 250, 86_400_000, Number.MAX_SAFE_INTEGER])('the number %d is whole ms ≥ 1: taken as it is', (ms) => expect(durationMs(ms)).toBe(ms));

  it.each([0, -5, 1.5, 0.4, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53])('the number %d is not a duration in whole ms ≥ 1 (undefined: its caller refuses it)', (ms) => {
    expect(durationMs(ms)).toBeUndefined();
  });
});
