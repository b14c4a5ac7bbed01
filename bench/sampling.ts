// Sampling benchmark: 1,000 characters (top-5, from "The ") from the shipped Hamlet checkpoint
// (examples/web/public/hamlet.safetensors: OneHot 65 → LSTM 128 → Dropout → Dense 65), with
//   steps  one model.forward per token, the logits row read back, sampled on the CPU (what a
//          per-step loop does in any framework: PyTorch's, tfjs's)
//   gpu    the whole loop on the GPU (shaders/generate.wgsl), ids read back once; for several
//          invocations-per-workgroup values, and with 8 samples at once
//   npm run bench:sampling [-- --json] [--length 1000]      (also the last part of npm run bench)
import { readFileSync } from 'node:fs';
import { createContext } from '../src/node.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import { modelFromCheckpoint } from '../src/train/checkpoint.ts';
import { generate, generatorSpecOf } from '../src/train/generate.ts';
import { packGenerator, runGenerator } from '../src/kernels/generate.ts';
import { CharVocab } from '../src/data/text.ts';

export interface SamplingRow {
  config: string; adapter: string; engine: 'steps' | 'gpu'; samples: number; workgroup: number | null;
  ms: number; chars_per_second: number; speedup_vs_steps: number;
}

async function time(fn: () => Promise<unknown>, reps: number): Promise<number> {
  await fn(); // warm-up: pipelines, buffers
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  return (performance.now() - t0) / reps;
}

export async function benchSampling(ctx: GpuContext, o: { length?: number; log?: (s: string) => void } = {}): Promise<SamplingRow[]> {
  const LENGTH = o.length ?? 1000;
  const log = o.log ?? console.log;
  const adapter = ctx.describe();
  // Relative to the project root (where npm run bench runs; also from a bundle in .gpu/).
  const file = 'examples/web/public/hamlet.safetensors';
  const { model, metadata } = modelFromCheckpoint(ctx, readFileSync(file), file);
  const vocab = new CharVocab(JSON.parse(metadata.vocab) as string[]);
  const prime = vocab.encode('The ');
  log(`sampling ${LENGTH} characters, top-5, from "The " (Hamlet checkpoint, LSTM 128) on ${adapter}`);

  const timed: { engine: 'steps' | 'gpu'; samples: number; workgroup: number | null; ms: number }[] = [];
  const stepsLen = Math.min(LENGTH, 200); // the per-token loop is slow: time 200 tokens and scale
  const stepsMs = (await time(() => generate(model, { prime, length: stepsLen, topK: 5, seed: 1, engine: 'steps' }), 1)) * (LENGTH / stepsLen);
  timed.push({ engine: 'steps', samples: 1, workgroup: null, ms: stepsMs });
  const spec = generatorSpecOf(model);
  if (typeof spec === 'string') throw new Error(spec);
  const g = packGenerator(ctx, spec);
  for (const wg of [8, 16, 32, 64, 128, 256]) {
    if (wg > ctx.limits.maxComputeInvocationsPerWorkgroup) continue;
    timed.push({ engine: 'gpu', samples: 1, workgroup: wg, ms: await time(() => runGenerator(ctx, g, { prime, length: LENGTH, topK: 5, seed: 1, workgroupSize: wg }), 3) });
  }
  timed.push({ engine: 'gpu', samples: 8, workgroup: null, ms: await time(() => runGenerator(ctx, g, { prime, length: LENGTH, topK: 5, seed: 1, samples: 8 }), 3) });
  const sample = await generate(model, { prime, length: 120, topK: 5, seed: 1 });
  g.release();
  model.dispose();

  const rows = timed.map((r): SamplingRow => ({
    config: `hamlet-sample-${LENGTH}`, adapter, ...r, ms: +r.ms.toFixed(2),
    chars_per_second: Math.round((r.samples * LENGTH) / (r.ms / 1000)), speedup_vs_steps: +((stepsMs / r.ms) * r.samples).toFixed(2),
  }));
  log(`| engine | samples | invocations | ms for ${LENGTH} chars | chars/s | throughput vs steps |\n| --- | --- | --- | --- | --- | --- |`);
  for (const r of rows) log(`| ${r.engine} | ${r.samples} | ${r.workgroup ?? 'default'} | ${r.ms.toFixed(1)} | ${r.chars_per_second} | ${r.speedup_vs_steps.toFixed(1)}× |`);
  log(`sample: ${JSON.stringify('The ' + vocab.decode(sample))}`);
  return rows;
}

// Run directly (not when bundled into bench/run.ts, where import.meta.url is the bundle itself).
if (/sampling\.(ts|mjs|js)$/.test(process.argv[1] ?? '')) {
  const argv = process.argv.slice(2);
  const JSON_OUT = argv.includes('--json');
  const li = argv.indexOf('--length');
  const ctx = await createContext();
  const rows = await benchSampling(ctx, { length: li >= 0 ? Number(argv[li + 1]) : 1000, log: JSON_OUT ? (s) => console.error(s) : console.log });
  if (JSON_OUT) for (const r of rows) console.log(JSON.stringify(r));
  ctx.dispose();
}
