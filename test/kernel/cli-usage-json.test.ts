/** With --json, commander's usage errors are also the `{ "error": … }` document the README promises. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-usage-json-'));
writeFileSync(path.join(dir, 'limit.config.mjs'), `export default ${JSON.stringify({ logLevel: 'silent', plugins: { 'governance-rules-jailbreak': true, governance: { packs: ['jailbreak'] } } })};\n`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(args, { cwd: dir, env: { LIMIT_LOG_LEVEL: 'silent' } });

describe('usage errors with --json', () => {
  it('a missing required option prints { error } on stdout and exits non-zero', async () => {
    const r = await cli('governance', 'check', '--json');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("required option '--text <text>' not specified");
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: 'LIMIT_VALIDATION',
      message: "required option '--text <text>' not specified",
      fix: expect.stringContaining('--help'),
      details: { commander: 'commander.missingMandatoryOptionValue' },
    });
  });

  it('an unknown option too; without --json stdout stays empty, and --help still exits 0', async () => {
    const r = await cli('config', '--json', '--bogus');
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_VALIDATION', message: "unknown option '--bogus'" });
    const plain = await cli('governance', 'check');
    expect(plain.code).not.toBe(0);
    expect(plain.stdout).toBe('');
    const help = await cli('governance', 'check', '--help', '--json');
    expect(help.code).toBe(0);
    expect(help.stdout).not.toContain('"error"');
  });
});
