/**
 * Anomaly rules, the source of `Anomaly` flags: rolling baselines of output length, latency and
 * token rate per tenant and runner (z-scores), repeated-output loops, and encoding anomalies.
 * Baselines live in memory per process (documented in the README): they re-learn after a restart,
 * which only delays detection by `minSamples` traces. They are kept per (tenant, runner), so one
 * tenant's traces never move another's baseline, and bounded (`maxTenants` × `maxRunnersPerTenant`,
 * least recently used dropped first).
 */
import type { Finding, GovernanceRule, RuleSubject, Trace } from 'limit-graph';

export interface AnomalyOptions {
  /** Traces per runner kept in the rolling window. */
  window: number;
  /** No z-score flag before this many samples of a runner. */
  minSamples: number;
  /** |z| at which a metric is anomalous. */
  zThreshold: number;
  /** A line repeated this many times is a loop. */
  repeatLines: number;
  /** Tenants whose baselines are kept at most; past it the least recently active tenant's are dropped. */
  maxTenants: number;
  /** Runners with a baseline per tenant at most; past it the tenant's least recently used one is dropped. */
  maxRunnersPerTenant: number;
}

/**
 * A Map bounded to `max` entries, least recently used dropped first: `use` returns the value of
 * `key` (made by `create` when absent) and marks it the most recently used.
 */
class Lru<V> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly max: number) {}
  get size(): number {
    return this.entries.size;
  }
  has(key: string): boolean {
    return this.entries.has(key);
  }
  use(key: string, create: () => V): V {
    let value = this.entries.get(key);
    if (value === undefined) value = create();
    else this.entries.delete(key);
    this.entries.set(key, value);
    // Map iterates in insertion order: the first key is the least recently used.
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }
}

class Rolling {
  readonly values: number[] = [];
  constructor(private readonly size: number) {}
  push(v: number): void {
    this.values.push(v);
    if (this.values.length > this.size) this.values.shift();
  }
  z(v: number): number | undefined {
    const n = this.values.length;
    if (n === 0) return undefined;
    // Plain loops (the same sums, in the same order, as reduce): this runs for every metric of every
    // output over the whole window, and reduce's callback calls were most of the rule's time.
    const values = this.values;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[i]!;
    const mean = sum / n;
    let squares = 0;
    for (let i = 0; i < n; i++) squares += (values[i]! - mean) ** 2;
    const sd = Math.sqrt(squares / n);
    // A constant baseline has no spread; a small floor keeps one odd value from dividing by zero.
    return (v - mean) / Math.max(sd, Math.abs(mean) * 0.05, 1e-9);
  }
}

function metricsOf(trace: Trace): Record<string, number> {
  const out: Record<string, number> = { outputLength: (trace.output?.stdout.length ?? 0) + (trace.output?.stderr.length ?? 0) };
  if (trace.metrics) {
    out.latencyMs = trace.metrics.latencyMs;
    if (trace.metrics.tokensOut !== undefined && trace.metrics.latencyMs > 0) out.tokenRate = trace.metrics.tokensOut / (trace.metrics.latencyMs / 1000);
  }
  return out;
}

/** Trace ids the baseline remembers having taken (per process), most recent kept. */
export const SEEN_TRACES = 10_000;

