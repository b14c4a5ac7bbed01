// Options checked up front: every public layer's constructor refuses a wrong type, range, enum or
// unknown key with a message naming the layer, the option, the value and what was expected; and
// generate / generateSamples refuse bad options before anything is dispatched, leaving the model
// bit-identical (weights, optimizer slots, counters) and able to train.
import { suite } from 'uvu';
import { Dense, Dropout, Embedding, GRU, LastStep, LSTM, OneHot, Recurrent, RNN, Sequential, layerFromConfig, type Batch, type Layer, type LayerConfig } from '../src/nn/index.ts';
import { Adam } from '../src/train/optimizers.ts';
import { generate, generateSamples, sampleLogits, type GenerateOptions } from '../src/train/generate.ts';
import { Rng } from '../src/cpu/random.ts';
import { expectRejects, expectThrows } from './helpers/expect.ts';
import { expectRejectedCleanly } from './helpers/guard.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('reliability_layers');

// Options as a JavaScript user may pass them (no type checker to stop a string or a typo).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

/** [what, construction, patterns: what was wrong, what was expected]. */
const constructorCases: [string, () => unknown, (string | RegExp)[]][] = [
  // Embedding
  ['Embedding given a number instead of options', () => new Embedding(65 as Loose), [/Embedding/, /got 65/, /options object like \{ numEmbeddings/]],
  ['Embedding numEmbeddings 0', () => new Embedding({ numEmbeddings: 0, embeddingDim: 4 }), [/Embedding "embedding": option numEmbeddings/, /got 0/, /positive integer/]],
  ['Embedding embeddingDim 1.5', () => new Embedding({ numEmbeddings: 7, embeddingDim: 1.5 }), [/embeddingDim/, /got 1\.5/, /positive integer/]],
  ['Embedding numEmbeddings as a string', () => new Embedding({ numEmbeddings: '16' as Loose, embeddingDim: 4 }), [/numEmbeddings/, /the string "16"/, /positive integer/]],
  ['Embedding embeddingDim NaN', () => new Embedding({ numEmbeddings: 7, embeddingDim: NaN }), [/embeddingDim/, /got NaN/, /positive integer/]],
  ['Embedding numEmbeddings missing', () => new Embedding({ embeddingDim: 4 } as Loose), [/numEmbeddings/, /got undefined/, /positive integer/]],
  ['Embedding option typo embedding_dim', () => new Embedding({ numEmbeddings: 7, embedding_dim: 4 } as Loose), [/unknown option "embedding_dim"/, /did you mean embeddingDim\?/]],
  ['Embedding empty name', () => new Embedding({ numEmbeddings: 7, embeddingDim: 4, name: '' }), [/Embedding: name/, /the string ""/, /non-empty string/]],
  // OneHot
  ['OneHot 0 classes', () => new OneHot(0), [/OneHot "one_hot": numClasses/, /got 0/, /positive integer/]],
  ['OneHot Infinity classes', () => new OneHot(Infinity), [/numClasses/, /got Infinity/, /positive integer/]],
  ['OneHot given an options object', () => new OneHot({ numClasses: 5 } as Loose), [/OneHot/, /got an object/, /new OneHot\(65\)/]],
  ['OneHot name not a string', () => new OneHot(5, 7 as Loose), [/OneHot: name/, /got 7/, /non-empty string/]],
  // Recurrent layers
  ['LSTM hiddenSize 0', () => new LSTM({ hiddenSize: 0 }), [/LSTM "lstm": option hiddenSize/, /got 0/, /positive integer/]],
  ['LSTM hiddenSize 1.5', () => new LSTM({ hiddenSize: 1.5 }), [/hiddenSize/, /got 1\.5/, /positive integer/]],
  ['GRU hiddenSize NaN', () => new GRU({ hiddenSize: NaN }), [/GRU "gru": option hiddenSize/, /got NaN/, /positive integer/]],
  ['RNN hiddenSize as a string', () => new RNN({ hiddenSize: '16' as Loose }), [/RNN "rnn": option hiddenSize/, /the string "16"/, /positive integer/]],
  ['LSTM without hiddenSize', () => new LSTM({} as Loose), [/hiddenSize is required/, /positive integer/]],
  ['LSTM bidirectional "false"', () => new LSTM({ hiddenSize: 4, bidirectional: 'false' as Loose }), [/option bidirectional/, /the string "false"/, /must be a boolean/]],
  ['GRU bidirectional 1', () => new GRU({ hiddenSize: 4, bidirectional: 1 as Loose }), [/bidirectional/, /got 1/, /boolean \(true or false\)/]],
  ['LSTM stateful "yes"', () => new LSTM({ hiddenSize: 4, stateful: 'yes' as Loose }), [/option stateful/, /the string "yes"/, /boolean/]],
  ['LSTM numLayers 0', () => new LSTM({ hiddenSize: 4, numLayers: 0 }), [/option numLayers/, /got 0/, /positive integer/]],
  ['LSTM numLayers 2.5', () => new LSTM({ hiddenSize: 4, numLayers: 2.5 }), [/numLayers/, /got 2\.5/, /positive integer/]],
  ['LSTM dropout 1', () => new LSTM({ hiddenSize: 4, numLayers: 2, dropout: 1 }), [/option dropout/, /got 1/, /\[0, 1\)/]],
  ['LSTM dropout -0.1', () => new LSTM({ hiddenSize: 4, dropout: -0.1 }), [/dropout/, /got -0\.1/, /\[0, 1\)/]],
  ['LSTM dropout as a string', () => new LSTM({ hiddenSize: 4, dropout: '0.5' as Loose }), [/dropout/, /the string "0\.5"/, /number in \[0, 1\)/]],
  ['GRU dropout NaN', () => new GRU({ hiddenSize: 4, dropout: NaN }), [/dropout/, /got NaN/, /\[0, 1\)/]],
  ['RNN inputSize -3', () => new RNN({ hiddenSize: 4, inputSize: -3 }), [/option inputSize/, /got -3/, /integer ≥ 0/]],
  ['LSTM option typo hiden_size', () => new LSTM({ hiden_size: 16 } as Loose), [/unknown option "hiden_size"/, /did you mean hiddenSize\?/, /the options are/]],
  ['LSTM option hiddensize (case)', () => new LSTM({ hiddensize: 16 } as Loose), [/unknown option "hiddensize"/, /did you mean hiddenSize\?/]],
  ['GRU option typo num_layers', () => new GRU({ hiddenSize: 4, num_layers: 2 } as Loose), [/unknown option "num_layers"/, /did you mean numLayers\?/]],
  ['LSTM option from another library (return_sequences)', () => new LSTM({ hiddenSize: 4, return_sequences: true } as Loose), [/unknown option "return_sequences"/, /the options are hiddenSize/]],
  ['LSTM nonlinearity', () => new LSTM({ hiddenSize: 4, nonlinearity: 'relu' }), [/LSTM "lstm": option nonlinearity/, /RNN only/]],
  ['GRU forgetBias', () => new GRU({ hiddenSize: 4, forgetBias: 1 }), [/GRU "gru": option forgetBias/, /LSTM only/]],
  ['RNN nonlinearity sigmoid', () => new RNN({ hiddenSize: 4, nonlinearity: 'sigmoid' as Loose }), [/option nonlinearity/, /the string "sigmoid"/, /one of tanh, relu/]],
  ['LSTM forgetBias NaN', () => new LSTM({ hiddenSize: 4, forgetBias: NaN }), [/option forgetBias/, /got NaN/, /finite number/]],
  ['LSTM schedule "fast"', () => new LSTM({ hiddenSize: 4, schedule: 'fast' as Loose }), [/option schedule/, /the string "fast"/, /one of step, sequence, auto/]],
  ['LSTM given a number instead of options', () => new LSTM(16 as Loose), [/LSTM/, /got 16/, /options object like \{ hiddenSize: 64 \}/]],
  ['GRU given null', () => new GRU(null as Loose), [/GRU/, /got null/, /options object/]],
  ['Recurrent cell "lstmx"', () => new Recurrent('lstmx' as Loose, { hiddenSize: 4 }), [/Recurrent: cell/, /the string "lstmx"/, /one of lstm, gru, rnn/, /did you mean lstm\?/]],
  ['Recurrent cell "LSTM"', () => new Recurrent('LSTM' as Loose, { hiddenSize: 4 }), [/cell/, /the string "LSTM"/, /one of lstm, gru, rnn/]],
  ['LSTM name 5', () => new LSTM({ hiddenSize: 4, name: 5 as Loose }), [/LSTM: name/, /got 5/, /non-empty string/]],
  // Dense
  ['Dense units 0', () => new Dense({ units: 0 }), [/Dense "dense": option units/, /got 0/, /positive integer/]],
  ['Dense units as a string', () => new Dense({ units: '10' as Loose }), [/units/, /the string "10"/, /positive integer/]],
  ['Dense activation "swish"', () => new Dense({ units: 3, activation: 'swish' as Loose }), [/option activation/, /the string "swish"/, /one of relu, tanh, sigmoid/]],
  ['Dense activation "Relu"', () => new Dense({ units: 3, activation: 'Relu' as Loose }), [/activation/, /the string "Relu"/, /did you mean relu\?/]],
  ['Dense bias "true"', () => new Dense({ units: 3, bias: 'true' as Loose }), [/option bias/, /the string "true"/, /boolean/]],
  ['Dense inputSize 2.5', () => new Dense({ units: 3, inputSize: 2.5 }), [/option inputSize/, /got 2\.5/, /integer ≥ 0/]],
  ['Dense option typo unit', () => new Dense({ unit: 3 } as Loose), [/unknown option "unit"/, /did you mean units\?/]],
  ['Dense given a number instead of options', () => new Dense(10 as Loose), [/Dense/, /got 10/, /options object like \{ units: 10 \}/]],
  // Dropout, LastStep
  ['Dropout rate 1', () => new Dropout(1), [/Dropout "dropout": rate/, /got 1/, /\[0, 1\)/]],
  ['Dropout rate -0.5', () => new Dropout(-0.5), [/rate/, /got -0\.5/, /\[0, 1\)/]],
  ['Dropout rate as a string', () => new Dropout('0.5' as Loose), [/rate/, /the string "0\.5"/, /number in \[0, 1\)/]],
  ['Dropout rate NaN', () => new Dropout(NaN), [/rate/, /got NaN/, /\[0, 1\)/]],
  ['Dropout given an options object', () => new Dropout({ rate: 0.5 } as Loose), [/Dropout/, /got an object/, /new Dropout\(0\.5\)/]],
  // Sequential
  ['Sequential with no layers', () => new Sequential([]), [/Sequential: expected a non-empty array of layers/, /got an array of 0/]],
  ['Sequential given one layer, not an array', () => new Sequential(new Dense({ units: 2 }) as Loose), [/non-empty array of layers/, /got a Dense/]],
  ['Sequential with a non-layer entry', () => new Sequential([new OneHot(3), { units: 3 } as Loose]), [/layers\[1\] is an object/, /expected a layer/]],
  ['Sequential with the same layer twice', () => { const d = new Dense({ units: 3, inputSize: 3 }); return new Sequential([d, d]); }, [/same layer object appears twice/, /new layer for each position/]],
  ['Sequential seed 1.5', () => new Sequential([new OneHot(3)], { seed: 1.5 }), [/option seed/, /got 1\.5/, /integer/]],
  ['Sequential option typo sed', () => new Sequential([new OneHot(3)], { sed: 1 } as Loose), [/unknown option "sed"/, /did you mean seed\?/]],
  ['LastStep empty name', () => new LastStep(''), [/LastStep: name/, /the string ""/, /non-empty string/]],
];

for (const [what, make, patterns] of constructorCases) {
  test(`constructor: ${what}`, () => expectThrows(make, ...patterns));
}

test('valid options and defaults are accepted; config() rebuilds every layer', () => {
  const layers: Layer[] = [
    new Embedding({ numEmbeddings: 7, embeddingDim: 4 }), new OneHot(7), new Dense({ units: 3, activation: 'tanh', bias: false, inputSize: 5 }),
    new Dropout(0), new Dropout(0.5, 'drop'), new LastStep(),
    new LSTM({ hiddenSize: 4, numLayers: 2, bidirectional: true, dropout: 0.25, stateful: false, forgetBias: 1, schedule: 'step', inputSize: 3, name: 'enc' }),
    new GRU({ hiddenSize: 4, bidirectional: false }), new RNN({ hiddenSize: 4, nonlinearity: 'relu' }), new Recurrent('gru', { hiddenSize: 2 }),
  ];
  const lstm = layers[6] as LSTM;
  if (lstm.bidirectional !== true || lstm.numLayers !== 2 || lstm.forgetBias !== 1 || lstm.name !== 'enc') throw new Error('LSTM options not kept');
  const gru = layers[7] as GRU;
  if (gru.bidirectional !== false || gru.stateful !== false || gru.dropout !== 0 || gru.numLayers !== 1 || gru.name !== 'gru') throw new Error('GRU defaults wrong');
  if ((layers[2] as Dense).useBias !== false || (layers[2] as Dense).activation !== 'tanh') throw new Error('Dense options not kept');
  for (const l of layers) {
    const copy = layerFromConfig(l.config() as LayerConfig);
    if (JSON.stringify(copy.config()) !== JSON.stringify(l.config())) throw new Error(`${l.name}: config round trip differs`);
  }
});

// Generation options: checked before any dispatch, nothing in the model moves.
const V = 7;
const validBatch: Batch = { x: Int32Array.from([0, 1, 2, 3, 4, 5]), shape: [2, 3], y: Int32Array.from([1, 2, 3, 4, 5, 6]) };
let model: Sequential | null = null;
async function tinyModel(): Promise<Sequential> {
  if (model) return model;
  const ctx = await gpu();
  model = new Sequential([new Embedding({ numEmbeddings: V, embeddingDim: 4 }), new LSTM({ hiddenSize: 5 }), new Dense({ units: V })], { seed: 3 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.01 }) });
  await model.trainStep(validBatch); // optimizer slots and counters are non-trivial
  return model;
}

