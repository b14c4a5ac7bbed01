// Turns what bench/device/run.sh wrote on the GPU machine into the markdown of bench/RESULTS.md.
//   npx tsx bench/device/record.ts <out-dir>            print the tables
//   npx tsx bench/device/record.ts <out-dir> --write    and append them to bench/RESULTS.md
// (On the GPU machine run.sh runs the bundle, node .gpu/record.mjs, which writes summary.md.)
// Reads env.txt, check.jsonl, bench.jsonl and torch.jsonl; a missing or partial file (a step that
// ran past its limit) gives the rows it has and says what is missing. Targets (bench/RESULTS.md's
// issue targets for an H200): Hamlet LSTM and GRU train steps ≤ 0.5× PyTorch/cuDNN, the 2×512 LSTM
// ≤ 1.0×, sampling 1,000 characters ≥ 20× faster than PyTorch's per-step loop.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

type Row = Record<string, unknown>;

/** The JSON objects of a JSON-lines file (lines that are not JSON are skipped); [] when absent. */
export function readJsonLines(path: string): Row[] {
  if (!existsSync(path)) return [];
  const rows: Row[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try { rows.push(JSON.parse(t) as Row); } catch { /* a line cut short by a time limit */ }
  }
  return rows;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const ms = (v: unknown): string => { const n = num(v); return n === null ? '–' : n < 10 ? n.toFixed(3) : n < 100 ? n.toFixed(2) : n.toFixed(1); };
const ratio = (v: number | null): string => (v === null ? '–' : `${v < 10 ? v.toFixed(2) : v.toFixed(1)}×`);

/** ours ÷ PyTorch at most this for each configuration with a target. */
const TRAIN_TARGETS: Record<string, number> = { 'hamlet-lstm-train': 0.5, 'hamlet-gru-train': 0.5, 'large-lstm2-train': 1.0 };
const SAMPLING_TARGET = 20;

/** Our columns: the JSON key of each path's time and its heading. */
const PATHS: [string, string][] = [
  ['ours_step_schedule_ms', 'step'], ['ours_sequence_schedule_ms', 'sequence'], ['ours_resident_schedule_ms', 'resident'],
  ['ours_subgroup_schedule_ms', 'subgroup'], ['ours_sequence_f16_schedule_ms', 'sequence f16'], ['ours_resident_f16_schedule_ms', 'resident f16'],
  ['ours_subgroup_f16_schedule_ms', 'subgroup f16'],
];

export interface DeviceRun { env: string; check: Row[]; bench: Row[]; torch: Row[] }

export function readRun(dir: string): DeviceRun {
  const env = existsSync(join(dir, 'env.txt')) ? readFileSync(join(dir, 'env.txt'), 'utf8').trim() : '';
  return { env, check: readJsonLines(join(dir, 'check.jsonl')), bench: readJsonLines(join(dir, 'bench.jsonl')), torch: readJsonLines(join(dir, 'torch.jsonl')) };
}

/** The markdown section for one run. */
export function summarize(run: DeviceRun): string {
  const out: string[] = [];
  const models = run.bench.filter((r) => typeof r.config === 'string' && 'ours_ms' in r);
  const adapter = String(run.bench.find((r) => r.adapter)?.adapter ?? run.check.find((r) => r.adapter)?.adapter ?? 'unknown adapter');
  const date = run.env.split('\n')[0] || 'unknown date';
  // run.sh's rehearsal (QUICK=1) runs where there is no GPU: its section says so.
  const rehearsal = run.env.includes('nvidia-smi: not available');
  out.push(rehearsal ? `## Rehearsal of the GPU command, without a GPU (${date})` : `## On the GPU machine (${date})`, '', `Adapter: \`${adapter}\`.`, '', '```', run.env || '(no env.txt)', '```', '');

  // The paths against the CPU model.
  const failed = run.check.filter((r) => r.ok === false);
  if (run.check.length === 0) out.push('**Check**: no rows (check.jsonl missing or empty: see check.log).', '');
  else {
    const f16 = run.check.some((r) => r.precision === 'f16');
    out.push(`**Check** (bench/device/check.ts): ${run.check.length - failed.length} of ${run.check.length} paths agree with the float64 CPU model` +
      `${f16 ? ' (f32 and f16)' : " (f32 only: no 'shader-f16')"}; worst score ${Math.max(...run.check.map((r) => num(r.score) ?? Infinity)).toPrecision(3)} (≤ 1 passes).`, '');
    if (failed.length) {
      out.push('| cell | B×T×H | path | precision | score | kernels | worst value |', '| --- | --- | --- | --- | --- | --- | --- |');
      for (const r of failed) out.push(`| ${r.cell} | ${r.B}×${r.T}×${r.H} | ${r.path} | ${r.precision} | ${r.score} | ${(r.kernels as string[]).join(', ')} | ${r.worst} |`);
      out.push('');
    }
  }

  // Models: every path, tfjs-webgpu, PyTorch.
  if (models.length === 0) out.push('**Benchmark**: no rows (bench.jsonl missing or empty: see bench.log).', '');
  else {
    const cols = PATHS.filter(([k]) => models.some((r) => k in r));
    const torchKey = models.some((r) => 'torch_cuda_ms' in r) ? 'cuda' : 'cpu';
    out.push(`| config | B×T | ${cols.map(([, h]) => h).join(' | ')} | ours (best) | tfjs-webgpu | ours × faster | PyTorch ${torchKey === 'cuda' ? 'cuDNN' : 'CPU'} | ours ÷ PyTorch | target |`);
    out.push(`| ${['---', '---', ...cols.map(() => '---'), '---', '---', '---', '---', '---', '---'].join(' | ')} |`);
    for (const r of models) {
      const torchMs = num(r[`torch_${torchKey}_ms`]);
      const ours = num(r.ours_ms);
      const vsTorch = ours !== null && torchMs !== null ? ours / torchMs : null;
      const target = TRAIN_TARGETS[String(r.config)];
      // The targets are against cuDNN on an H200: a CPU peer (the rehearsal) gets no verdict.
      const verdict = target === undefined || torchKey !== 'cuda' ? '' : vsTorch === null ? `≤ ${target}× (not measured)` : `≤ ${target}×: ${vsTorch <= target ? 'met' : 'not met'}`;
      const tfjs = num(r.tfjs_webgpu_ms);
      out.push(`| ${r.config} | ${r.B}×${r.T} | ${cols.map(([k]) => ms(r[k])).join(' | ')} | ${ms(ours)} | ${tfjs === null ? `– ${r.tfjs_webgpu_note ? `(${String(r.tfjs_webgpu_note).slice(0, 60)})` : ''}` : ms(tfjs)} | ${ratio(tfjs !== null && ours ? tfjs / ours : null)} | ${ms(torchMs)} | ${vsTorch === null ? '–' : vsTorch.toFixed(2)} | ${verdict} |`);
    }
    out.push('', 'Times in ms per step (training: forward, loss, backward, clip, Adam; `infer`: forward). A path that could not run is –; its reason is in the JSON (`…_note`).', '');
    const notes = models.flatMap((r) => Object.entries(r).filter(([k, v]) => k.endsWith('_note') && v).map(([k, v]) => `${r.config} ${k}: ${v}`));
    if (notes.length) out.push(...notes.map((n) => `- ${n}`), '');
  }

  // Sampling: the generation kernel against PyTorch's per-step loop.
  const sampling = run.bench.filter((r) => String(r.config).startsWith('hamlet-sample-'));
  const anchor = run.torch.find((r) => r.name === 'hamlet-lstm');
  if (sampling.length) {
    const length = Number(String(sampling[0].config).replace('hamlet-sample-', ''));
    const gpu = sampling.filter((r) => r.engine === 'gpu' && r.samples === 1);
    const best = gpu.reduce<Row | null>((a, r) => (a === null || (num(r.ms) ?? Infinity) < (num(a.ms) ?? Infinity) ? r : a), null);
    const steps = sampling.find((r) => r.engine === 'steps');
    const perChar = num(anchor?.sample_ms_per_char);
    const onGpu = run.torch.some((r) => r.device === 'cuda');   // the target is against PyTorch on the GPU
    const torchMs = perChar === null ? null : perChar * length;
    const x = best && torchMs !== null ? torchMs / (num(best.ms) ?? Infinity) : null;
    out.push(`**Sampling ${length} characters** (Hamlet LSTM 128, batch 1): generation kernel ${ms(best?.ms)} ms (best of ${gpu.length} workgroup sizes: ${best?.workgroup ?? 'default'}), ` +
      `our per-step loop ${ms(steps?.ms)} ms, PyTorch's per-step loop ${torchMs === null ? '– (no torch_anchor row)' : `${ms(torchMs)} ms`}: ` +
      `${x === null ? 'ratio not measured' : `${ratio(x)} faster${onGpu ? ` (target ≥ ${SAMPLING_TARGET}×: ${x >= SAMPLING_TARGET ? 'met' : 'not met'})` : ''}`}.`, '');
  }

  // PyTorch anchor rows (its own script, same models).
  if (run.torch.length) {
    const head = run.torch.find((r) => 'torch_version' in r);
    const rows = run.torch.filter((r) => 'train_step_ms' in r);
    if (head) out.push(`PyTorch anchor (torch_anchor.py): torch ${head.torch_version} on ${head.device}${head.gpu ? ` (${head.gpu})` : ''}.`, '');
    if (rows.length) {
      out.push('| anchor config | B×T | H × layers | train step ms | forward ms | sampling ms/char |', '| --- | --- | --- | --- | --- | --- |');
      for (const r of rows) out.push(`| ${r.name} (${r.cell}) | ${r.B}×${r.T} | ${r.H} × ${r.L} | ${ms(r.train_step_ms)} | ${ms(r.forward_ms)} | ${ms(r.sample_ms_per_char)} |`);
      out.push('');
    }
  }

  // Kernel timings and streaming latency.
  const kernels = run.bench.filter((r) => String(r.config).startsWith('kernel: '));
  if (kernels.length) {
    out.push('| kernel (LSTM) | B×T×H | rows/wg | dispatches | wall ms | GPU ms | GFLOP/s |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const k of kernels) out.push(`| ${k.kernel} | ${k.B}×${k.T}×${k.H} | ${k.rows_per_wg ?? '–'} | ${k.dispatches} | ${ms(k.wall_ms)} | ${ms(k.gpu_ms)} | ${num(k.gflops)?.toFixed(1) ?? '–'} |`);
    out.push('');
  }
  const stream = run.bench.filter((r) => String(r.config).startsWith('stream-'));
  if (stream.length) {
    out.push('| streaming | schedule | B | steps per block | dispatches per block | ms per block | ms per step |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const s of stream) out.push(`| LSTM ${s.H}×${s.layers} | ${s.schedule} | ${s.B} | ${s.n} | ${s.dispatches_per_block} | ${ms(s.ms_per_block)} | ${ms(s.ms_per_step)} |`);
    out.push('');
  }
  return out.join('\n');
}

// Run directly (also as the bundle .gpu/record.mjs).
if (/record\.(ts|mjs|js)$/.test(process.argv[1] ?? '')) {
  const dir = process.argv[2];
  if (!dir || !existsSync(dir)) {
    console.error(`record: expected the folder run.sh wrote (e.g. .gpu/out), got ${dir === undefined ? 'nothing' : JSON.stringify(dir)}`);
    process.exit(2);
  }
  const md = summarize(readRun(dir));
  console.log(md);
  if (process.argv.includes('--write')) {
    const results = new URL('../RESULTS.md', import.meta.url);
    appendFileSync(results, `\n${md}\n`);
    console.error(`record: appended to ${results.pathname}`);
  }
}
