/**
 * Operational rates: what a refinement step actually spent (tokens, bytes, money, seconds). They
 * are taken as given — no conversion to bits and no normalisation — after checking that each is a
 * finite number ≥ 0.
 */
import type { OperationalRate, RateUnit } from 'limit-graph';
import { invalid } from './errors.ts';

export type { OperationalRate, RateUnit };

export function operationalRate(value: unknown, unit: RateUnit = 'tokens', field = 'rate'): OperationalRate {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(field, `must be a finite number, got ${String(value)}`);
  if (value < 0) throw invalid(field, `must be ≥ 0, got ${value}`);
  if (typeof unit !== 'string' || unit.length === 0) throw invalid(`${field}.unit`, 'must be a non-empty string');
  return { value, unit };
}

/** Validates a list of operational rates (e.g. the rate column of an RD series). */
export function operationalRates(values: readonly unknown[], unit: RateUnit = 'tokens', field = 'rates'): OperationalRate[] {
  if (!Array.isArray(values)) throw invalid(field, 'must be an array of numbers');
  return values.map((v, i) => operationalRate(v, unit, `${field}[${i}]`));
}