const ok: GenerateOptions = { prime: [1, 2], length: 4, seed: 5 };
const generateCases: [string, Partial<GenerateOptions> & Record<string, unknown>, (string | RegExp)[]][] = [
  ['prime id 1.5 (not truncated)', { prime: [1, 1.5] }, [/prime\[1\] = 1\.5/, /token id in \[0, 6\]/, /integer/]],
  ['prime id = V', { prime: [7] }, [/prime\[0\] = 7/, /token id in \[0, 6\]/]],
  ['prime id -1', { prime: [-1] }, [/prime\[0\] = -1/, /\[0, 6\]/]],
  ['prime id NaN', { prime: [NaN] }, [/prime\[0\] = NaN/, /\[0, 6\]/]],
  ['prime id as a string', { prime: ['1' as Loose] }, [/prime\[0\] = the string "1"/, /token id/]],
  ['empty prime', { prime: [] }, [/prime must contain at least one token/, /token ids in \[0, V\)/]],
  ['prime as text', { prime: 'Ham' as Loose }, [/prime must be an array of token ids/, /the string "Ham"/]],
  ['length 0', { length: 0 }, [/length must be a positive integer/, /got 0/]],
  ['length 2.5', { length: 2.5 }, [/length/, /got 2\.5/, /positive integer/]],
  ['length as a string', { length: '10' as Loose }, [/length/, /the string "10"/, /positive integer/]],
  ['temperature 0', { temperature: 0 }, [/temperature/, /got 0/, /positive and finite/]],
  ['temperature -1', { temperature: -1 }, [/temperature/, /got -1/, /positive/]],
  ['temperature NaN', { temperature: NaN }, [/temperature/, /got NaN/, /positive and finite/]],
  ['temperature Infinity', { temperature: Infinity }, [/temperature/, /got Infinity/, /finite/]],
  ['topK above the vocabulary', { topK: 8 }, [/topK/, /got 8/, /integer in \[0, 7\]/]],
  ['topK -1', { topK: -1 }, [/topK/, /got -1/, /\[0, 7\]/]],
  ['topK 2.5', { topK: 2.5 }, [/topK/, /got 2\.5/, /integer/]],
  ['topK as a string', { topK: '3' as Loose }, [/topK/, /the string "3"/, /integer in \[0, 7\]/]],
  ['seed 1.5', { seed: 1.5 }, [/seed/, /got 1\.5/, /must be an integer/]],
  ['seed as a string', { seed: 'x' as Loose }, [/seed/, /the string "x"/, /integer/]],
  ['engine "fast"', { engine: 'fast' as Loose }, [/engine/, /the string "fast"/, /'auto', 'gpu' or 'steps'/]],
  ['stepsPerDispatch 0', { stepsPerDispatch: 0 }, [/stepsPerDispatch/, /got 0/, /positive integer/]],
  ['onToken not a function', { onToken: 'print' as Loose }, [/onToken/, /the string "print"/, /must be a function/]],
  ['option typo topk', { topk: 3 }, [/unknown option "topk"/, /did you mean topK\?/]],
  ['unknown option temp', { temp: 0.5 }, [/unknown option "temp"/, /the options are prime, length/]],
  ['samples passed to generate', { samples: 2 }, [/unknown option "samples"/, /the options are/]],
];

