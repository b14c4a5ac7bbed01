// The README's "use it from npm" script: run by test/package.test.ts in an empty project that
// installed the packed tarball and Dawn (`npm install webgpu-rnn webgpu`).
import { createContext, Sequential, Embedding, LSTM, Dense, Adam, saveCheckpoint, loadCheckpoint, generate } from 'webgpu-rnn';

const ctx = await createContext();                  // Dawn in Node (Vulkan / Metal / D3D12)
const text = 'to be, or not to be, that is the question. ';
const chars = [...new Set(text)];
const ids = Int32Array.from(text, (c) => chars.indexOf(c));
const batch = { x: ids.slice(0, -1), y: ids.slice(1), shape: [1, ids.length - 1] };
const lstm = () => new Sequential([
  new Embedding({ numEmbeddings: chars.length, embeddingDim: 16 }),
  new LSTM({ hiddenSize: 64 }),
  new Dense({ units: chars.length }),
], { seed: 1 }).build(ctx);

const model = lstm().compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.01 }), clipNorm: 5 });
for (let step = 1; step <= 60; step++) {
  const { loss } = await model.trainStep(batch, { readLoss: step % 20 === 0 || step === 1 });
  if (loss !== undefined) console.log(`step ${step}  loss ${loss.toFixed(3)}`);
}
await saveCheckpoint('tiny.safetensors', model);    // safetensors with PyTorch parameter names
const copy = lstm();
await loadCheckpoint('tiny.safetensors', copy);
const out = await generate(copy, { prime: [ids[0]], length: 40, temperature: 0.5, topK: 3, seed: 7 });
console.log(chars[ids[0]] + Array.from(out, (i) => chars[i]).join(''));
ctx.dispose();
