// The public surface: the root entries export what users write code against (at most 80 runtime
// names, so an internal change is not a breaking change), and the kernels, their specs, the
// registry and the cell drivers are in the `webgpu-rnn/kernels` subpath (src/kernels-entry.ts),
// and other frameworks' models in `webgpu-rnn/interop` (src/interop-entry.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as browserEntry from '../src/index.ts';
import * as nodeEntry from '../src/node.ts';
import * as kernelsEntry from '../src/kernels-entry.ts';
import * as interopEntry from '../src/interop-entry.ts';

const test = suite('surface');
const MAX_ROOT_NAMES = 80;

test(`the root entries export at most ${MAX_ROOT_NAMES} runtime names`, () => {
  for (const [name, m] of [['src/index.ts', browserEntry], ['src/node.ts', nodeEntry]] as const) {
    const keys = Object.keys(m);
    assert.ok(keys.length <= MAX_ROOT_NAMES, `${name} exports ${keys.length} runtime names, more than ${MAX_ROOT_NAMES}: ${keys.sort().join(' ')}`);
  }
});

test('what users write code against is in the root; kernels, specs, registry and drivers are not', () => {
  const root = nodeEntry as Record<string, unknown>;
  for (const name of [
    'createContext', 'createBrowserContext', 'GpuContext', 'Tensor', 'Sequential', 'Embedding', 'OneHot', 'LSTM', 'GRU', 'RNN',
    'Dense', 'Dropout', 'LastStep', 'Adam', 'SGD', 'fit', 'tuneSchedule', 'LOSS_KINDS', 'saveCheckpoint', 'loadCheckpoint',
    'encodeModel', 'decodeModelInto', 'modelFromCheckpoint', 'generate', 'CharVocab', 'parseCsv', 'Rng', 'cpu',
  ]) assert.ok(root[name] !== undefined, `the root entry lacks ${name}`);
  for (const name of ['matmul', 'lstmForwardFused', 'registerKernels', 'getKernel', 'CELL_DRIVERS', 'MATMUL_KERNELS', 'resolveSchedule', 'checkTensor', 'BufferPool']) {
    assert.is(root[name], undefined, `${name} belongs in webgpu-rnn/kernels, not the root entry`);
    assert.ok((kernelsEntry as Record<string, unknown>)[name] !== undefined, `webgpu-rnn/kernels lacks ${name}`);
  }
});

test('PyTorch, ONNX and Keras / TensorFlow.js interop is in webgpu-rnn/interop, not the root', () => {
  const root = nodeEntry as Record<string, unknown>;
  for (const name of [
    'modelFromPyTorch', 'describePyTorchStateDict', 'decodePyTorch', 'encodePyTorch', 'exportOnnx', 'importOnnx',
    'modelFromTfjs', 'loadTfjsModel', 'encodeTfjs', 'modelFromKerasConfig', 'kerasConfigFromModel', 'KerasModel',
  ]) {
    assert.is(root[name], undefined, `${name} belongs in webgpu-rnn/interop, not the root entry`);
    assert.ok((interopEntry as Record<string, unknown>)[name] !== undefined, `webgpu-rnn/interop lacks ${name}`);
  }
});

test('no process-wide setters remain; settings are on the context', () => {
  const all = { ...nodeEntry, ...kernelsEntry } as Record<string, unknown>;
  for (const name of ['setRecurrentSchedule', 'setStepKernelVariant', 'setDefaultMatmulVariant', 'setSequenceRowsPerWorkgroup', 'setTunedSchedule', 'isCpuAdapter']) {
    assert.is(all[name], undefined, `${name} is still exported`);
  }
  assert.type(nodeEntry.GpuContext.prototype.configure, 'function');
});

test.run();