export function createAnomalyRules(options: AnomalyOptions): GovernanceRule[] {
  // tenant → runner → metric → rolling window. Keyed by tenant first: `runner` is a free-form name a
  // client gives (POST /traces), so a shared baseline would let one tenant's traces decide another's
  // z-scores (and quarantines). Both levels are LRU-bounded, so no number of names grows it past
  // maxTenants × maxRunnersPerTenant baselines.
  const baselines = new Lru<Lru<Map<string, Rolling>>>(options.maxTenants);
  // Traces whose metrics the baseline has taken: a long output is scanned as several windows (and an
  // empty stdout leaves stderr, value and error), each a call of `evaluate`. The oldest are forgotten
  // first: clearing them all at once also forgot the trace just added, so the next window of that
  // very trace counted it twice and repeated its finding.
  const seen = new Lru<true>(SEEN_TRACES);

  const baseline: GovernanceRule = {
    id: 'anomaly.baseline',
    flag: 'Anomaly',
    surfaces: ['output'],
    description: 'Output length, latency and token rate far from the rolling baseline of the tenant\'s runner (z-score).',
    evaluate(subject, ctx) {
      // A bare text (a check) is not a run: no tenant, runner or metrics of its own, and every
      // check is the same stand-in trace, so it is neither taken into a baseline nor scored.
      if (ctx?.bareText) return [];
      // One update per trace, whatever the number of fields and views.
      if ((subject.view?.name ?? 'raw') !== 'raw' || subject.field !== 'output.stdout' && subject.trace.output?.stdout) return [];
      const key = `${subject.trace.tenant}\u0000${subject.trace.id}`;
      if (seen.has(key)) return [];
      seen.use(key, () => true);
      const perTenant = baselines.use(subject.trace.tenant, () => new Lru(options.maxRunnersPerTenant));
      const perRunner = perTenant.use(subject.trace.runner, () => new Map());
      const findings: Finding[] = [];
      for (const [metric, value] of Object.entries(metricsOf(subject.trace))) {
        let rolling = perRunner.get(metric);
        if (!rolling) perRunner.set(metric, (rolling = new Rolling(options.window)));
        const z = rolling.values.length >= options.minSamples ? rolling.z(value) : undefined;
        rolling.push(value);
        if (z !== undefined && Math.abs(z) >= options.zThreshold) {
          findings.push({
            ruleId: 'anomaly.baseline', kind: 'Anomaly', severity: Math.min(10, Math.round(3 + Math.abs(z) / 2)),
            reason: `${metric} ${value.toFixed(1)} is ${z.toFixed(1)} standard deviations from runner "${subject.trace.runner}"'s baseline`,
            evidence: [{ field: `metrics.${metric}`, start: 0, end: 0, excerpt: `${metric}=${value.toFixed(1)} z=${z.toFixed(2)}` }],
          });
        }
      }
      return findings;
    },
  };

  const loops: GovernanceRule = {
    id: 'anomaly.repetition',
    flag: 'Anomaly',
    surfaces: ['output'],
    description: 'The same line repeated many times: a generation loop.',
    evaluate(subject: RuleSubject) {
      if ((subject.view?.name ?? 'raw') !== 'raw') return [];
      const counts = new Map<string, number>();
      let pos = 0;
      let lines = 0;
      let top = '';
      let topCount = 0;
      while (pos < subject.text.length && lines < 5000) {
        let end = subject.text.indexOf('\n', pos);
        if (end < 0) end = subject.text.length;
        const line = subject.text.slice(pos, end).trim();
        lines++;
        if (line.length >= 4) {
          const c = (counts.get(line) ?? 0) + 1;
          counts.set(line, c);
          if (c > topCount) [top, topCount] = [line, c];
        }
        pos = end + 1;
      }
      if (topCount >= options.repeatLines) {
        const at = subject.text.indexOf(top);
        return [{ ruleId: 'anomaly.repetition', kind: 'Anomaly', severity: topCount >= options.repeatLines * 2 ? 7 : 5, reason: `A line is repeated ${topCount} times (generation loop)`, evidence: [{ field: subject.field, start: at, end: at + top.length, excerpt: top.slice(0, 200) }] }];
      }
      return [];
    },
  };

  const encoding: GovernanceRule = {
    id: 'anomaly.encoding',
    flag: 'Anomaly',
    surfaces: ['output', 'tool'],
    description: 'Replacement characters, control characters or binary noise in text output.',
    evaluate(subject) {
      if ((subject.view?.name ?? 'raw') !== 'raw' || subject.text.length < 16) return [];
      let bad = 0;
      let first = -1;
      const n = Math.min(subject.text.length, 65_536);
      for (let i = 0; i < n; i++) {
        const c = subject.text.charCodeAt(i);
        if (c === 0xfffd || (c < 32 && c !== 9 && c !== 10 && c !== 13) || (c >= 0x7f && c < 0xa0)) {
          if (first < 0) first = i;
          bad++;
        }
      }
      const ratio = bad / n;
      if (bad < 4 || ratio < 0.02) return [];
      return [{ ruleId: 'anomaly.encoding', kind: 'Anomaly', severity: ratio > 0.2 ? 7 : 4, reason: `${(ratio * 100).toFixed(1)}% of the text is replacement or control characters`, evidence: [{ field: subject.field, start: first, end: first + 1, excerpt: subject.text.slice(first, first + 40) }] }];
    },
  };

  return [baseline, loops, encoding];
}
