/**
 * A sanity check of an LMDB data file (`data.mdb`) before lmdb-js opens it.
 *
 * LMDB trusts its file: lmdb-js's open of a file whose meta pages are not LMDB's crashes the process
 * (SIGSEGV, SIGFPE: its error path after a failed mdb_env_open frees twice), and a file cut short
 * maps pages that are not there (SIGBUS at the first read of one). None of that can be caught in
 * JavaScript, so the file is read here first and refused with LIMIT_STORAGE_CORRUPT, untouched.
 *
 * On-disk layout, from lmdb's own liblmdb (node_modules/lmdb/dependencies/lmdb/libraries/liblmdb/
 * mdb.c, a 64-bit little-endian build; checked against freshly created stores):
 *   MDB_page_header (PAGEHDRSZ = 24): mp_pgno u64 @0, mp_txnid u64 @8, mh_pad u16 @16,
 *     mp_flags u16 @18, mp_lower u16 @20, mp_upper u16 @22; then mp_ptrs[] (u16 node offsets,
 *     relative to PAGEBASE = PAGEHDRSZ).
 *   Pages 0 and 1 are meta pages (P_META); MDB_meta follows the header: mm_magic u32 @0,
 *     mm_version u32 @4, mm_address @8, mm_mapsize u64 @16, mm_dbs[FREE_DBI] @24, mm_dbs[MAIN_DBI]
 *     @72, mm_last_pg u64 @120, mm_txnid u64 @128, boot_id i64 @136.
 *   MDB_db (48 bytes): md_pad u32 @0 (the page size, in the free DB's), md_flags u16 @4 (the
 *     environment's flags, in the free DB's), page counts, md_root u64 @40 (P_INVALID: empty tree).
 *   With overlapping sync (lmdb-js's default unless noSync), a third copy of MDB_meta from
 *     mm_mapsize on — the last snapshot synced to disk — sits at PAGEHDRSZ + pageSize / 2 in page 0.
 *   MDB_node: mn_lo u16, mn_hi u16, mn_flags u16, mn_ksize u16, then key and data. A branch node's
 *     child is lo | hi << 16 | flags << 32; a leaf node's F_BIGDATA data is MDB_ovpage {op_pgno u64,
 *     op_txnid u64, op_pages u64}; F_SUBDATA data is an MDB_db.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { LimitError } from 'limit-graph';

const PAGEHDRSZ = 24;
const META = PAGEHDRSZ; // MDB_meta's place in a meta page
const META_END = META + 144; // what LMDB reads of a meta page
const P_BRANCH = 0x01;
const P_LEAF = 0x02;
const P_META = 0x08;
const P_LEAF2 = 0x20;
const MDB_MAGIC = 0xbeefc0de;
const MDB_DATA_VERSION = 2;
const MDB_OVERLAPPINGSYNC = 0x1000;
const MDB_ENCRYPT = 0x2000;
const F_BIGDATA = 0x01;
const F_SUBDATA = 0x02;
const P_INVALID = 0xffffffffffffffffn;

interface Meta {
  name: string;
  pageSize: number;
  flags: number;
  mapSize: bigint;
  freeRoot: bigint;
  mainRoot: bigint;
  lastPage: bigint;
  txnid: bigint;
  bootId: bigint;
}

/** Refuses (LIMIT_STORAGE_CORRUPT) a `<dir>/data.mdb` that LMDB cannot open safely; a missing or empty one is a new store. */
export function checkDataFile(dir: string, options: { noSync: boolean }): void {
  refuseNonFiles(dir);
  const file = path.join(dir, 'data.mdb');
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return; // missing (a new store), or unreadable: lmdb.open reports that without crashing
  }
  try {
    check(fd, file, options);
  } finally {
    closeSync(fd);
  }
}

/**
 * `data.mdb` or `lock.mdb` that exists but is not a file (a folder, a FIFO): LIMIT_STORAGE_CORRUPT
 * naming it. lmdb-js's failed open with a folder at lock.mdb can kill the process (SIGSEGV); a folder at
 * data.mdb failed with a bare EISDIR.
 */
function refuseNonFiles(dir: string): void {
  for (const name of ['data.mdb', 'lock.mdb']) {
    const file = path.join(dir, name);
    let stat;
    try {
      stat = statSync(file);
    } catch {
      continue; // missing: LMDB creates it; unreadable: lmdb.open reports that without crashing
    }
    if (stat.isFile()) continue;
    throw new LimitError('LIMIT_STORAGE_CORRUPT', `${file} is not a file (${stat.isDirectory() ? 'a folder' : 'not a regular file'}), so the folder is not a usable LMDB store; it was left as it is`, {
      plugin: 'storage-kv', details: { file, problem: 'not a file' },
      fix: `Move ${name} out of ${dir} (LMDB makes its own ${name}), or point path / LIMIT_KV_PATH at the store's folder.`,
    });
  }
}