for (const [what, change, patterns] of generateCases) {
  test(`generate: ${what} is refused before any dispatch`, async () => {
    const m = await tinyModel();
    await expectRejectedCleanly(m, () => generate(m, { ...ok, ...change } as GenerateOptions), patterns, validBatch);
  });
}

test('generate: options not an object; generateSamples: samples 0 and 1.5; steps engine too', async () => {
  const m = await tinyModel();
  await expectRejectedCleanly(m, () => generate(m, 5 as Loose), [/generate/, /got 5/, /options object like \{ prime/], validBatch);
  await expectRejectedCleanly(m, () => generateSamples(m, { ...ok, samples: 0 }), [/samples/, /got 0/, /positive integer/], validBatch);
  await expectRejectedCleanly(m, () => generateSamples(m, { ...ok, samples: 1.5 }), [/samples/, /got 1\.5/, /positive integer/], validBatch);
  await expectRejectedCleanly(m, () => generate(m, { ...ok, engine: 'steps', topK: 9 }), [/topK/, /got 9/, /\[0, 7\]/], validBatch);
});

test('generate: topK 0 and topK = V both sample from every id; a negative integer seed works', async () => {
  const m = await tinyModel();
  const all = await generate(m, { ...ok, topK: 0, length: 12 });
  const v = await generate(m, { ...ok, topK: V, length: 12 });
  if (all.join() !== v.join()) throw new Error(`topK 0 gave ${all}, topK V gave ${v}`);
  const neg = await generate(m, { ...ok, seed: -3 });
  if (neg.length !== ok.length || neg.some((id) => id < 0 || id >= V)) throw new Error(`bad ids ${neg}`);
});

test('generate on an unbuilt or disposed model says so', async () => {
  const ctx = await gpu();
  const unbuilt = new Sequential([new OneHot(V), new LSTM({ hiddenSize: 3 }), new Dense({ units: V })]);
  await expectRejects(() => generate(unbuilt, ok), /generate/, /build the model first \(model\.build\(ctx\)\)/);
  const gone = new Sequential([new OneHot(V), new LSTM({ hiddenSize: 3 }), new Dense({ units: V })]).build(ctx);
  gone.dispose();
  await expectRejects(() => generate(gone, ok), /generate/, /the model was disposed/, /build a new model/);
});

test('sampleLogits refuses a non-finite temperature and a topK beyond the logits', () => {
  const rng = new Rng(1);
  expectThrows(() => sampleLogits([1, 2, 3], rng, { temperature: Infinity }), /temperature/, /got Infinity/, /positive and finite/);
  expectThrows(() => sampleLogits([1, 2, 3], rng, { topK: 4 }), /topK/, /got 4/, /\[0, 3\]/);
});

test.after(() => { model?.dispose(); model = null; });

test.run();
