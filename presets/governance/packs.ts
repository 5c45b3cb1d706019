/** The built-in scan packs every preset runs (the LLM judge is opt-in: it needs a runner). */
export const BUILT_IN_PACKS = ['jailbreak', 'injection', 'obfuscation', 'malicious', 'unsafe', 'anomaly', 'provenance', 'highrisk', 'classifier'] as const;
