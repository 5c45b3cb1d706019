import { defineConfig } from 'limit-graph';

// The project's own configuration: the embedded default (SQLite) preset.
export default defineConfig({
  extends: 'default',
  logLevel: 'info',
});