function check(fd: number, file: string, { noSync }: { noSync: boolean }): void {
  const corrupt = (problem: string) => new LimitError('LIMIT_STORAGE_CORRUPT', `${file} is not a usable LMDB data file: ${problem}; the file was left as it is`, {
    plugin: 'storage-kv', details: { file, problem },
    fix: 'Restore the store folder from a backup (with every process using it stopped); if the folder should be a new store, move data.mdb aside.',
  });
  // The meta pages before the size: a writer in another process extends the file before it
  // writes the meta page that counts the new pages, so a size read after them covers them.
  const head = Buffer.alloc(2 * 65536);
  const headBytes = readSync(fd, head, 0, head.length, 0);
  const stat = fstatSync(fd);
  if (!stat.isFile() || stat.size === 0) return; // not a file: lmdb.open reports it; empty: LMDB initialises it
  if (headBytes < META_END) throw corrupt(`it is ${stat.size} bytes, too short for LMDB's meta pages`);

  const meta0 = readMeta(head, 0, 'meta page 0', corrupt);
  const pageSize = meta0.pageSize;
  if (pageSize < 256 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw corrupt(`meta page 0 records a page size of ${pageSize} bytes (LMDB uses a power of two from 256 to 65536)`);
  if (stat.size < 2 * pageSize) throw corrupt(`it is ${stat.size} bytes, shorter than its two meta pages (${2 * pageSize} bytes)`);
  if (stat.size % pageSize !== 0) throw corrupt(`it is ${stat.size} bytes, not a whole number of ${pageSize}-byte pages (cut short?)`);
  if (headBytes < pageSize + META_END) throw corrupt(`it is ${stat.size} bytes, shorter than its two meta pages`);
  const meta1 = readMeta(head, pageSize, 'meta page 1', corrupt);
  const synced = readMetaFields(head, pageSize / 2, 'the synced meta copy in page 0');
  const metas = synced.txnid === 0n ? [meta0, meta1] : [meta0, meta1, synced];
  for (const m of metas) {
    if (m.pageSize !== pageSize) throw corrupt(`${m.name} records a page size of ${m.pageSize} bytes, meta page 0 ${pageSize}`);
    if (m.flags & MDB_ENCRYPT) throw corrupt(`${m.name} says the file is encrypted, and storage-kv opens LMDB without encryption`);
  }

  // The snapshots LMDB will open (header and first transaction), then every page they need.
  const filePages = BigInt(stat.size / pageSize);
  const walked = new Set<bigint>();
  for (const m of snapshotsLmdbOpens(meta0, meta1, synced, !noSync)) {
    // LMDB never allocates past its map, and maps the last page: a larger number is damage (and an mmap that fails).
    if ((m.lastPage + 1n) * BigInt(pageSize) > m.mapSize) throw corrupt(`${m.name} records page ${m.lastPage} as its last, beyond its map size of ${m.mapSize} bytes`);
    for (const [tree, root] of [['free-page tree', m.freeRoot], ['main tree', m.mainRoot]] as const) {
      if (root !== P_INVALID && root >= filePages) throw corrupt(`${m.name} puts the root of the ${tree} at page ${root}, past the end of the file (${filePages} pages: cut short?)`);
    }
    // A file that holds the last page holds every page. A shorter one is sound only when the pages it
    // lacks are free (LMDB does not write a page that the transaction which allocated it freed
    // again): the trees are walked to see that every page they use is in the file.
    if (m.lastPage >= filePages) {
      for (const root of [m.freeRoot, m.mainRoot]) walk(fd, root, pageSize, filePages, walked, m.name, corrupt);
    }
  }
}

function readMeta(head: Buffer, at: number, name: string, corrupt: (problem: string) => LimitError): Meta {
  const flags = head.readUInt16LE(at + 18);
  const magic = head.readUInt32LE(at + META);
  const version = head.readUInt32LE(at + META + 4) & 0xffff; // LMDB compares the low 16 bits
  if (magic !== MDB_MAGIC) throw corrupt(`${name} is not an LMDB meta page (magic number 0x${magic.toString(16).padStart(8, '0')}, expected 0x${MDB_MAGIC.toString(16)})`);
  if (!(flags & P_META)) throw corrupt(`${name} is not marked as a meta page (page flags 0x${flags.toString(16).padStart(4, '0')})`);
  if (version !== MDB_DATA_VERSION) throw corrupt(`${name} records LMDB data format version ${version}; this lmdb reads version ${MDB_DATA_VERSION}`);
  return readMetaFields(head, at, name);
}

/** MDB_meta from mm_mapsize on (all the synced copy has), for a meta page at `at`. */
function readMetaFields(head: Buffer, at: number, name: string): Meta {
  const m = at + META;
  return {
    name,
    mapSize: head.readBigUInt64LE(m + 16),
    pageSize: head.readUInt32LE(m + 24),
    flags: head.readUInt16LE(m + 28),
    freeRoot: head.readBigUInt64LE(m + 24 + 40),
    mainRoot: head.readBigUInt64LE(m + 72 + 40),
    lastPage: head.readBigUInt64LE(m + 120),
    txnid: head.readBigUInt64LE(m + 128),
    bootId: head.readBigInt64LE(m + 136),
  };
}

/**
 * The snapshot mdb_env_read_header picks and the one a transaction then uses (mdb_env_pick_meta),
 * as lmdb-js opens the environment: with overlapping sync (unless noSync), which adds
 * MDB_PREVSNAPSHOT — after a reboot (another boot id) LMDB falls back to the older snapshot, which
 * was synced, rather than the newest, which may not be.
 */
function snapshotsLmdbOpens(meta0: Meta, meta1: Meta, synced: Meta, overlappingSync: boolean): Set<Meta> {
  const bootId = currentBootId();
  const safeRestore = process.env.LMDB_RESTORE === 'safe';
  // mdb_pick_meta
  const pick = (a: Meta, b: Meta): Meta => {
    const latest = a.txnid >= b.txnid ? a : b;
    if (!overlappingSync) return latest;
    if (b.txnid === 0n) return a;
    if (bootId === undefined) return latest; // unknown boot: the stricter choice (the newest must be whole)
    if ((latest.bootId !== 0n && latest.bootId === bootId && !safeRestore) || !(latest.flags & MDB_OVERLAPPINGSYNC)) return latest;
    return a.txnid > b.txnid ? b : a;
  };
  if (!overlappingSync) return new Set([pick(meta0, meta1)]);
  return new Set([pick(pick(meta0, synced), meta1), pick(pick(meta0, meta1), synced)]);
}

/** The boot id as lmdb-js reads it on Linux (strtoll of /proc/sys/kernel/random/boot_id, base 16); undefined elsewhere. */
function currentBootId(): bigint | undefined {
  try {
    const hex = /^[0-9a-f]+/i.exec(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'))?.[0];
    return hex ? BigInt.asIntN(64, BigInt(`0x${hex.slice(0, 16)}`)) : undefined;
  } catch {
    return undefined;
  }
}

/** Every page of the tree under `root` (branch, leaf, overflow, sub-databases) must lie inside the file. */
function walk(fd: number, root: bigint, pageSize: number, filePages: bigint, walked: Set<bigint>, name: string, corrupt: (problem: string) => LimitError): void {
  const page = Buffer.alloc(pageSize);
  const stack = root === P_INVALID ? [] : [root];
  while (stack.length > 0) {
    const pgno = stack.pop()!;
    if (pgno >= filePages) throw corrupt(`${name} uses page ${pgno}, past the end of the file (${filePages} pages: cut short?)`);
    if (walked.has(pgno)) continue;
    walked.add(pgno);
    readSync(fd, page, 0, pageSize, Number(pgno) * pageSize);
    const flags = page.readUInt16LE(18);
    const lower = page.readUInt16LE(20);
    if (page.readBigUInt64LE(0) !== pgno || !(flags & (P_BRANCH | P_LEAF)) || PAGEHDRSZ + lower > pageSize) {
      throw corrupt(`page ${pgno}, which ${name} uses, is not a B-tree page`);
    }
    if (flags & P_LEAF2) continue; // fixed-size keys only
    for (let i = 0; i < lower >> 1; i++) {
      const node = PAGEHDRSZ + page.readUInt16LE(PAGEHDRSZ + 2 * i);
      if (node + 8 > pageSize) throw corrupt(`page ${pgno}, which ${name} uses, has a node outside the page`);
      const nodeFlags = page.readUInt16LE(node + 4);
      if (flags & P_BRANCH) {
        stack.push(BigInt(page.readUInt16LE(node)) | (BigInt(page.readUInt16LE(node + 2)) << 16n) | (BigInt(nodeFlags) << 32n));
        continue;
      }
      const data = node + 8 + page.readUInt16LE(node + 6);
      if (nodeFlags & F_BIGDATA) {
        if (data + 24 > pageSize) throw corrupt(`page ${pgno}, which ${name} uses, has a node outside the page`);
        const first = page.readBigUInt64LE(data);
        const last = first + page.readBigUInt64LE(data + 16) - 1n;
        if (last >= filePages) throw corrupt(`${name} uses pages ${first}–${last} for a value, past the end of the file (${filePages} pages: cut short?)`);
      } else if (nodeFlags & F_SUBDATA) {
        if (data + 48 > pageSize) throw corrupt(`page ${pgno}, which ${name} uses, has a node outside the page`);
        const subRoot = page.readBigUInt64LE(data + 40);
        if (subRoot !== P_INVALID) stack.push(subRoot);
      }
    }
  }
}
