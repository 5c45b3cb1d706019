/**
 * runner-llama throughput, on the CPU and (with `--backends cpu,gpu`) with the model offloaded to a
 * GPU. The model is generated like the tests' (random F32 weights, llama architecture), larger by
 * default so that evaluation, not the bindings, dominates. Reports prompt and generation tokens/s
 * per backend, the backend llama.cpp chose and what `health()` said, and whether greedy outputs
 * agree between backends (they may not on a random-weight model: different kernels round
 * differently and its logits are close).
 *
 *   npx tsx bench/llama.ts [--backends cpu|gpu|cpu,gpu] [--width 512 (a multiple of 64)] [--blocks 8] [--threads 1]
 *                          [--prompt-tokens 512] [--gen-tokens 64] [--rounds 3]
 */
import { rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRuntime, LimitError, optionalNumberOption, rawOption, Task, type HealthResult, type Runtime } from 'limit-graph';
import { makeRunContext } from '../test/conformance/index.ts';
import { makeTinyLlama } from '../test/fixtures/gguf/make-tiny-llama.ts';
import runnerLlama, { type LlamaRunner } from '../plugins/runner-llama/index.ts';
import { runAsScript } from './_script.ts';

const BACKENDS = ['cpu', 'gpu'] as const;
type Backend = (typeof BACKENDS)[number];

/** Single letters, one token each in the generated vocabulary. */
const letters = (n: number, seed: number) => Array.from({ length: n }, (_, i) => 'abcdefghijklmnopqrstuvwxyz'[(i * 7 + seed) % 26]).join('');
const PROMPTS = ['hello world', 'the model is a test', 'governed traces', 'rate and distortion'];

function backends(value: string | undefined): Backend[] {
  const list = (value ?? 'cpu').split(',').map((s) => s.trim());
  const bad = list.filter((b) => !(BACKENDS as readonly string[]).includes(b));
  if (bad.length > 0 || list.length === 0) {
    throw new LimitError('LIMIT_VALIDATION', `--backends must list cpu and/or gpu, got ${JSON.stringify(value)}`, { details: { field: '--backends', value } });
  }
  return [...new Set(list)] as Backend[];
}

/** The options run() reads, for `limit bench` (which refuses any other). */
export const options = {
  backends: 'cpu, gpu or cpu,gpu (default cpu)',
  width: 'model width, a multiple of 64 (default 512)',
  blocks: 'transformer blocks (default 8)',
  threads: 'threads (default 1)',
  'prompt-tokens': 'prompt tokens (default 512)',
  'gen-tokens': 'generated tokens (default 64)',
  rounds: 'rounds (default 3)',
};

/** The values of the options (see `options`), checked — a LimitError naming the flag — before anything runs: `limit bench` calls it for every benchmark it is asked for before running any, run() for its own. */
export function parseOptions(args: readonly string[]) {
  const num = (name: string, fallback: number, min = 1) => optionalNumberOption(`--${name}`, rawOption(args, name), { integer: true, min }) ?? fallback;
  const chosen = backends(rawOption(args, 'backends'));
  const width = num('width', 512, 64);
  if (width % 64 !== 0) throw new LimitError('LIMIT_VALIDATION', `--width must be a multiple of 64 (heads of 64), got ${width}`, { details: { field: '--width', value: width } });
  return { chosen, width, shape: modelShape(width), blocks: num('blocks', 8), threads: num('threads', 1), promptTokens: num('prompt-tokens', 512), genTokens: num('gen-tokens', 64), rounds: num('rounds', 3) };
}

/**
 * The model's layers at a width (a multiple of 64): heads of 64, and half as many KV heads (grouped-
 * query attention) when the head count is even, else as many. `width / 128` KV heads was 1.5 at
 * width 192, which the GGUF file stored as 1 while it sized the K and V weights for 1.5, and
 * llama.cpp refused the file.
 */
function modelShape(width: number) {
  const headCount = width / 64;
  return { embeddingLength: width, feedForwardLength: Math.round((width * 11) / 4), headCount, headCountKv: headCount % 2 === 0 ? headCount / 2 : headCount };
}

export async function run(args: string[]): Promise<unknown> {
  const { chosen, width, shape, blocks, threads, promptTokens, genTokens, rounds } = parseOptions(args);
  const dir = path.join(os.tmpdir(), `limit-bench-llama-${process.pid}`);
  const modelPath = await makeTinyLlama({ ...shape, blockCount: blocks }, path.join(dir, 'model.gguf'));
  try {
    const results: Record<string, unknown> = {};
    const outputs: Record<string, string[]> = {};
    for (const backend of chosen) {
      // Tasks carry no token limit of their own: one runtime stops after the first token (the
      // prompt's evaluation rate), the other generates up to genTokens (the generation rate).
      const start = (maxTokens: number) =>
        createRuntime({
          config: { plugins: {}, logLevel: 'silent' },
          env: {},
          plugins: [runnerLlama.configure({ modelPath, gpu: backend === 'gpu', threads, contextSize: promptTokens + genTokens + 64, maxSessions: 2, maxTokens })],
        });
      const runtimes: Runtime[] = [];
      try {
        runtimes.push(await start(1));
        runtimes.push(await start(genTokens));
        const [short, long] = runtimes.map((rt) => rt.resolve('runner:llama') as LlamaRunner) as [LlamaRunner, LlamaRunner];
        const health: HealthResult = await long.health();
        const once = async (runner: LlamaRunner, input: string) => {
          const t = performance.now();
          const r = await runner.executeIsolated(Task.parse({ input, kind: 'prompt' }), makeRunContext());
          if (!r.ok) throw new Error(`${backend} run failed: ${JSON.stringify(r.error)}`);
          return { ms: performance.now() - t, tokensIn: r.metrics.tokensIn ?? 0, tokensOut: r.metrics.tokensOut ?? 0, text: r.stdout };
        };
        await once(short, 'warm up');
        await once(long, 'warm up');
        const prompt: number[] = [];
        const gen: number[] = [];
        for (let i = 0; i < rounds; i++) {
          const p = await once(short, letters(promptTokens, i));
          prompt.push(p.tokensIn / (p.ms / 1000));
          const g = await once(long, PROMPTS[i % PROMPTS.length]!);
          gen.push(g.tokensOut / (g.ms / 1000));
        }
        outputs[backend] = [];
        for (const input of PROMPTS) outputs[backend].push((await once(long, input)).text);
        const median = (xs: number[]) => Math.round([...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!);
        results[backend] = {
          offload: health.details?.gpu ?? false,
          health: { status: health.status, checks: health.checks },
          promptTokensPerSec: median(prompt),
          genTokensPerSec: median(gen),
        };
      } finally {
        for (const rt of runtimes) await rt.close();
      }
    }
    const [a, b] = chosen;
    const bytes = statSync(modelPath).size;
    return {
      bench: 'llama',
      // F32 weights: four bytes a parameter (the header and vocabulary add a little).
      model: { width, blocks, bytes, approxParams: Math.round(bytes / 4) },
      threads,
      cpus: os.cpus().length,
      promptTokens,
      genTokens,
      rounds,
      ...results,
      ...(a && b ? { greedyOutputsAgree: `${outputs[a]!.filter((text, i) => text === outputs[b]![i]).length}/${PROMPTS.length}` } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runAsScript(import.meta.url, run, options);
