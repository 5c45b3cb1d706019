import { existsSync } from 'node:fs';
import { defineConfig } from 'limit-graph';

/**
 * The project's own configuration, used by `npm start` and `npx limit …` in this folder: the
 * embedded default (SQLite in .limit/, the Python runner, governance `default`, RD plugins, the
 * orchestrator and the HTTP API on 127.0.0.1:8787).
 */
export default defineConfig({
  extends: 'default',
  plugins: {
    // A system interpreter that unprivileged uids can run gives each session its own uid, so
    // sessions cannot read each other's files (see plugins/runner-python/README.md).
    'runner-python': existsSync('/usr/bin/python3') ? { python: '/usr/bin/python3' } : true,
    // Local development: every request is the config's tenant. For anything reachable by others set
    // LIMIT_AUTH_MODE=apiKey and LIMIT_API_KEYS=key:tenant,… (see docs/api.md).
    'api-http': { auth: { mode: 'none' } },
  },
});
