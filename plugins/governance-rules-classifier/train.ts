/**
 * Trains the shipped model from data/train.jsonl and writes model.json:
 * `npm run train:classifier` (or `npx tsx plugins/governance-rules-classifier/train.ts [--data f] [--out f]`).
 * Deterministic: the same data and options give the same file, which a test checks.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeView } from '../governance/views.ts';
import { CLASSES, type ClassName, features, train, type LinearModel, type TrainOptions } from './model.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DATA = path.join(here, 'data', 'train.jsonl');
export const MODEL = path.join(here, 'model.json');

export const TRAIN_OPTIONS: TrainOptions = { epochs: 30, learningRate: 0.5, l2: 3e-4, minCount: 2, prune: 0.02, seed: 20261126 };

/** The words of a text as the governance views read it (the raw view's tokens). */
export const wordsOf = (text: string): string[] => makeView('raw', text).tokens.map((t) => t.w);

/** Reads data lines `{ text, label }`, refusing a malformed one by its line number. */
export function readData(file: string): { text: string; label: ClassName }[] {
  return readFileSync(file, 'utf8').split('\n').flatMap((line, i) => {
    if (!line.trim()) return [];
    let row: { text?: unknown; label?: unknown };
    try {
      row = JSON.parse(line) as typeof row;
    } catch (error) {
      throw new Error(`${file}:${i + 1}: not JSON (${(error as Error).message})`);
    }
    if (typeof row.text !== 'string' || !row.text.trim()) throw new Error(`${file}:${i + 1}: "text" must be a non-empty string`);
    if (!CLASSES.includes(row.label as ClassName)) throw new Error(`${file}:${i + 1}: "label" must be one of ${CLASSES.join(', ')}, got ${JSON.stringify(row.label)}`);
    return [{ text: row.text, label: row.label as ClassName }];
  });
}

export function trainFrom(file: string, options: TrainOptions = TRAIN_OPTIONS): LinearModel {
  const rows = readData(file);
  return train(rows.map((r) => ({ feats: features(wordsOf(r.text)), label: r.label })), options, { data: path.basename(file) });
}

export const serialize = (model: LinearModel): string => `${JSON.stringify(model)}\n`;

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { data: { type: 'string', default: DATA }, out: { type: 'string', default: MODEL } } });
  const model = trainFrom(values.data!);
  writeFileSync(values.out!, serialize(model));
  console.log(JSON.stringify({ out: values.out, ...model.trainedOn }));
}
