import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, appendFileSync, mkdirSync, chmodSync, utimesSync, constants as fsConstants, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { MAX_JSON_DEPTH, createRuntime, type Checkpoint, type LimitError, type RdSeries, type Session, type Storage, type Trace } from 'limit-graph';
import { crashTest, makeFlag, makeProvenance, makeSession, makeTrace, storageConformance, type StorageFixture } from 'limit-graph/testing';
import storageFile, { FileStorage } from '../../plugins/storage-file/index.ts';
import { runCli } from '../helpers/cli.ts';

const tempDir = () => mkdtempSync(path.join(tmpdir(), 'limit-file-'));

const openStore = async (root: string, over: Partial<FileStorage['config']> = {}): Promise<FileStorage> => {
  const s = new FileStorage({ root, fsync: true, maxRecordBytes: 4 * 1024 * 1024, staleLockMs: 30_000, ...over });
  await s.open();
  return s;
};

function chainFile(root: string, tenant: string, sessionId: string, traceId: string): string {
  return path.join(root, 'tenants', tenant, 'sessions', sessionId, 'traces', traceId, 'provenance.jsonl');
}

const readJsonFile = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** A child process holding the store at `root` (store-child.ts): its output lines, a wait for one, and stop. */
function storeChild(mode: 'hold' | 'batches', root: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'test/storage-file/store-child.ts'), mode, root], {
    cwd: REPO, env: { ...process.env, TSX_TSCONFIG_PATH: path.join(REPO, 'tsconfig.json') }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buffer = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (buffer + chunk).split('\n');
    buffer = parts.pop()!;
    lines.push(...parts);
    for (const listener of listeners) listener();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const waitFor = (test: (line: string) => boolean) => new Promise<string>((resolve, reject) => {
    const check = () => {
      const hit = lines.find(test);
      if (hit === undefined) return;
      listeners.delete(check);
      resolve(hit);
    };
    listeners.add(check);
    check();
    void exited.then(() => listeners.has(check) && reject(new Error(`the child exited first:\n${lines.join('\n')}\n${stderr}`)));
  });
  const stop = async () => {
    child.stdin.end('stop\n');
    return { code: await exited, lines, stderr };
  };
  return { child, exited, waitFor, stop };
}

/** Rewrites one line of the JSONL chain, as someone with the files would. */
function tamper(root: string) {
  return async (tenant: string, traceId: string, seq: number, patch: Record<string, unknown>) => {
    const sessions = readdirSync(path.join(root, 'tenants', tenant, 'sessions'));
    const file = sessions.map((s) => chainFile(root, tenant, s, traceId)).find((f) => existsSync(f));
    if (!file) throw new Error(`no chain for ${traceId}`);
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[seq] = JSON.stringify({ ...JSON.parse(lines[seq]!), ...patch });
    writeFileSync(file, lines.join('\n'));
  };
}

storageConformance('storage-file', async (): Promise<StorageFixture> => {
  const root = tempDir();
  return {
    storage: await openStore(root),
    reopen: () => openStore(root),
    tamper: tamper(root),
    // file keeps no totals: it measures a chain from provenance.jsonl when it first appends after opening.
    forgetProvenanceTotals: async () => {},
    cleanup: async () => rmSync(root, { recursive: true, force: true }),
  };
}, { supports: { multiProcess: false, crashSafe: true, transactions: true } });

/** A store (fsync on) holding session s1 and counter n = 1, and a batch into it not yet applied: n += 10 and traces b0…b9. */
async function storeWithPendingBatch(root: string) {
  const s = await openStore(root, { fsync: true });
  await s.createSession(makeSession('t', 's1'));
  await s.incrementCounters('t', { n: 1 });
  const ops = [{ op: 'incrementCounters' as const, deltas: { n: 10 } }, ...Array.from({ length: 10 }, (_, i) => ({ op: 'createTrace' as const, trace: makeTrace('t', `b${i}`, 's1') }))];
  return { s, ops, traceDir: path.join(root, 'tenants', 't', 'sessions', 's1', 'traces') };
}

