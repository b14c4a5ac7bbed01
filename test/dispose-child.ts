// A child process for test/reliability_runtime.test.ts: disposes a context while work is in flight,
// then keeps running and forces garbage collections, where Dawn used to crash (SIGSEGV / SIGABRT
// "std::system_error: Invalid argument"). Run with `node --expose-gc --import tsx`.
//   argv: <mode> <rounds>   mode: train | read | generate | close
// Prints `ok <mode> <rounds>` and exits by itself (no process.exit: a hang fails the test too).
import { createContext, Sequential, Embedding, LSTM, Dense, Adam, generate } from '../src/node.ts';

const [mode = 'train', roundsArg = '1'] = process.argv.slice(2);
const rounds = Number(roundsArg);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const V = 7;
const x = Int32Array.from({ length: 4 * 12 }, (_, i) => (i * 3) % V);
const batch = { x, y: Int32Array.from(x, (v) => (v + 1) % V), shape: [4, 12] };

async function collectGarbage(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (let round = 0; round < rounds; round++) {
  const ctx = await createContext();
  const model = new Sequential([
    new Embedding({ numEmbeddings: V, embeddingDim: 8 }),
    new LSTM({ hiddenSize: 16 }),
    new Dense({ units: V }),
  ], { seed: round + 1 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.01 }) });
  let pending: Promise<unknown> | null = null;
  if (mode === 'train') {
    await model.trainStep(batch); // the default: no readLoss, so the step is still queued
    await model.trainStep(batch);
  } else if (mode === 'read') {
    await model.trainStep(batch);
    pending = ctx.read(model.namedParameters()[0][1].value!);
  } else if (mode === 'generate') {
    pending = generate(model, { prime: [1], length: 20, seed: 3 });
  } else if (mode === 'close') {
    await model.trainStep(batch);
    pending = ctx.read(model.namedParameters()[0][1].value!);
  }
  if (mode === 'close') {
    await ctx.close();
    const values = (await pending) as Float32Array; // a read pending at close() finishes
    if (!(values instanceof Float32Array) || values.length !== V * 8) throw new Error(`close(): the pending read gave ${String(values)}`);
  } else {
    ctx.dispose();
    if (pending) {
      const outcome = await pending.then(() => 'resolved', (e: Error) => e.message);
      if (!/GpuContext was disposed/.test(outcome)) throw new Error(`${mode}: the pending call ended with "${outcome}", expected a "GpuContext was disposed" rejection`);
    }
  }
  let after = '';
  try { ctx.zeros([2]); } catch (e) { after = (e as Error).message; }
  if (!/GpuContext was disposed/.test(after)) throw new Error(`after dispose, ctx.zeros gave "${after}"`);
  model.dispose(); // after the context: must not throw
  await collectGarbage();
}
await collectGarbage();
console.log(`ok ${mode} ${rounds}`);
