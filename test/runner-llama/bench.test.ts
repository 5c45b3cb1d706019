/** `limit bench llama`: the generated model is one llama.cpp loads at every width the flag accepts. */
import { describe, expect, it } from 'vitest';
import { parseOptions, run } from '../../bench/llama.ts';
import { buildTinyLlama } from '../fixtures/gguf/make-tiny-llama.ts';

describe('bench llama --width', () => {
  it('a width that is a multiple of 64 but not of 128 builds a model llama.cpp loads (192 failed: 1.5 KV heads)', async () => {
    const report = (await run(['--width', '192', '--blocks', '1', '--prompt-tokens', '16', '--gen-tokens', '4', '--rounds', '1'])) as { model: { width: number }; cpu: { promptTokensPerSec: number } };
    expect(report.model.width).toBe(192);
    expect(report.cpu.promptTokensPerSec).toBeGreaterThan(0);
  }, 60_000);

  it('every accepted width has whole head counts; others are refused naming --width', () => {
    for (let width = 64; width <= 4096; width += 64) {
      const { embeddingLength, headCount, headCountKv } = parseOptions(['--width', String(width)]).shape;
      expect(embeddingLength).toBe(width);
      expect(Number.isInteger(headCount) && Number.isInteger(headCountKv), `width ${width}: ${headCount} heads, ${headCountKv} KV heads`).toBe(true);
      expect(width % headCount, `width ${width}`).toBe(0);
      expect(headCount % headCountKv, `width ${width}`).toBe(0);
    }
    // The widths measured in the README keep their shape: 8 heads and 4 KV heads at 512, 16 and 8 at 1024.
    expect(parseOptions(['--width', '512']).shape).toMatchObject({ headCount: 8, headCountKv: 4 });
    expect(parseOptions(['--width', '1024']).shape).toMatchObject({ headCount: 16, headCountKv: 8 });
    expect(() => parseOptions(['--width', '96'])).toThrow('--width must be a multiple of 64 (heads of 64), got 96');
  });

  it('the generator refuses head counts that are not whole numbers, naming them, instead of writing a file llama.cpp cannot load', () => {
    expect(() => buildTinyLlama({ embeddingLength: 192, headCount: 3, headCountKv: 1.5 })).toThrow('headCountKv must be a whole number ≥ 1, got 1.5');
    expect(() => buildTinyLlama({ embeddingLength: 192, headCount: 2.5 })).toThrow('headCount must be a whole number ≥ 1, got 2.5');
  });
});
