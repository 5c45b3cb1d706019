import { defineConfig } from 'limit-graph';

/**
 * The built-in runtime preset: the embedded default (SQLite storage) with every built-in plugin
 * that needs no external service. A config can `extends: 'default'` and override any entry.
 */
export default defineConfig({
  plugins: {},
});
