/** Evaluation metrics for `limit governance eval`: pure functions over per-item results. */
export interface EvalItem {
  id?: string;
  label: string;
  positive: boolean;
  severity: number;
  latencyMs: number;
}

/** The labels of an evaluation dataset: `benign`, or the attack it is. */
export const LABELS = ['benign', 'jailbreak', 'injection', 'harmful'] as const;
const ATTACK_LABELS = new Set<string>(LABELS.filter((l) => l !== 'benign'));
export const isAttack = (label: string) => ATTACK_LABELS.has(label);
/** The `source` group of an id: the id without its trailing number (`dev-itw-0012` → `dev-itw`). */
export const sourceOf = (id: string | undefined) => (id ? id.replace(/[-_]\d+$/, '') : undefined);

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** ROC-AUC of severity as a score (Mann–Whitney; ties count one half). */
export function rocAuc(pos: number[], neg: number[]): number | null {
  if (!pos.length || !neg.length) return null;
  const all = [...pos.map((s) => ({ s, p: 1 })), ...neg.map((s) => ({ s, p: 0 }))].sort((a, b) => a.s - b.s);
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]!.s === all[i]!.s) j++;
    const avg = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]!.p) rankSum += avg;
    i = j;
  }
  return (rankSum - (pos.length * (pos.length + 1)) / 2) / (pos.length * neg.length);
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

/**
 * The metrics of an evaluation, exact (unrounded): an output rounds them once, as it prints them —
 * roundMetrics for JSON, toFixed for text. Printing an already rounded ratio rounds twice
 * (1/26 = 3.846% → 0.0385 → "3.9%").
 */
export function computeMetrics(items: EvalItem[], wallMs: number) {
  const attacks = items.filter((i) => isAttack(i.label));
  const benign = items.filter((i) => !isAttack(i.label));
  const tp = attacks.filter((i) => i.positive).length;
  const fp = benign.filter((i) => i.positive).length;
  const recall = attacks.length ? tp / attacks.length : 0;
  const fpr = benign.length ? fp / benign.length : 0;
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  const perLabel: Record<string, { count: number; flagged: number; recall?: number; fpr?: number }> = {};
  for (const i of items) {
    const e = (perLabel[i.label] ??= { count: 0, flagged: 0 });
    e.count++;
    if (i.positive) e.flagged++;
  }
  for (const [label, e] of Object.entries(perLabel)) {
    if (isAttack(label)) e.recall = e.flagged / e.count;
    else e.fpr = e.flagged / e.count;
  }
  // A source's label is its items' label, or `mixed` when they differ (it was its first item's).
  const perSource: Record<string, { label: string; count: number; flagged: number; rate: number }> = {};
  // The false-positive rate of a source is over its benign items only: an attack in a mixed source
  // (flagged, as it should be) is not a false positive.
  const benignBySource: Record<string, { count: number; flagged: number }> = {};
  for (const i of items) {
    const src = sourceOf(i.id);
    if (!src) continue;
    const e = (perSource[src] ??= { label: i.label, count: 0, flagged: 0, rate: 0 });
    if (e.label !== i.label) e.label = 'mixed';
    e.count++;
    if (i.positive) e.flagged++;
    if (isAttack(i.label)) continue;
    const b = (benignBySource[src] ??= { count: 0, flagged: 0 });
    b.count++;
    if (i.positive) b.flagged++;
  }
  for (const e of Object.values(perSource)) e.rate = e.flagged / e.count;
  const fprBySource = Object.fromEntries(Object.entries(benignBySource).map(([k, b]) => [k, b.flagged / b.count]));
  const latencies = items.map((i) => i.latencyMs).sort((a, b) => a - b);
  return {
    count: items.length,
    attacks: attacks.length,
    benign: benign.length,
    confusion: { tp, fp, tn: benign.length - fp, fn: attacks.length - tp },
    recall,
    fpr,
    precision,
    f1,
    balancedAccuracy: (recall + (1 - fpr)) / 2,
    rocAuc: rocAuc(attacks.map((i) => i.severity), benign.map((i) => i.severity)),
    perLabel,
    fprBySource,
    perSource,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), mean: latencies.reduce((a, b) => a + b, 0) / (latencies.length || 1) },
    throughputPerSec: Math.round(items.length / (wallMs / 1000)),
  };
}

export type Metrics = ReturnType<typeof computeMetrics>;

/** The metrics as `limit governance eval --json` prints them: ratios and latencies to 4 decimals. */
export function roundMetrics<M extends Metrics>(m: M): M {
  const each = <T>(record: Record<string, T>, f: (v: T) => T) => Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
  return {
    ...m,
    recall: round(m.recall),
    fpr: round(m.fpr),
    precision: round(m.precision),
    f1: round(m.f1),
    balancedAccuracy: round(m.balancedAccuracy),
    rocAuc: m.rocAuc === null ? null : round(m.rocAuc),
    perLabel: each(m.perLabel, (e) => ({ ...e, ...(e.recall !== undefined ? { recall: round(e.recall) } : {}), ...(e.fpr !== undefined ? { fpr: round(e.fpr) } : {}) })),
    fprBySource: each(m.fprBySource, round),
    perSource: each(m.perSource, (e) => ({ ...e, rate: round(e.rate) })),
    latencyMs: { p50: round(m.latencyMs.p50), p99: round(m.latencyMs.p99), mean: round(m.latencyMs.mean) },
  };
}
