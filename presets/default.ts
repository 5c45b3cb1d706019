import { defineConfig } from 'limit-graph';

/**
 * The built-in runtime preset, "the embedded default": SQLite storage in `dataDir`, the Python
 * runner, governance with the `default` policy and its rule packs, the RD plugins, the
 * orchestrator and the HTTP API. A config `extends: 'default'` and overrides any entry; set an
 * entry to `false` to drop a plugin.
 */
export default defineConfig({
  storage: 'sqlite',
  plugins: {
    'storage-sqlite': true,
    'runner-python': true,
    governance: { preset: 'default' },
    'governance-rules-jailbreak': true,
    'governance-rules-injection': true,
    'governance-rules-obfuscation': true,
    'governance-rules-malicious': true,
    'governance-rules-unsafe': true,
    'governance-rules-anomaly': true,
    'governance-rules-provenance': true,
    'governance-rules-highrisk': true,
    'governance-rules-classifier': true,
    'rd-fgw': true,
    'rd-rate': true,
    'knee-menger': true,
    'knee-kneedle': true,
    orchestrator: true,
    'api-http': true,
  },
});
