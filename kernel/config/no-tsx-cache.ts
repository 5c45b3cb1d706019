/**
 * Turns off tsx's compile cache for this process. tsx writes every file it compiles to
 * `<os.tmpdir()>/tsx-<uid>/` (a 0755 folder, 0644 files): a world-readable compiled copy of
 * limit.config.ts — its secrets included — however private the file itself is (a session uid of
 * runner-python read an API key there). tsx reads TSX_DISABLE_CACHE once, when it is first loaded,
 * so this module is imported before it (see load.ts; bin/limit.js sets it before registering tsx).
 * Config files are small: compiling them afresh costs milliseconds.
 */
process.env.TSX_DISABLE_CACHE = '1';

export {};
