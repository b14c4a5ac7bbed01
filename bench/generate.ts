// Sampling benchmark: 1,000 characters (top-5, from "The ") from the shipped Hamlet checkpoint
// (examples/web/public/hamlet.safetensors: OneHot 65 → LSTM 128 → Dropout → Dense 65), with
//   steps  one model.forward per token, the logits row read back, sampled on the CPU (what a
//          per-step loop does in any framework: PyTorch's, tfjs's)
//   gpu    the whole loop on the GPU (shaders/generate.wgsl), ids read back once; for several
//          invocations-per-workgroup values, and with 8 samples at once
//   npm run bench:generate [-- --json] [--length 1000]
import { readFileSync } from 'node:fs';
import { createContext } from '../src/node.ts';
import { modelFromCheckpoint } from '../src/train/checkpoint.ts';
import { generate, generatorSpecOf } from '../src/train/generate.ts';
import { packGenerator, runGenerator } from '../src/kernels/generate.ts';
import { CharVocab } from '../src/data/text.ts';

const argv = process.argv.slice(2);
const JSON_OUT = argv.includes('--json');
const li = argv.indexOf('--length');
const LENGTH = li >= 0 ? Number(argv[li + 1]) : 1000;
const log = (s: string) => (JSON_OUT ? console.error(s) : console.log(s));

const ctx = await createContext();
const adapter = ctx.describe();
const { model, metadata } = modelFromCheckpoint(ctx, readFileSync('examples/web/public/hamlet.safetensors'), 'hamlet.safetensors');
const vocab = new CharVocab(JSON.parse(metadata.vocab) as string[]);
const prime = vocab.encode('The ');
log(`adapter: ${adapter}\nsampling ${LENGTH} characters, top-5, from "The " (Hamlet checkpoint)`);

async function time(fn: () => Promise<unknown>, reps: number): Promise<number> {
  await fn(); // warm-up: pipelines, buffers
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  return (performance.now() - t0) / reps;
}

const rows: { engine: string; samples: number; workgroup?: number; ms: number }[] = [];
const stepsLen = Math.min(LENGTH, 200); // the per-token loop is slow: time 200 tokens and scale
const stepsMs = (await time(() => generate(model, { prime, length: stepsLen, topK: 5, seed: 1, engine: 'steps' }), 1)) * (LENGTH / stepsLen);
rows.push({ engine: 'steps', samples: 1, ms: stepsMs });

const spec = generatorSpecOf(model);
if (typeof spec === 'string') throw new Error(spec);
const g = packGenerator(ctx, spec);
for (const wg of [32, 64, 128, 256]) {
  if (wg > ctx.limits.maxComputeInvocationsPerWorkgroup) continue;
  rows.push({ engine: 'gpu', samples: 1, workgroup: wg, ms: await time(() => runGenerator(ctx, g, { prime, length: LENGTH, topK: 5, seed: 1, workgroupSize: wg }), 3) });
}
rows.push({ engine: 'gpu', samples: 8, ms: await time(() => runGenerator(ctx, g, { prime, length: LENGTH, topK: 5, seed: 1, samples: 8 }), 3) });
const sample = await generate(model, { prime, length: 200, topK: 5, seed: 1 });
g.release();

log(`\n| engine | samples | invocations | ms for ${LENGTH} chars | chars/s | vs steps |\n| --- | --- | --- | --- | --- | --- |`);
for (const r of rows) {
  const cps = (r.samples * LENGTH) / (r.ms / 1000);
  log(`| ${r.engine} | ${r.samples} | ${r.workgroup ?? 'default'} | ${r.ms.toFixed(1)} | ${cps.toFixed(0)} | ${(stepsMs / r.ms * r.samples).toFixed(1)}× |`);
  if (JSON_OUT) {
    console.log(JSON.stringify({ config: `hamlet-sample-${LENGTH}`, adapter, engine: r.engine, samples: r.samples, workgroup: r.workgroup ?? null, ms: r.ms, chars_per_second: cps, speedup_vs_steps: (stepsMs / r.ms) * r.samples }));
  }
}
log(`\nsample: ${JSON.stringify('The ' + vocab.decode(sample))}`);
model.dispose();
ctx.dispose();