describe('storage-file plugin', () => {
  it('is selected by storage: "file", opens in boot under <dataDir>/store, reports health and closes on dispose', async () => {
    const dir = tempDir();
    try {
      const rt = await createRuntime({ config: { logLevel: 'silent', storage: 'file', dataDir: dir, plugins: {} }, env: {} });
      const storage = rt.resolve('storage') as FileStorage;
      expect(storage.backend).toBe('file');
      expect(storage.supports).toEqual({ multiProcess: false, crashSafe: true, transactions: true });
      expect(storage.root).toBe(path.join(dir, 'store'));
      expect(await storage.schemaVersion()).toBe(1);
      expect(JSON.parse(readFileSync(path.join(dir, 'store', 'schema.json'), 'utf8'))).toEqual({ version: 1 });
      const [health] = await rt.health();
      expect(health).toMatchObject({ plugin: 'storage-file', status: 'ok', checks: [expect.objectContaining({ name: 'read-write', status: 'ok' })] });
      await rt.close();
      await expect(storage.getTrace('t', 'x')).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', message: `File storage ${path.join(dir, 'store')} is not open` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is selected by STORAGE_BACKEND=file from the environment', async () => {
    const dir = tempDir();
    try {
      const rt = await createRuntime({ config: { logLevel: 'silent', plugins: {} }, env: { STORAGE_BACKEND: 'file', LIMIT_DATA_DIR: dir } });
      const storage = rt.resolve('storage') as FileStorage;
      expect(storage.backend).toBe('file');
      expect(rt.plugins.map((p) => p.name)).toContain('storage-file');
      await storage.createSession(makeSession('t1', 's1'));
      expect(await storage.getSession('t1', 's1')).toMatchObject({ id: 's1' });
      await rt.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes root and fsync from the environment and refuses a bad boolean', async () => {
    const dir = tempDir();
    try {
      const rt = await createRuntime({ config: { logLevel: 'silent', plugins: {} }, plugins: [storageFile], env: { LIMIT_FILE_ROOT: path.join(dir, 'r'), LIMIT_FILE_FSYNC: 'false' } });
      const storage = rt.resolve('storage') as FileStorage;
      expect(storage.root).toBe(path.join(dir, 'r'));
      expect(storage.config.fsync).toBe(false);
      await rt.close();
      await expect(createRuntime({ config: { logLevel: 'silent', plugins: {} }, plugins: [storageFile], env: { LIMIT_FILE_FSYNC: 'sometimes' } }))
        .rejects.toMatchObject({ code: 'LIMIT_PLUGIN_OPTIONS_INVALID', message: expect.stringContaining('fsync') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps records per tenant and per session in JSON / JSONL files', async () => {
    const root = tempDir();
    const s = await openStore(root);
    try {
      await s.createSession(makeSession('acme', 's1'));
      await s.createTrace(makeTrace('acme', 'tr1', 's1'));
      await s.appendProvenance('acme', makeProvenance('tr1', 0));
      await s.appendProvenance('acme', makeProvenance('tr1', 1));
      const sessionDir = path.join(root, 'tenants', 'acme', 'sessions', 's1');
      expect(JSON.parse(readFileSync(path.join(sessionDir, 'session.json'), 'utf8'))).toMatchObject({ id: 's1' });
      expect(JSON.parse(readFileSync(path.join(sessionDir, 'traces', 'tr1', 'trace.json'), 'utf8')).trace).toMatchObject({ id: 'tr1' });
      const lines = readFileSync(chainFile(root, 'acme', 's1', 'tr1'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((e) => e.seq)).toEqual([0, 1]);
      // No temp file or lock is left behind.
      expect(readdirSync(path.join(sessionDir, 'traces', 'tr1')).sort()).toEqual(['provenance.jsonl', 'trace.json']);
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

/**
 * Makes the file system refuse every write under `root` with `code` (as a read-only store, a
 * read-only mount or a full disk would), whoever runs the test (root ignores modes).
 */
function refuseWrites(root: string, code: 'EACCES' | 'EROFS' | 'ENOSPC') {
  const under = (p: unknown) => typeof p === 'string' && (p === root || p.startsWith(root + path.sep));
  const fail = (syscall: string, p: string) => Object.assign(new Error(`${code}: refused, ${syscall} '${p}'`), { code, syscall, path: p });
  const writing = (flags: unknown) => flags !== undefined && flags !== 'r' && flags !== fsConstants.O_RDONLY;
  const spies = [
    vi.spyOn(fsp, 'open').mockImplementation(async function (this: unknown, p, flags, mode) {
      if (under(p) && writing(flags)) throw fail('open', p as string);
      return realOpen(p, flags, mode);
    } as typeof fsp.open),
    vi.spyOn(fsp, 'mkdir').mockImplementation(async function (p, options) {
      if (under(p) && !existsSync(p as string)) throw fail('mkdir', p as string);
      return realMkdir(p, options);
    } as typeof fsp.mkdir),
  ];
  return { restore: () => spies.forEach((spy) => spy.mockRestore()) };
}
const realOpen = fsp.open.bind(fsp);
const realMkdir = fsp.mkdir.bind(fsp) as typeof fsp.mkdir;

describe('storage-file: a store it cannot write', () => {
  it('refuses to open a store whose folder it cannot write: LIMIT_STORAGE_UNAVAILABLE naming the folder', async () => {
    const root = tempDir();
    try {
      const first = await openStore(root, { fsync: false });
      await first.createTrace(makeTrace('t', 'tr1', 's1'));
      await first.close();
      const refused = refuseWrites(root, 'EACCES');
      try {
        const error = await openStore(root, { fsync: false }).then(() => null, (e: unknown) => e as LimitError);
        expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { path: root, code: 'EACCES' } });
        expect(error!.message).toContain(`the folder ${root} is not writable by this process`);
        expect(error!.fix).toMatch(/write permission/);
      } finally {
        refused.restore();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it.each(['EACCES', 'EROFS', 'ENOSPC'] as const)('turns a write refused with %s into LIMIT_STORAGE_UNAVAILABLE naming the folder, on every write path', async (code) => {
    const root = tempDir();
    const s = await openStore(root, { fsync: true });
    try {
      await s.createSession(makeSession('t', 's1'));
      await s.createTrace(makeTrace('t', 'tr1', 's1'));
      await s.batch('t', [{ op: 'createTrace', trace: makeTrace('t', 'b0', 's1') }, { op: 'incrementCounters', deltas: { n: 1 } }]); // the journal folder exists
      const refused = refuseWrites(root, code);
      try {
        const why = { EACCES: 'is not writable by this process', EROFS: 'is on a read-only file system', ENOSPC: 'no space is left on the device of' }[code];
        const traceDir = path.join(root, 'tenants', 't', 'sessions', 's1', 'traces');
        const writes: [() => Promise<unknown>, string][] = [
          [() => s.createTrace(makeTrace('t', 'tr2', 's1')), traceDir], // mkdir of the trace's folder
          [() => s.updateTrace('t', 'tr1', { status: 'error' }), path.join(traceDir, 'tr1')], // the temp file of an atomic replace
          [() => s.appendProvenance('t', makeProvenance('tr1', 0)), path.join(traceDir, 'tr1')], // the lock file
          [() => s.createSession(makeSession('t', 's2')), path.join(root, 'tenants', 't', 'sessions')],
          [() => s.batch('t', [{ op: 'createTrace', trace: makeTrace('t', 'b1', 's1') }, { op: 'incrementCounters', deltas: { n: 1 } }]), traceDir], // the new trace's folder, before any journal
        ];
        for (const [write, dir] of writes) {
          const error = await write().then(() => null, (e: unknown) => e as LimitError);
          expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { path: dir, code } });
          expect(error!.message).toContain(why);
          expect(error!.message).toContain(dir);
        }
      } finally {
        refused.restore();
      }
      // Nothing was half-written: the store still works once it can write again.
      expect((await s.getTrace('t', 'tr1'))!.status).toBe('ok');
      expect(await s.getTrace('t', 'tr2')).toBeNull();
      await s.appendProvenance('t', makeProvenance('tr1', 0));
      expect((await s.verifyProvenance('t', 'tr1')).length).toBe(1);
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('an open() waiting for a close() whose lock release fails opens the store anyway: the close\'s error is the close\'s', async () => {
    const root = tempDir();
    const s = await openStore(root, { fsync: false });
    const lock = path.join(root, 'store.lock');
    const rm = vi.spyOn(fsp, 'rm').mockImplementationOnce(async (p) => {
      throw Object.assign(new Error(`EIO: i/o error, rm '${String(p)}'`), { code: 'EIO' });
    });
    try {
      const closing = s.close().then(() => null, (e: unknown) => e as Error);
      const opening = s.open().then(() => null, (e: unknown) => e as Error);
      expect((await closing)?.message).toContain('EIO');
      expect(rm).toHaveBeenCalledWith(lock, { force: true });
      expect(await opening).toBeNull();
      await s.createTrace(makeTrace('t', 'tr1', 's1'));
      expect(await s.getTrace('t', 'tr1')).toMatchObject({ id: 'tr1' });
    } finally {
      rm.mockRestore();
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a provenance append the disk refuses half-way leaves the chain as it was (no torn line kept for the next append)', async () => {
    const root = tempDir();
    const warn = vi.fn();
    const s = new FileStorage({ root, fsync: true, maxRecordBytes: 4 * 1024 * 1024, staleLockMs: 30_000, logger: { warn } as never });
    await s.open();
    try {
      await s.createTrace(makeTrace('t', 'tr1', 's1'));
      await s.appendProvenance('t', makeProvenance('tr1', 0));
      const file = chainFile(root, 't', 's1', 'tr1');
      const before = readFileSync(file, 'utf8');
      // The disk fills up in the middle of the line: part of it is written, then ENOSPC.
      const full = vi.spyOn(fsp, 'open').mockImplementation(async function (p, flags, mode) {
        const handle = await realOpen(p, flags, mode);
        if (p === file && flags === 'a') {
          handle.writeFile = async (data: unknown) => {
            await handle.write(String(data).slice(0, Math.floor(String(data).length / 2)));
            throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
          };
        }
        return handle;
      } as typeof fsp.open);
      const error = await s.appendProvenance('t', makeProvenance('tr1', 1)).then(() => null, (e: unknown) => e as LimitError).finally(() => full.mockRestore());
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { file, code: 'ENOSPC' } });
      expect(readFileSync(file, 'utf8')).toBe(before);
      await s.appendProvenance('t', makeProvenance('tr1', 1));
      expect(await s.verifyProvenance('t', 'tr1')).toEqual({ verified: true, length: 2, brokenAt: null });
      expect(readdirSync(path.dirname(file)).filter((n) => n.includes('.torn-'))).toEqual([]);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('an open that cannot write its store lock (a full disk) leaves no lock behind: the store opens once there is room', async () => {
    const root = tempDir();
    try {
      const first = await openStore(root, { fsync: false });
      await first.createTrace(makeTrace('t', 'tr1', 's1'));
      await first.close();
      // On a full disk the lock file is created (an empty file needs no data block) but not written.
      const lockFile = path.join(root, 'store.lock');
      const full = vi.spyOn(fsp, 'open').mockImplementation(async function (p, flags, mode) {
        const handle = await realOpen(p, flags, mode);
        if (p === lockFile) {
          handle.writeFile = async () => { throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' }); };
        }
        return handle;
      } as typeof fsp.open);
      const error = await openStore(root, { fsync: false }).then(() => null, (e: unknown) => e as LimitError).finally(() => full.mockRestore());
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { path: root, file: lockFile, code: 'ENOSPC' } });
      expect(error!.message).toContain(`no space is left on the device of ${root}`);
      expect(existsSync(lockFile)).toBe(false);
      // Not "in use by an unknown holder" for staleLockMs: it opens at once.
      const again = await openStore(root, { fsync: false });
      expect((await again.getTrace('t', 'tr1'))!.id).toBe('tr1');
      await again.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it.each(['createTrace', 'createSession', 'batch'] as const)('a %s whose file the file system refuses (ENOSPC) leaves none of the folders made for it', async (what) => {
    const root = tempDir();
    const s = await openStore(root, { fsync: true });
    try {
      await s.createTrace(makeTrace('t', 'tr1', 's1'));
      const sessions = path.join(root, 'tenants', 't', 'sessions');
      const before = readdirSync(sessions);
      // The disk is full: the folders can still be made (a real full disk often allows that), the files' temp files not.
      const full = vi.spyOn(fsp, 'open').mockImplementation(async function (p, flags, mode) {
        if (typeof p === 'string' && p.startsWith(path.join(sessions, 's9')) && p.endsWith('.tmp')) throw Object.assign(new Error(`ENOSPC: no space left on device, open '${p}'`), { code: 'ENOSPC', syscall: 'open', path: p });
        return realOpen(p, flags, mode);
      } as typeof fsp.open);
      const write = {
        createTrace: () => s.createTrace(makeTrace('t', 'tr9', 's9')), // sessions/s9/traces/tr9 made for it
        createSession: () => s.createSession(makeSession('t', 's9')),
        batch: () => s.batch('t', [{ op: 'createSession', session: makeSession('t', 's9') }, { op: 'createTrace', trace: makeTrace('t', 'tr9', 's9') }, { op: 'createTrace', trace: makeTrace('t', 'tr8', 's9') }]),
      }[what];
      const error = await write().then(() => null, (e: unknown) => e as LimitError).finally(() => full.mockRestore());
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { code: 'ENOSPC' } });
      // At once, not at the tenant's next scan: the session folder and everything under it is gone.
      expect(readdirSync(sessions)).toEqual(before);
      // A folder that was there before (the tenant's, s1's) stays, and the same create succeeds once there is room.
      await write();
      expect(readdirSync(sessions).sort()).toEqual(['s1', 's9']);
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a batch whose files the file system refuses half-way changes nothing and leaves no journal to replay over later writes', async () => {
    const root = tempDir();
    const pending = await storeWithPendingBatch(root);
    let s = pending.s;
    const { ops, traceDir } = pending;
    try {
      // The disk fills up at the 6th trace file (a real full disk: a tmpfs; here the open of its temp file).
      const full = vi.spyOn(fsp, 'open').mockImplementation(async function (p, flags, mode) {
        if (typeof p === 'string' && p.startsWith(path.join(traceDir, 'b5', 'trace.json.'))) throw Object.assign(new Error(`ENOSPC: no space left on device, open '${p}'`), { code: 'ENOSPC', syscall: 'open', path: p });
        return realOpen(p, flags, mode);
      } as typeof fsp.open);
      const error = await s.batch('t', ops).then(() => null, (e: unknown) => e as LimitError).finally(() => full.mockRestore());
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { path: path.join(traceDir, 'b5'), code: 'ENOSPC' } });
      // Nothing of the batch is visible, on disk or through the store, and no journal or temp file is left.
      expect(await s.getCounters('t')).toEqual({ n: 1 });
      expect(await s.getTrace('t', 'b0')).toBeNull();
      // Nor the folders made for the batch's new traces (the session's traces folder too, made for them).
      expect(existsSync(traceDir) ? readdirSync(traceDir) : []).toEqual([]);
      expect(existsSync(path.join(root, 'journal')) ? readdirSync(path.join(root, 'journal')) : []).toEqual([]);
      // The store stays usable; a write acknowledged after the failure survives a restart (no stale journal replayed over it).
      await s.incrementCounters('t', { n: 100 });
      await s.close();
      s = await openStore(root, { fsync: true });
      expect(await s.getCounters('t')).toEqual({ n: 101 });
      expect(await s.getTrace('t', 'b0')).toBeNull();
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a batch that fails after its journal is on disk stops the instance, and reopening finishes the batch', async () => {
    const root = tempDir();
    const pending = await storeWithPendingBatch(root);
    let s = pending.s;
    const { ops, traceDir } = pending;
    try {
      const realRename = fsp.rename.bind(fsp);
      const refused = vi.spyOn(fsp, 'rename').mockImplementation(async (from, to) => {
        if (to === path.join(traceDir, 'b5', 'trace.json')) throw Object.assign(new Error(`EIO: i/o error, rename '${String(from)}'`), { code: 'EIO', syscall: 'rename', path: from });
        return realRename(from, to);
      });
      const error = await s.batch('t', ops).then(() => null, (e: unknown) => e as LimitError).finally(() => refused.mockRestore());
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE' });
      expect(error!.message).toMatch(/could not finish a batch .*its journal .* is kept/);
      // No later write can land beside the half-applied batch (the journal would be replayed over it).
      await expect(s.incrementCounters('t', { n: 100 })).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', message: error!.message });
      await s.close();
      s = await openStore(root, { fsync: true });
      expect(await s.getCounters('t')).toEqual({ n: 11 });
      expect((await s.listTraces('t', { limit: 100 })).items.map((t) => t.id).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `b${i}`).sort());
      expect(readdirSync(path.join(root, 'journal'))).toEqual([]);
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it.skipIf(process.getuid?.() === 0)('refuses to open a store made read-only with chmod (real permissions; root ignores them)', async () => {
    const root = tempDir();
    try {
      const first = await openStore(root, { fsync: false });
      await first.createTrace(makeTrace('t', 'tr1', 's1'));
      await first.close();
      chmodSync(root, 0o500);
      const error = await openStore(root, { fsync: false }).then(() => null, (e: unknown) => e as LimitError);
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { path: root } });
      expect(error!.message).toContain('not writable');
    } finally {
      chmodSync(root, 0o700);
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('storage-file: path traversal', () => {
  const evil = ['../escape', '..', '.', 'a/b', 'a\\b', '/etc/passwd', '.hidden', 'x\0y', '%2e%2e', 'ok/../../x'];

  it('refuses ids and tenants that could leave the root, and writes nothing outside it', async () => {
    const parent = tempDir();
    const root = path.join(parent, 'store');
    const s = await openStore(root);
    try {
      for (const id of evil) {
        const attempts: Promise<unknown>[] = [
          s.createSession(makeSession('t1', id)),
          s.createSession(makeSession(id, 's1')),
          s.createTrace(makeTrace('t1', id, 's1')),
          s.createTrace(makeTrace('t1', 'tr', id)),
          s.createTrace(makeTrace(id, 'tr', 's1')),
          s.getTrace(id, 'tr'),
          s.getSession('t1', id),
          s.listTraces(id),
          s.appendProvenance('t1', makeProvenance(id, 0)),
          s.createRdSeries({ id, sessionId: 's1', tenant: 't1', name: 'n', points: [], createdAt: new Date().toISOString(), metadata: {} }),
          s.getRdSeries('t1', id),
          s.incrementCounters(id, { x: 1 }),
          s.getCounters(id),
          s.batch(id, []),
        ];
        for (const attempt of attempts) await expect(attempt).rejects.toMatchObject({ code: 'LIMIT_VALIDATION' });
      }
      expect(readdirSync(parent)).toEqual(['store']);
      expect(readdirSync(root).sort()).toEqual(['schema.json', 'store.lock']);
    } finally {
      await s.close();
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('ignores folders with invalid names that someone put into the store', async () => {
    const root = tempDir();
    const s = await openStore(root);
    try {
      await s.createTrace(makeTrace('t1', 'tr1', 's1'));
      mkdirSync(path.join(root, 'tenants', 't1', 'sessions', '.sneaky', 'traces', 'x'), { recursive: true });
      writeFileSync(path.join(root, 'tenants', 't1', 'sessions', '.sneaky', 'traces', 'x', 'trace.json'), JSON.stringify({ trace: makeTrace('t1', 'x', '.sneaky'), flagSeq: [] }));
      await s.close();
      const s2 = await openStore(root);
      expect((await s2.listTraces('t1')).items.map((t) => t.id)).toEqual(['tr1']);
      await s2.close();
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('storage-file: crash recovery', () => {
  /** A store whose chain tr1 (tenant t1) has `entries` entries, closed; then `damage` applied to the chain file's text. */
  async function chainWith(entries: number, damage: (text: string) => string) {
    const root = tempDir();
    const s = await openStore(root);
    await s.createTrace(makeTrace('t1', 'tr1', 's1'));
    for (let i = 0; i < entries; i++) await s.appendProvenance('t1', makeProvenance('tr1', i));
    await s.close();
    const file = chainFile(root, 't1', 's1', 'tr1');
    writeFileSync(file, damage(readFileSync(file, 'utf8')));
    return { root, file, before: readFileSync(file, 'utf8') };
  }
  const warnings = () => {
    const warn = vi.fn();
    return { logger: { warn } as unknown as FileStorage['config']['logger'] & object, warn };
  };
  const asides = (file: string) => readdirSync(path.dirname(file)).filter((n) => n.startsWith('provenance.jsonl.torn-'));

  it.each(['single append', 'batch append'])('cuts a torn provenance line (an append killed mid-write) by a %s, keeping its bytes aside and reporting it', async (how) => {
    const torn = '{"traceId":"tr1","seq":3,"prevH';
    const { root, file } = await chainWith(3, (text) => text + torn);
    const { logger, warn } = warnings();
    const s = await openStore(root, { logger });
    try {
      expect(await s.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 3, brokenAt: null });
      expect(asides(file)).toEqual([]); // readers change nothing
      const input = makeProvenance('tr1', 3);
      if (how === 'single append') expect((await s.appendProvenance('t1', input)).seq).toBe(3);
      else await s.batch('t1', [{ op: 'appendProvenance', input }, { op: 'incrementCounters', deltas: { n: 1 } }]);
      expect(await s.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 4, brokenAt: null });
      const [aside] = asides(file);
      expect(readFileSync(path.join(path.dirname(file), aside!), 'utf8')).toBe(torn);
      expect(warn).toHaveBeenCalledWith({ file, aside: path.join(path.dirname(file), aside!), bytes: torn.length }, expect.stringContaining('its bytes are kept aside'));
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('moves aside, never destroys, an acknowledged last entry damaged at its end (newline and 20 bytes lost)', async () => {
    const { root, file, before } = await chainWith(3, (text) => text.slice(0, -21));
    const cut = before.slice(before.lastIndexOf('\n') + 1);
    const { logger, warn } = warnings();
    const s = await openStore(root, { logger });
    try {
      await s.appendProvenance('t1', makeProvenance('tr1', 9));
      expect(asides(file).map((n) => readFileSync(path.join(path.dirname(file), n), 'utf8'))).toEqual([cut]);
      expect(readFileSync(file, 'utf8').startsWith(before.slice(0, before.length - cut.length))).toBe(true);
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('keeps a complete last entry that lost only its newline: readers count it, the next append restores the newline', async () => {
    const { root, file } = await chainWith(3, (text) => text.slice(0, -1));
    const { logger, warn } = warnings();
    const s = await openStore(root, { logger });
    try {
      expect(await s.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 3, brokenAt: null });
      expect((await s.appendProvenance('t1', makeProvenance('tr1', 3))).seq).toBe(3);
      expect(await s.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 4, brokenAt: null });
      expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(5);
      expect(asides(file)).toEqual([]);
      expect(warn).toHaveBeenCalledWith({ file, line: 3 }, expect.stringContaining('lost its newline'));
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('takes an incomplete last line that cannot be the start of an entry for damage: reported, refused, never cut', async () => {
    const { root, file, before } = await chainWith(3, (text) => `${text}##garbage`);
    const s = await openStore(root);
    try {
      expect(await s.verifyProvenance('t1', 'tr1')).toMatchObject({ verified: false, brokenAt: 3 });
      await expect(s.listProvenance('t1', 'tr1')).rejects.toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT', details: { file, line: 4 }, message: expect.stringContaining(`${file} line 4`) });
      for (const append of [
        () => s.appendProvenance('t1', makeProvenance('tr1', 3)),
        () => s.batch('t1', [{ op: 'appendProvenance', input: makeProvenance('tr1', 3) }, { op: 'incrementCounters', deltas: { n: 1 } }]),
      ]) {
        await expect(append()).rejects.toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT', details: { file, line: 4 }, message: expect.stringContaining('not the start of an entry') });
      }
      expect(readFileSync(file, 'utf8')).toBe(before);
      expect(asides(file)).toEqual([]);
      expect(await s.getCounters('t1')).toEqual({});
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses to append after a garbled last complete line: LIMIT_STORAGE_CORRUPT naming the file and line, nothing written', async () => {
    const { root, file, before } = await chainWith(3, (text) => {
      const lines = text.split('\n');
      lines[2] = lines[2]!.replace(/[{":,]/g, '#');
      return lines.join('\n');
    });
    const s = await openStore(root);
    try {
      for (const append of [
        () => s.appendProvenance('t1', makeProvenance('tr1', 3)),
        () => s.batch('t1', [{ op: 'appendProvenance', input: makeProvenance('tr1', 3) }, { op: 'incrementCounters', deltas: { n: 1 } }]),
      ]) {
        const error = await append().then(() => null, (e: unknown) => e as LimitError);
        expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_CORRUPT', details: { file, line: 3 } });
        expect(error!.message).toContain(`${file} line 3 is not a readable provenance entry`);
      }
      expect(readFileSync(file, 'utf8')).toBe(before);
      expect(await s.verifyProvenance('t1', 'tr1')).toMatchObject({ verified: false, brokenAt: 2 });
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reports a garbled complete line as the broken link', async () => {
    const root = tempDir();
    const s = await openStore(root);
    try {
      await s.createTrace(makeTrace('t1', 'tr1', 's1'));
      for (let i = 0; i < 4; i++) await s.appendProvenance('t1', makeProvenance('tr1', i));
      const file = chainFile(root, 't1', 's1', 'tr1');
      const lines = readFileSync(file, 'utf8').split('\n');
      lines[2] = 'not json';
      writeFileSync(file, lines.join('\n'));
      expect(await s.verifyProvenance('t1', 'tr1')).toMatchObject({ verified: false, brokenAt: 2 });
      // lines[2] is the file's third line.
      await expect(s.listProvenance('t1', 'tr1')).rejects.toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT', details: { file, line: 3 }, message: expect.stringContaining(`${file} line 3`) });
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('names a record file that is not valid JSON (LIMIT_STORAGE_CORRUPT)', async () => {
    const root = tempDir();
    let s = await openStore(root);
    try {
      await s.createTrace(makeTrace('t1', 'tr1', 's1'));
      await s.close();
      const file = path.join(root, 'tenants', 't1', 'sessions', 's1', 'traces', 'tr1', 'trace.json');
      writeFileSync(file, '{"trace": ');
      s = await openStore(root);
      await expect(s.getTrace('t1', 'tr1')).rejects.toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT', message: expect.stringContaining(file) });
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('with several damaged trace files, names the first by id, whichever read ends first (the index reads them side by side)', async () => {
    const root = tempDir();
    let s = await openStore(root);
    try {
      for (const id of ['tra', 'trb', 'trc']) await s.createTrace(makeTrace('t1', id, 's1'));
      await s.close();
      const file = (id: string) => path.join(root, 'tenants', 't1', 'sessions', 's1', 'traces', id, 'trace.json');
      for (const id of ['tra', 'trb']) writeFileSync(file(id), '{"trace": ');
      // tra's read is the slow one: an index that took each read's result as it ended named trb.
      const readFile = fsp.readFile.bind(fsp);
      const slow = vi.spyOn(fsp, 'readFile').mockImplementation((async (p: Parameters<typeof fsp.readFile>[0], ...rest: unknown[]) => {
        if (p === file('tra')) await new Promise((r) => setTimeout(r, 50));
        return (readFile as (...a: unknown[]) => Promise<unknown>)(p, ...rest);
      }) as typeof fsp.readFile);
      try {
        s = await openStore(root);
        await expect(s.listTraces('t1')).rejects.toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT', message: expect.stringContaining(file('tra')) });
        await expect(s.listFlags('t1')).rejects.toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT', message: expect.stringContaining(file('tra')) });
      } finally {
        slow.mockRestore();
      }
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('finishes a batch whose journal was written before the process died', async () => {
    const root = tempDir();
    let s = await openStore(root);
    try {
      await s.createTrace(makeTrace('t1', 'tr1', 's1'));
      await s.close();
      // What #commit leaves when killed after the journal and before the files: the journal alone.
      const trace = makeTrace('t1', 'tr2', 's1');
      const files = [
        { file: 'tenants/t1/sessions/s1/traces/tr2/trace.json', content: JSON.stringify({ trace, flagSeq: [] }) },
        { file: 'tenants/t1/counters.json', content: JSON.stringify({ runs: 2 }) },
      ];
      mkdirSync(path.join(root, 'journal'), { recursive: true });
      writeFileSync(path.join(root, 'journal', '1-1-a.json'), JSON.stringify({ files }));
      // And a journal torn before its rename (a temp file): its batch never started.
      writeFileSync(path.join(root, 'journal', '2-1-b.json.1.abcd.tmp'), '{"files":[{"file":"tenants/t1/counters.json","content":"{\\"runs\\":99}"}');
      s = await openStore(root);
      expect(await s.getTrace('t1', 'tr2')).toEqual(trace);
      expect(await s.getCounters('t1')).toEqual({ runs: 2 });
      expect(readdirSync(path.join(root, 'journal'))).toEqual([]);
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it.each([
    ['truncated', '{"files":[{"file":"tenants/t1/counters.json","content":"{\\"runs\\":7}"},{"file":"tenants/t1/sessi'],
    ['empty (fsync off and an OS crash)', ''],
    ['of the wrong shape', '{"files":"tenants/t1/counters.json"}'],
    ['null', 'null'],
  ])('refuses to open a store with a journal that is %s: LIMIT_STORAGE_CORRUPT naming it, journal and records untouched', async (_, content) => {
    const root = tempDir();
    try {
      const first = await openStore(root);
      await first.incrementCounters('t1', { runs: 2 });
      await first.close();
      mkdirSync(path.join(root, 'journal'), { recursive: true });
      const journal = path.join(root, 'journal', '1-1-a.json');
      writeFileSync(journal, content);
      const error = await openStore(root).then(() => null, (e: unknown) => e as LimitError);
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_CORRUPT', details: { file: journal } });
      expect(error!.message).toContain(journal);
      expect(error!.fix).toContain('may hold part of that batch');
      expect(readFileSync(journal, 'utf8')).toBe(content);
      expect(readJsonFile(path.join(root, 'tenants', 't1', 'counters.json'))).toEqual({ runs: 2 });
      // Moved aside as the fix says, the store opens as it is.
      rmSync(journal);
      const s = await openStore(root);
      expect(await s.getCounters('t1')).toEqual({ runs: 2 });
      await s.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses a journal entry that points outside the root', async () => {
    const parent = tempDir();
    const root = path.join(parent, 'store');
    const s = await openStore(root);
    await s.close();
    mkdirSync(path.join(root, 'journal'), { recursive: true });
    writeFileSync(path.join(root, 'journal', '1-1-a.json'), JSON.stringify({ files: [{ file: '../outside.json', content: '{}' }] }));
    try {
      await expect(openStore(root)).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', message: 'Refusing a path outside the store: "../outside.json"', details: { parts: ['../outside.json'] } });
      expect(existsSync(path.join(parent, 'outside.json'))).toBe(false);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('takes no lock file per chain: a provenance.lock left by an earlier version, even naming a live process, neither blocks an append nor is touched', async () => {
    const root = tempDir();
    const s = await openStore(root);
    try {
      await s.createTrace(makeTrace('t1', 'tr1', 's1'));
      const lock = path.join(root, 'tenants', 't1', 'sessions', 's1', 'traces', 'tr1', 'provenance.lock');
      const old = `${process.pid} ${(await import('node:os')).hostname()} cafe ${Date.now()}\n`;
      writeFileSync(lock, old);
      expect((await s.appendProvenance('t1', makeProvenance('tr1', 0))).seq).toBe(0);
      await s.batch('t1', [{ op: 'appendProvenance', input: makeProvenance('tr1', 1) }]);
      expect(readFileSync(lock, 'utf8')).toBe(old);
      expect((await s.verifyProvenance('t1', 'tr1')).verified).toBe(true);
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reads a chain once after a restart: appends refused past its limits, alone or in a batch, do not read it again', async () => {
    const root = tempDir();
    let s = await openStore(root, { fsync: false, maxRecordBytes: 4096 });
    const file = chainFile(root, 't1', 's1', 'tr1');
    const big = (i: number) => makeProvenance('tr1', i, { data: 'x'.repeat(3000) });
    const reads = vi.spyOn(fsp, 'readFile');
    try {
      await s.createTrace(makeTrace('t1', 'tr1', 's1'));
      // Two entries of about 3.3 KB: a client's 2 × maxRecordBytes (8 KiB) cannot take a third.
      for (let i = 0; i < 2; i++) await s.appendProvenance('t1', big(i), { origin: 'client' });
      await s.close();
      s = await openStore(root, { fsync: false, maxRecordBytes: 4096 });
      reads.mockClear();
      for (let k = 0; k < 4; k++) {
        await expect(s.appendProvenance('t1', big(2), { origin: 'client' })).rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
        await expect(s.batch('t1', [{ op: 'appendProvenance', input: big(2), origin: 'client' }])).rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
      }
      expect(reads.mock.calls.filter(([p]) => p === file)).toHaveLength(1);
      // What was measured stays right: an entry that fits is appended, in a batch too, and the chain verifies.
      expect((await s.appendProvenance('t1', makeProvenance('tr1', 2), { origin: 'client' })).seq).toBe(2);
      await s.batch('t1', [{ op: 'appendProvenance', input: makeProvenance('tr1', 3), origin: 'client' }]);
      expect(await s.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 4, brokenAt: null });
    } finally {
      reads.mockRestore();
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('storage-file: damaged files', () => {
  it.each(['null', '{}', '{"version":"abc"}', '{"version":0}', '[1]', '{"vers'])('refuses to open a store whose schema.json holds %s (LIMIT_STORAGE_CORRUPT naming it) and leaves it as it is', async (content) => {
    const root = tempDir();
    try {
      await (await openStore(root)).close();
      const file = path.join(root, 'schema.json');
      writeFileSync(file, content);
      const error = await openStore(root).then(() => null, (e: unknown) => e as LimitError);
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_CORRUPT', details: { file } });
      expect(error!.message).toContain(file);
      expect(readFileSync(file, 'utf8')).toBe(content);
      expect(existsSync(path.join(root, 'store.lock'))).toBe(false);
      // Once repaired as the fix says, it opens.
      expect(error!.fix).toContain('{"version": 1}');
      writeFileSync(file, '{"version": 1}');
      await (await openStore(root)).close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses to open a store whose schema.json is a folder (LIMIT_STORAGE_CORRUPT naming it, not a raw EISDIR) and changes nothing', async () => {
    const root = tempDir();
    try {
      await (await openStore(root)).close();
      const file = path.join(root, 'schema.json');
      rmSync(file);
      mkdirSync(file);
      writeFileSync(path.join(file, 'note'), 'x');
      const error = await openStore(root).then(() => null, (e: unknown) => e as LimitError);
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_CORRUPT', details: { file } });
      expect(error!.message).toBe(`${file} is a folder where the store keeps a file`);
      expect(error!.fix).toContain(`Move the folder ${file} out of the store`);
      expect(error!.fix).toContain('{"version": 1}');
      expect(readdirSync(root)).toEqual(['schema.json']);
      expect(readdirSync(file)).toEqual(['note']);
      rmSync(file, { recursive: true });
      writeFileSync(file, '{"version": 1}');
      await (await openStore(root)).close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses at open a store whose schema.json records a newer version, naming the store and both versions, and changes nothing in it', async () => {
    const root = tempDir();
    try {
      const s = await openStore(root);
      await s.createSession(makeSession('t', 's1'));
      await s.close();
      const file = path.join(root, 'schema.json');
      writeFileSync(file, '{"version": 2}');
      // As a newer limit-graph may have left it: modes this version would tighten.
      chmodSync(root, 0o755);
      const list = () => readdirSync(root, { recursive: true }).map(String).sort();
      const before = { entries: list(), mode: statSync(root).mode };
      const error = await openStore(root).then(() => null, (e: unknown) => e as LimitError & { details: unknown });
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_MIGRATION_FAILED', details: { schemaVersion: 2, knownVersion: 1 } });
      expect(error!.message).toBe(`The file store at ${root} has schema version 2; this plugin knows up to 1`);
      expect(error!.fix).toMatch(/Upgrade limit-graph/);
      expect({ entries: list(), mode: statSync(root).mode }).toEqual(before);
      expect(readFileSync(file, 'utf8')).toBe('{"version": 2}');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a file where the store keeps a folder is LIMIT_STORAGE_CORRUPT naming it (not a raw ENOTDIR), and is left as it is', async () => {
    const root = tempDir();
    try {
      const s = await openStore(root);
      await s.createSession(makeSession('t', 's1'));
      await s.createSession(makeSession('u', 's1'));
      await s.close();
      const sessions = path.join(root, 'tenants', 't', 'sessions');
      rmSync(sessions, { recursive: true });
      writeFileSync(sessions, 'not a folder');
      const journal = path.join(root, 'journal');
      rmSync(journal, { recursive: true, force: true });
      writeFileSync(journal, 'not a folder');
      // A batch journal folder that is a file refuses open() (its batches cannot be known).
      await expect(openStore(root)).rejects.toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT', message: `${journal} is a file where the store keeps a folder`, details: { file: journal } });
      rmSync(journal);
      const again = await openStore(root);
      // Before: every call on the tenant failed with ENOTDIR: not a directory, scandir '<…>/sessions'.
      for (const call of [() => again.listSessions('t'), () => again.getTrace('t', 'tr1'), () => again.createSession(makeSession('t', 's2'))]) {
        await expect(call()).rejects.toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_CORRUPT', message: `${sessions} is a file where the store keeps a folder`, details: { file: sessions } });
      }
      expect(readFileSync(sessions, 'utf8')).toBe('not a folder');
      expect((await again.listSessions('u')).items).toHaveLength(1);
      await again.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses to open a store that holds records but lost schema.json (LIMIT_STORAGE_CORRUPT naming it), and does not stamp it', async () => {
    const root = tempDir();
    try {
      const s = await openStore(root);
      await s.createSession(makeSession('t', 's1'));
      await s.createTrace(makeTrace('t', 'tr1', 's1', 1e12, { flags: [makeFlag('f1', 'tr1')] }));
      await s.close();
      const file = path.join(root, 'schema.json');
      rmSync(file);
      const error = await openStore(root).then(() => null, (e: unknown) => e as LimitError);
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_CORRUPT', details: { file, root, firstRecord: 'tenants/t' } });
      expect(error!.message).toBe(`${file} is missing, but the store holds records (the first: tenants/t); it is not opened as a new store`);
      expect(existsSync(file)).toBe(false);
      expect(existsSync(path.join(root, 'store.lock'))).toBe(false);
      // Once repaired as the fix says, it opens with its records.
      expect(error!.fix).toContain('{"version": 1}');
      writeFileSync(file, '{"version": 1}');
      const reopened = await openStore(root);
      expect((await reopened.getTrace('t', 'tr1'))!.flags).toHaveLength(1);
      await reopened.close();
      // A new store (an empty folder, or one with an empty tenants folder) is still stamped.
      const fresh = tempDir();
      try {
        mkdirSync(path.join(fresh, 'tenants'));
        const s2 = await openStore(fresh);
        expect(await s2.schemaVersion()).toBe(1);
        await s2.close();
      } finally {
        rmSync(fresh, { recursive: true, force: true });
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  /** LIMIT_STORAGE_CORRUPT naming `file`. */
  const corrupt = (file: string) => expect.objectContaining({ name: 'LimitError', code: 'LIMIT_STORAGE_CORRUPT', details: expect.objectContaining({ file }), message: expect.stringContaining(file) });

  /** A closed store with traces tr1, tr2 in session s1 (tr1 with a flag), a chain, checkpoints, a quarantine state, counters and an RD series. */
  async function populated() {
    const root = tempDir();
    const s = await openStore(root);
    await s.createSession(makeSession('t', 's1'));
    await s.createSession(makeSession('t', 's2'));
    await s.createTrace(makeTrace('t', 'tr1', 's1'));
    await s.createTrace(makeTrace('t', 'tr2', 's1'));
    await s.createTrace(makeTrace('t', 'tr3', 's2'));
    await s.addFlag('t', makeFlag('f1', 'tr1', 'Anomaly'));
    await s.appendProvenance('t', makeProvenance('tr2', 0));
    await s.addCheckpoint('t', { traceId: 'tr2', label: 'c', passed: true, details: {}, at: new Date().toISOString() });
    await s.setQuarantine('t', { traceId: 'tr2', quarantined: true, reason: 'r', actor: 'a', at: new Date().toISOString() });
    await s.incrementCounters('t', { runs: 2 });
    await s.createRdSeries({ id: 'rd1', sessionId: 's1', tenant: 't', name: 'n', points: [], createdAt: new Date().toISOString(), metadata: {} });
    await s.close();
    const trace = (id: string, session = 's1') => path.join(root, 'tenants', 't', 'sessions', session, 'traces', id);
    return { root, trace, session: (id: string) => path.join(root, 'tenants', 't', 'sessions', id, 'session.json') };
  }

  it.each([
    ['{}', '{}'],
    ['null', 'null'],
    ['a trace without its fields', '{"trace":{"id":"tr2"},"flagSeq":[]}'],
    ['another trace\'s record', JSON.stringify({ trace: makeTrace('t', 'tr9', 's1'), flagSeq: [] })],
    ['a trace without flagSeq', JSON.stringify({ trace: makeTrace('t', 'tr2', 's1') })],
  ])('a trace.json holding %s: that trace and the tenant-wide lists refuse naming it, other traces stay readable and writable, nothing is written over it', async (_, content) => {
    const { root, trace } = await populated();
    const file = path.join(trace('tr2'), 'trace.json');
    writeFileSync(file, content);
    const s = await openStore(root);
    try {
      expect((await s.getTrace('t', 'tr1'))!.id).toBe('tr1');
      expect((await s.getTrace('t', 'tr3'))!.id).toBe('tr3');
      await s.updateTrace('t', 'tr1', { status: 'error' });
      await s.appendProvenance('t', makeProvenance('tr1', 0));
      await s.createTrace(makeTrace('t', 'tr4', 's1'));
      expect((await s.listSessions('t')).items).toHaveLength(2);
      const now = new Date().toISOString();
      for (const call of [
        () => s.getTrace('t', 'tr2'),
        () => s.createTrace(makeTrace('t', 'tr2', 's2')),
        () => s.updateTrace('t', 'tr2', { status: 'error' }),
        () => s.addFlag('t', makeFlag('f2', 'tr2', 'Anomaly')),
        () => s.appendProvenance('t', makeProvenance('tr2', 1)),
        () => s.verifyProvenance('t', 'tr2'),
        () => s.addCheckpoint('t', { traceId: 'tr2', label: 'c2', passed: true, details: {}, at: now }),
        () => s.getQuarantine('t', 'tr2'),
        () => s.batch('t', [{ op: 'updateTrace', id: 'tr2', patch: { status: 'error' } }]),
        // Lists that would include it, and flag ids (unique per tenant; tr2's flags are unknown).
        () => s.listTraces('t'),
        () => s.listFlags('t'),
        () => s.listQuarantined('t'),
        () => s.addFlag('t', makeFlag('f3', 'tr1', 'Anomaly')),
      ]) {
        await expect(call()).rejects.toEqual(corrupt(file));
      }
      expect(readFileSync(file, 'utf8')).toBe(content);
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a session.json of the wrong shape: that session and listSessions refuse naming it, its traces and other sessions stay readable', async () => {
    const { root, session } = await populated();
    const file = session('s1');
    writeFileSync(file, 'null');
    const s = await openStore(root);
    try {
      expect((await s.getTrace('t', 'tr1'))!.id).toBe('tr1');
      expect((await s.getSession('t', 's2'))!.id).toBe('s2');
      for (const call of [() => s.getSession('t', 's1'), () => s.listSessions('t'), () => s.createSession(makeSession('t', 's1')), () => s.closeSession('t', 's1', new Date().toISOString())]) {
        await expect(call()).rejects.toEqual(corrupt(file));
      }
      expect(readFileSync(file, 'utf8')).toBe('null');
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it.each([
    ['counters.json', (root: string) => path.join(root, 'tenants', 't', 'counters.json'), ['null', '[]', '{"runs":"2"}']],
    ['checkpoints.json', (root: string) => path.join(root, 'tenants', 't', 'sessions', 's1', 'traces', 'tr2', 'checkpoints.json'), ['null', '{}', '[{"label":"c"}]']],
    ['rd/<id>.json', (root: string) => path.join(root, 'tenants', 't', 'rd', 'rd1.json'), ['null', '{"id":"rd1"}']],
    ['quarantine.json', (root: string) => path.join(root, 'tenants', 't', 'sessions', 's1', 'traces', 'tr2', 'quarantine.json'), ['null', '{"traceId":"tr2","quarantined":"yes"}']],
  ] as const)('%s of the wrong shape is LIMIT_STORAGE_CORRUPT naming it on every read and write of it, and is never written over', async (_, fileOf, contents) => {
    for (const content of contents) {
      const { root } = await populated();
      const file = fileOf(root);
      writeFileSync(file, content);
      const s = await openStore(root);
      try {
        const now = new Date().toISOString();
        const calls = {
          'counters.json': [() => s.getCounters('t'), () => s.incrementCounters('t', { runs: 1 }), () => s.batch('t', [{ op: 'incrementCounters', deltas: { runs: 1 } }])],
          'checkpoints.json': [() => s.listCheckpoints('t', 'tr2'), () => s.addCheckpoint('t', { traceId: 'tr2', label: 'c2', passed: true, details: {}, at: now })],
          'rd/<id>.json': [() => s.getRdSeries('t', 'rd1'), () => s.listRdSeries('t'), () => s.appendRdPoint('t', 'rd1', { step: 0, rate: 0, distortion: 1 })],
          // Read when the tenant's index is built: the trace counts as damaged.
          'quarantine.json': [() => s.getQuarantine('t', 'tr2'), () => s.getTrace('t', 'tr2'), () => s.listQuarantined('t'), () => s.setQuarantine('t', { traceId: 'tr2', quarantined: false, reason: 'r', actor: 'a', at: now })],
        }[_];
        for (const call of calls) await expect(call()).rejects.toEqual(corrupt(file));
        expect((await s.getTrace('t', 'tr1'))!.id).toBe('tr1');
        expect(readFileSync(file, 'utf8')).toBe(content);
      } finally {
        await s.close();
        rmSync(root, { recursive: true, force: true });
      }
    }
  });
});

describe('storage-file: records an older version stored', () => {
  // Stored before today's write-time refusals: free-form nesting past MAX_JSON_DEPTH, a trace's flag
  // naming another trace (sqlite and postgres stored those). Reads take them; writes still refuse them.
  const deep = (n: number) => { let v: unknown = 1; for (let i = 0; i < n; i++) v = { a: v }; return v; };
  const DEEP = deep(MAX_JSON_DEPTH + 500);
  const at = new Date().toISOString();

  /** A closed store whose files hold such records, written over the files as an older version wrote them; what each read should give back. */
  async function storedByAnOlderVersion() {
    const root = tempDir();
    const s = await openStore(root);
    await s.createSession(makeSession('t', 's1'));
    await s.createTrace(makeTrace('t', 'tr1', 's1', 1e12));
    await s.createTrace(makeTrace('t', 'tr2', 's1', 1e12 + 1000));
    await s.addCheckpoint('t', { traceId: 'tr1', label: 'c', passed: true, details: {}, at });
    await s.createRdSeries({ id: 'rd1', sessionId: 's1', tenant: 't', name: 'n', points: [{ step: 0, rate: 0, distortion: 1 }], createdAt: at, metadata: {} });
    await s.close();
    const tenantDir = path.join(root, 'tenants', 't');
    const traceFile = (id: string) => path.join(tenantDir, 'sessions', 's1', 'traces', id, 'trace.json');
    const rewrite = <T>(file: string, change: (v: T) => void): T => { const v = readJsonFile(file) as T; change(v); writeFileSync(file, JSON.stringify(v)); return v; };
    type TraceDoc = { trace: Trace; flagSeq: number[] };
    const session = rewrite<Session>(path.join(tenantDir, 'sessions', 's1', 'session.json'), (v) => (v.metadata = { x: DEEP }));
    const tr1 = rewrite<TraceDoc>(traceFile('tr1'), (v) => (v.trace.metadata = { x: DEEP })).trace;
    const tr2 = rewrite<TraceDoc>(traceFile('tr2'), (v) => {
      v.trace.flags = [JSON.parse(JSON.stringify(makeFlag('f1', 'tr1', 'Anomaly')))];
      v.flagSeq = [0];
    }).trace;
    const checkpoints = rewrite<Checkpoint[]>(path.join(path.dirname(traceFile('tr1')), 'checkpoints.json'), (v) => (v[0]!.details = { x: DEEP }));
    const series = rewrite<RdSeries>(path.join(tenantDir, 'rd', 'rd1.json'), (v) => {
      v.metadata = { x: DEEP };
      v.points[0]!.meta = { x: DEEP };
    });
    return { root, session, tr1, tr2, checkpoints, series };
  }

  it('reads them back intact: sessions, traces (alone and listed), checkpoints and RD series', async () => {
    const { root, session, tr1, tr2, checkpoints, series } = await storedByAnOlderVersion();
    const s = await openStore(root);
    try {
      expect(await s.getSession('t', 's1')).toEqual(session);
      expect((await s.listSessions('t')).items).toEqual([session]);
      expect(await s.getTrace('t', 'tr1')).toEqual(tr1);
      expect(await s.getTrace('t', 'tr2')).toEqual(tr2);
      expect((await s.listTraces('t')).items).toEqual([tr2, tr1]);
      expect(await s.listCheckpoints('t', 'tr1')).toEqual(checkpoints);
      expect(await s.getRdSeries('t', 'rd1')).toEqual(series);
      expect((await s.listRdSeries('t')).map((r) => r.id)).toEqual(['rd1']);
      // Still writable: a change to such a trace keeps what it held.
      expect(await s.updateTrace('t', 'tr1', { status: 'error' })).toEqual({ ...tr1, status: 'error' });
      expect((await s.addFlag('t', makeFlag('f2', 'tr2', 'Anomaly'))).id).toBe('f2');
      expect((await s.getTrace('t', 'tr2'))!.flags.map((f) => f.id)).toEqual(['f1', 'f2']);
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('still refuses to write them (LIMIT_VALIDATION naming the field), writing nothing', async () => {
    const { root } = await storedByAnOlderVersion();
    const s = await openStore(root);
    const refused = async (call: Promise<unknown>, field: string) => {
      await expect(call).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', details: expect.objectContaining({ field }) });
    };
    const depth = `.x${'.a'.repeat(MAX_JSON_DEPTH - 1)}`;
    try {
      await refused(s.createSession(makeSession('t', 's2', { metadata: { x: DEEP } })), `metadata${depth}`);
      await refused(s.createTrace(makeTrace('t', 'tr3', 's1', 1e12, { metadata: { x: DEEP } })), `metadata${depth}`);
      await refused(s.createTrace(makeTrace('t', 'tr3', 's1', 1e12, { flags: [makeFlag('f3', 'tr1', 'Anomaly')] })), 'flags.0.traceId');
      await refused(s.addCheckpoint('t', { traceId: 'tr1', label: 'c2', passed: true, details: { x: DEEP }, at }), `details${depth}`);
      await refused(s.createRdSeries({ id: 'rd2', sessionId: 's1', tenant: 't', name: 'n', points: [], createdAt: at, metadata: { x: DEEP } }), `metadata${depth}`);
      expect(await s.getSession('t', 's2')).toBeNull();
      expect(await s.getTrace('t', 'tr3')).toBeNull();
      expect(await s.listCheckpoints('t', 'tr1')).toHaveLength(1);
      expect(await s.getRdSeries('t', 'rd2')).toBeNull();
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('storage-file: the store lock', () => {
  const lockFile = (root: string) => path.join(root, 'store.lock');

  it('a folder named store.lock is not a lock: LIMIT_STORAGE_CORRUPT naming it (not "in use by an unknown holder"), left as it is', async () => {
    const root = tempDir();
    try {
      await (await openStore(root)).close();
      mkdirSync(lockFile(root));
      writeFileSync(path.join(lockFile(root), 'note'), 'x');
      const error = await openStore(root).then(() => null, (e: unknown) => e as LimitError);
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_CORRUPT', details: { file: lockFile(root) } });
      expect(error!.message).toContain(`${lockFile(root)} is a folder, not a lock file`);
      expect(error!.message).not.toContain('unknown holder');
      expect(error!.fix).toContain(`Move the folder ${lockFile(root)} out of the store`);
      expect(readdirSync(lockFile(root))).toEqual(['note']);
      expect(readdirSync(root).sort()).toEqual(['schema.json', 'store.lock']);
      rmSync(lockFile(root), { recursive: true });
      await (await openStore(root)).close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('holds store.lock (pid, host, since) while open and removes it on close', async () => {
    const root = tempDir();
    try {
      const s = await openStore(root);
      expect(readJsonFile(lockFile(root))).toMatchObject({ pid: process.pid, host: (await import('node:os')).hostname(), since: expect.any(String) });
      await s.open(); // open() again on the same instance keeps its lock
      await s.close();
      expect(existsSync(lockFile(root))).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('close() lets the writes in progress finish before it releases the lock, and refuses new calls', async () => {
    const root = tempDir();
    try {
      const s = await openStore(root);
      await s.createSession(makeSession('t', 's1'));
      await s.createTrace(makeTrace('t', 'chained', 's1'));
      const writes = Array.from({ length: 20 }, (_, i) => s.createTrace(makeTrace('t', `tr${i}`, 's1')));
      const appended = s.appendProvenance('t', makeProvenance('chained', 0));
      const closing = s.close();
      await expect(s.getTrace('t', 'tr0')).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', message: `File storage ${root} is not open` });
      await closing;
      // The next holder takes the store as soon as close() resolves and builds its index at once.
      // Every write acknowledged by the first instance was made before: the next holder sees it,
      // and a create of the same id is a conflict, not an overwrite. (Before, close() released the
      // lock at once and these writes landed after the next holder had built its index without them.)
      const next = await openStore(root);
      const listed = (await next.listTraces('t', { limit: 100 })).items.length;
      const recreated = await next.createTrace(makeTrace('t', 'tr19', 's1')).then(() => 'created', (e: LimitError) => e.code);
      await Promise.all(writes);
      await appended;
      expect(listed).toBe(21);
      expect(recreated).toBe('LIMIT_CONFLICT');
      expect(await next.listProvenance('t', 'chained')).toHaveLength(1);
      await next.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('open() during close() waits for it, then takes the lock again', async () => {
    const root = tempDir();
    try {
      const s = await openStore(root);
      await s.createSession(makeSession('t', 's0'));
      const write = s.createSession(makeSession('t', 's1'));
      const closing = s.close();
      await s.open();
      await closing;
      await write;
      expect(readJsonFile(lockFile(root))).toMatchObject({ pid: process.pid });
      expect((await s.listSessions('t')).items).toHaveLength(2);
      const second = new FileStorage({ root, fsync: true, maxRecordBytes: 4 * 1024 * 1024, staleLockMs: 30_000 });
      await expect(second.open()).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE' });
      await s.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses a second instance in the same process, and a refused instance leaves the lock alone', async () => {
    const root = tempDir();
    try {
      const s = await openStore(root);
      const lock = readFileSync(lockFile(root), 'utf8');
      const second = new FileStorage({ root, fsync: true, maxRecordBytes: 4 * 1024 * 1024, staleLockMs: 30_000 });
      await expect(second.open()).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', message: expect.stringContaining(`The file store at ${root} is already open in this process`) });
      await second.close();
      expect(readFileSync(lockFile(root), 'utf8')).toBe(lock);
      await s.close();
      await second.open();
      await second.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('takes over a lock naming its own pid with a token it does not hold (a restarted container reuses the pid)', async () => {
    const root = tempDir();
    try {
      const s = await openStore(root);
      const mine = readJsonFile(lockFile(root)) as Record<string, unknown>;
      await s.close();
      writeFileSync(lockFile(root), JSON.stringify({ ...mine, token: 'from-before-the-restart' }));
      const again = await openStore(root);
      expect(readJsonFile(lockFile(root))).toMatchObject({ pid: process.pid, token: expect.not.stringMatching('from-before-the-restart') });
      await again.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it.runIf(existsSync('/proc/self/stat'))('takes over a lock naming a live pid that another process was given since (its start time differs), and refuses the true holder', async () => {
    const root = tempDir();
    try {
      const s = await openStore(root);
      const mine = readJsonFile(lockFile(root)) as Record<string, unknown>;
      await s.close();
      expect(mine.started).toMatch(/^\d+$/);
      // The parent process is alive; its real start time is field 22 of /proc/<pid>/stat.
      const stat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
      const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      writeFileSync(lockFile(root), JSON.stringify({ ...mine, pid: process.ppid, token: 'parent', started }));
      await expect(openStore(root)).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', details: { pid: process.ppid } });
      writeFileSync(lockFile(root), JSON.stringify({ ...mine, pid: process.ppid, token: 'dead-holder', started: `${Number(started) + 1}` }));
      const again = await openStore(root);
      expect(readJsonFile(lockFile(root))).toMatchObject({ pid: process.pid, started: mine.started });
      await again.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('judges a lock from another machine by its age: refused while fresh, taken over once not refreshed for staleLockMs', async () => {
    const root = tempDir();
    try {
      await (await openStore(root)).close();
      const foreign = { pid: 1, host: 'elsewhere', machine: 'elsewhere boot ns', token: 'abc', since: new Date().toISOString() };
      writeFileSync(lockFile(root), JSON.stringify(foreign));
      await expect(openStore(root, { staleLockMs: 5_000 })).rejects.toMatchObject({
        code: 'LIMIT_STORAGE_UNAVAILABLE', details: { root, pid: 1, host: 'elsewhere' }, message: expect.stringContaining('is in use by process 1 on elsewhere since'),
      });
      const old = new Date(Date.now() - 10_000);
      utimesSync(lockFile(root), old, old);
      const s = await openStore(root, { staleLockMs: 5_000 });
      expect(readJsonFile(lockFile(root))).toMatchObject({ pid: process.pid });
      await s.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refreshes its lock while open, and stops using the store when the lock is removed under it', async () => {
    const root = tempDir();
    try {
      const s = await openStore(root, { staleLockMs: 300 });
      await s.createTrace(makeTrace('t', 'tr1', 's1'));
      const old = new Date(Date.now() - 60_000);
      utimesSync(lockFile(root), old, old);
      // Refreshed every staleLockMs / 3 = 100 ms (polled: timers run late on a busy machine).
      await vi.waitFor(async () => expect(Date.now() - (await fsp.stat(lockFile(root))).mtimeMs).toBeLessThan(10_000), { timeout: 5_000, interval: 50 });
      rmSync(lockFile(root));
      await vi.waitFor(() => expect(s.getTrace('t', 'tr1')).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', message: expect.stringContaining('is no longer locked by this process') }), { timeout: 5_000, interval: 50 });
      await expect(s.createTrace(makeTrace('t', 'tr2', 's1'))).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', message: expect.stringContaining('is no longer locked by this process') });
      await s.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('storage-file across processes', () => {
  it('refuses a second process at open() while one holds the store, and changes nothing that process writes', async () => {
    const root = tempDir();
    const first = await openStore(root);
    await first.createTrace(makeTrace('t', 'shared', 's1'));
    await first.close();
    const writer = storeChild('batches', root);
    try {
      await writer.waitFor((line) => line === 'ack 20');
      // What a `limit …` command does at boot while the server writes: open the store, again and again.
      let refusals = 0;
      for (const until = Date.now() + 1500; Date.now() < until; refusals++) {
        const error = await openStore(root).then(async (s) => (await s.close(), null), (e: unknown) => e as LimitError);
        expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { root, lockFile: path.join(root, 'store.lock'), pid: writer.child.pid } });
        expect(error!.message).toContain(`The file store at ${root} is in use by process ${writer.child.pid} on `);
        expect(error!.fix).toContain('Stop that process');
      }
      expect(refusals).toBeGreaterThan(5);
      const { code, lines } = await writer.stop();
      expect(lines.filter((l) => l.startsWith('error'))).toEqual([]);
      expect(code).toBe(0);
      const acked = Number(lines.at(-1)!.replace('closed ', ''));
      // Every batch the writer acknowledged is there, once: none of its journals was replayed or removed.
      const s = await openStore(root);
      expect(await s.verifyProvenance('t', 'shared')).toEqual({ verified: true, length: acked, brokenAt: null });
      expect(await s.getCounters('t')).toEqual({ acked });
      await s.close();
    } finally {
      writer.child.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);

  it('the limit CLI gets the refusal while another process holds the store, and works once it has stopped', async () => {
    const root = tempDir();
    const project = tempDir();
    writeFileSync(path.join(project, 'limit.config.ts'), `export default { logLevel: 'silent', storage: 'file', plugins: { 'storage-file': { root: ${JSON.stringify(root)} } } };\n`);
    const holder = storeChild('hold', root);
    try {
      await holder.waitFor((line) => line === 'ready');
      const refused = await runCli(['doctor'], { cwd: project, env: { LIMIT_LOG_LEVEL: 'silent' } });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`LIMIT_STORAGE_UNAVAILABLE: The file store at ${root} is in use by process ${holder.child.pid} on `);
      expect(readJsonFile(path.join(root, 'store.lock'))).toMatchObject({ pid: holder.child.pid });
      expect((await holder.stop()).code).toBe(0);
      const after = await runCli(['doctor'], { cwd: project, env: { LIMIT_LOG_LEVEL: 'silent' } });
      expect(after.stdout).toContain('storage-file: ok');
      expect(after.code).toBe(0);
      expect(existsSync(path.join(root, 'store.lock'))).toBe(false);
    } finally {
      holder.child.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
      rmSync(project, { recursive: true, force: true });
    }
  }, 60_000);

  it('takes over the store lock of a process killed with SIGKILL', async () => {
    const root = tempDir();
    const holder = storeChild('hold', root);
    try {
      await holder.waitFor((line) => line === 'ready');
      holder.child.kill('SIGKILL');
      await holder.exited;
      expect(readJsonFile(path.join(root, 'store.lock'))).toMatchObject({ pid: holder.child.pid });
      const s = await openStore(root);
      expect(readJsonFile(path.join(root, 'store.lock'))).toMatchObject({ pid: process.pid });
      await s.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);

  it('keeps every acknowledged write after SIGKILL and reopens cleanly', async () => {
    const root = tempDir();
    try {
      const r = await crashTest({ plugin: 'storage-file', options: { root } }, { minAcks: 100 });
      expect(r.signal).toBe('SIGKILL');
      expect(r.missing).toEqual([]);
      expect(r.verification.verified).toBe(true);
      expect(r.verification.length).toBeGreaterThanOrEqual(r.acknowledged.length);
      expect(r.counter).toBeGreaterThanOrEqual(r.acknowledged.length);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});

export type { Storage };
