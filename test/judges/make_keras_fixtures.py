"""Builds the .keras fixtures in test/fixtures/keras/ without Keras (none is installable here:
Debian has no Keras package and there is no PyPI), and without any webgpu-rnn code: config.json,
metadata.json and model.weights.h5 are written with json, zipfile and h5py in the layout of
Keras 3's saving code (keras/src/saving/saving_lib.py, Keras 3.16):

- config.json is `serialize_keras_object(model)`: {module, class_name, config, registered_name,
  build_config, compile_config}; each layer's config is its `get_config()` (dtype policy objects,
  serialized initializers, Bidirectional's `layer` and `backward_layer`, a functional model's
  `inbound_nodes` with `__keras_tensor__` arguments).
- model.weights.h5: `_save_state` makes a group `<path>/vars` (attribute `name`) for every layer and
  stores its own variables as "0", "1", …; child layers go under their attribute name (an RNN's
  `cell`, Bidirectional's `forward_layer` / `backward_layer`, TimeDistributed's `layer`). The model's
  layer list is saved under `layers/<class name in snake case>` with _1, _2 for repeats; a
  Sequential's list leaves out its InputLayer, a functional model's keeps it. The model itself has
  an empty `/vars`.
- The zip holds metadata.json, config.json, model.weights.h5, stored uncompressed.

The expected predictions are computed here with numpy from the same float32 weights, following
Keras's cell equations (LSTMCell, GRUCell with reset_after True and False, SimpleRNNCell,
Bidirectional's reversal of the backward direction, Dense). Run with the system python
(python3-h5py, python3-numpy):  /usr/bin/python3 test/judges/make_keras_fixtures.py
"""
import json
import os
import zipfile
from io import BytesIO

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'keras')
rng = np.random.default_rng(15)


def weights(*shape):
    return (rng.standard_normal(shape) * 0.5).astype(np.float32)


def dtype_policy(name='float32'):
    return {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': name}, 'registered_name': None}


def initializer(cls, config=None):
    return {'module': 'keras.initializers', 'class_name': cls, 'config': config if config is not None else {'seed': None}, 'registered_name': None}


def layer(cls, config, input_shape=None, **extra):
    entry = {'module': 'keras.layers', 'class_name': cls, 'config': config, 'registered_name': None}
    if input_shape is not None:
        entry['build_config'] = {'input_shape': input_shape}
    entry.update(extra)
    return entry


def base(name):
    return {'name': name, 'trainable': True, 'dtype': dtype_policy()}


def rnn_common(return_sequences, go_backwards=False):
    return {'return_sequences': return_sequences, 'return_state': False, 'go_backwards': go_backwards,
            'stateful': False, 'unroll': False, 'zero_output_for_mask': False}


def regularizers(*names):
    return {n: None for n in names}


def lstm_config(name, units, return_sequences, go_backwards=False):
    return {**base(name), **rnn_common(return_sequences, go_backwards), 'units': units, 'activation': 'tanh',
            'recurrent_activation': 'sigmoid', 'use_bias': True, 'kernel_initializer': initializer('GlorotUniform'),
            'recurrent_initializer': initializer('Orthogonal', {'seed': None, 'gain': 1.0}),
            'bias_initializer': initializer('Zeros', {}), 'unit_forget_bias': True,
            **regularizers('kernel_regularizer', 'recurrent_regularizer', 'bias_regularizer', 'activity_regularizer',
                           'kernel_constraint', 'recurrent_constraint', 'bias_constraint'),
            'dropout': 0.0, 'recurrent_dropout': 0.0, 'seed': None}


def gru_config(name, units, return_sequences, reset_after, go_backwards=False):
    c = lstm_config(name, units, return_sequences, go_backwards)
    del c['unit_forget_bias']
    c['reset_after'] = reset_after
    return c


def simple_rnn_config(name, units, return_sequences, activation):
    c = lstm_config(name, units, return_sequences)
    del c['unit_forget_bias'], c['recurrent_activation']
    c['activation'] = activation
    return c


def dense_config(name, units, activation):
    return {**base(name), 'units': units, 'activation': activation, 'use_bias': True,
            'kernel_initializer': initializer('GlorotUniform'), 'bias_initializer': initializer('Zeros', {}),
            **regularizers('kernel_regularizer', 'bias_regularizer', 'kernel_constraint', 'bias_constraint'),
            'quantization_config': None}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# Keras's cells, in float64 on the float32 weights. x: (B, T, I) → (B, T, H) or (B, H).
def run_lstm(x, k, r, b):
    h = np.zeros((x.shape[0], r.shape[0])); c = np.zeros_like(h); out = []
    for t in range(x.shape[1]):
        z = x[:, t] @ k + h @ r + b
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out, 1)


def run_gru(x, k, r, b, reset_after):
    units = r.shape[0]
    h = np.zeros((x.shape[0], units)); out = []
    for t in range(x.shape[1]):
        if reset_after:
            xz, xr, xh = np.split(x[:, t] @ k + b[0], 3, axis=-1)
            rz, rr, rh = np.split(h @ r + b[1], 3, axis=-1)
            z, rg = sigmoid(xz + rz), sigmoid(xr + rr)
            hh = np.tanh(xh + rg * rh)
        else:
            xz, xr, xh = np.split(x[:, t] @ k + b, 3, axis=-1)
            z = sigmoid(xz + h @ r[:, :units])
            rg = sigmoid(xr + h @ r[:, units:2 * units])
            hh = np.tanh(xh + (rg * h) @ r[:, 2 * units:])
        h = z * h + (1 - z) * hh
        out.append(h)
    return np.stack(out, 1)


def run_simple_rnn(x, k, r, b, activation):
    act = np.tanh if activation == 'tanh' else (lambda v: np.maximum(v, 0))
    h = np.zeros((x.shape[0], r.shape[0])); out = []
    for t in range(x.shape[1]):
        h = act(x[:, t] @ k + b + h @ r)
        out.append(h)
    return np.stack(out, 1)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def f64(a):
    return np.asarray(a, dtype=np.float64)


def write_keras(name, model_config, h5_groups, inputs, expected, notes):
    """h5_groups: [(group path, name attribute, [float32 arrays])] in Keras's walk order."""
    buf = BytesIO()
    with h5py.File(buf, 'w') as f:
        for path, attr_name, arrays in h5_groups:
            g = f.create_group(path)
            g.attrs['name'] = attr_name
            for i, a in enumerate(arrays):
                g[str(i)] = a
    metadata = {'keras_version': '3.16.0', 'date_saved': '2026-12-02@00:00:00'}
    path = os.path.join(OUT, f'{name}.keras')
    with zipfile.ZipFile(path, 'w') as z:  # ZIP_STORED, as Keras writes
        z.writestr('metadata.json', json.dumps(metadata))
        z.writestr('config.json', json.dumps(model_config))
        z.writestr('model.weights.h5', buf.getvalue())
    with open(os.path.join(OUT, f'{name}.expected.json'), 'w') as f:
        json.dump({'notes': notes, 'inputs': inputs.tolist(), 'expected_shape': list(expected.shape),
                   'expected': [float(v) for v in expected.astype(np.float32).ravel()]}, f)
        f.write('\n')
    print(f'{path}: {os.path.getsize(path)} bytes, output {expected.shape}')


def sequential_fixture():
    """Embedding → Bidirectional(GRU reset_after=True, concat) → GRU(reset_after=False) → LSTM → LSTM → Dense(softmax)."""
    V, E, T, B = 9, 4, 5, 3
    tokens = rng.integers(1, V, size=(B, T)).astype(np.int32)
    emb = weights(V, E)
    gf = [weights(E, 9), weights(3, 9), weights(2, 9)]           # forward GRU, units 3, reset_after=True
    gb = [weights(E, 9), weights(3, 9), weights(2, 9)]           # backward GRU
    g2 = [weights(6, 12), weights(4, 12), weights(12)]           # GRU units 4, reset_after=False
    l1 = [weights(4, 12), weights(3, 12), weights(12)]           # LSTM units 3
    l2 = [weights(3, 8), weights(2, 8), weights(8)]              # LSTM units 2, last step only
    head = [weights(2, 3), weights(3)]

    x = f64(emb)[tokens]
    fwd = run_gru(x, *map(f64, gf), reset_after=True)
    bwd = run_gru(x[:, ::-1], *map(f64, gb), reset_after=True)[:, ::-1]
    y = np.concatenate([fwd, bwd], -1)
    y = run_gru(y, *map(f64, g2), reset_after=False)
    y = run_lstm(y, *map(f64, l1))
    y = run_lstm(y, *map(f64, l2))[:, -1]
    y = softmax(y @ f64(head[0]) + f64(head[1]))

    layers = [
        layer('InputLayer', {'batch_shape': [None, T], 'dtype': 'int32', 'sparse': False, 'ragged': False, 'name': 'tokens', 'optional': False}),
        layer('Embedding', {**base('tok'), 'input_dim': V, 'output_dim': E, 'embeddings_initializer': initializer('RandomUniform', {'seed': None, 'minval': -0.05, 'maxval': 0.05}),
                            'embeddings_regularizer': None, 'activity_regularizer': None, 'embeddings_constraint': None, 'mask_zero': False, 'quantization_config': None}, [None, T]),
        layer('Bidirectional', {**base('bi'), 'merge_mode': 'concat',
                                'layer': layer('GRU', gru_config('forward_gru', 3, True, True), [None, T, E]),
                                'backward_layer': layer('GRU', gru_config('backward_gru', 3, True, True, go_backwards=True), [None, T, E])}, [None, T, E]),
        layer('GRU', gru_config('gru_b', 4, True, False), [None, T, 6]),
        layer('LSTM', lstm_config('l1', 3, True), [None, T, 4]),
        layer('LSTM', lstm_config('l2', 2, False), [None, T, 3]),
        layer('Dense', dense_config('head', 3, 'softmax'), [None, 2]),
    ]
    config = {'module': 'keras', 'class_name': 'Sequential',
              'config': {'name': 'sequential', 'trainable': True, 'dtype': dtype_policy(), 'layers': layers},
              'registered_name': None, 'build_config': {'input_shape': [None, T]}, 'compile_config': None}
    groups = [
        ('vars', 'sequential', []),
        ('layers/embedding/vars', 'tok', [emb]),
        ('layers/bidirectional/vars', 'bi', []),
        ('layers/bidirectional/backward_layer/vars', 'backward_gru', []),
        ('layers/bidirectional/backward_layer/cell/vars', 'gru_cell', gb),
        ('layers/bidirectional/forward_layer/vars', 'forward_gru', []),
        ('layers/bidirectional/forward_layer/cell/vars', 'gru_cell', gf),
        ('layers/gru/vars', 'gru_b', []),
        ('layers/gru/cell/vars', 'gru_cell', g2),
        ('layers/lstm/vars', 'l1', []),
        ('layers/lstm/cell/vars', 'lstm_cell', l1),
        ('layers/lstm_1/vars', 'l2', []),
        ('layers/lstm_1/cell/vars', 'lstm_cell', l2),
        ('layers/dense/vars', 'head', head),
    ]
    write_keras('sequential_rnns', config, groups, tokens, y,
                'Sequential: Embedding(9, 4) → Bidirectional(GRU(3, reset_after=True), concat) → GRU(4, reset_after=False) → LSTM(3) → LSTM(2, last step) → Dense(3, softmax); inputs are token ids (B, T)')


def functional_fixture():
    """Input (B, T, 3) floats → SimpleRNN(5, relu) → TimeDistributed(Dense(2)), a functional model."""
    B, T, I = 2, 4, 3
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    rnn = [weights(I, 5), weights(5, 5) * np.float32(0.5), weights(5)]
    td = [weights(5, 2), weights(2)]
    y = run_simple_rnn(f64(x), *map(f64, rnn), activation='relu')
    y = y @ f64(td[0]) + f64(td[1])

    def tensor(shape, source):
        return {'class_name': '__keras_tensor__', 'config': {'shape': shape, 'dtype': 'float32', 'keras_history': [source, 0, 0]}}

    layers = [
        layer('InputLayer', {'batch_shape': [None, T, I], 'dtype': 'float32', 'sparse': False, 'ragged': False, 'name': 'features', 'optional': False},
              name='features', inbound_nodes=[]),
        layer('SimpleRNN', simple_rnn_config('rnn', 5, True, 'relu'), [None, T, I], name='rnn',
              inbound_nodes=[{'args': [tensor([None, T, I], 'features')], 'kwargs': {'training': False, 'mask': None}}]),
        layer('TimeDistributed', {**base('td'), 'layer': layer('Dense', dense_config('dense', 2, 'linear'), [None, 5])}, [None, T, 5], name='td',
              inbound_nodes=[{'args': [tensor([None, T, 5], 'rnn')], 'kwargs': {'mask': None}}]),
    ]
    config = {'module': 'keras.src.models.functional', 'class_name': 'Functional',
              'config': {'name': 'functional', 'trainable': True, 'layers': layers,
                         'input_layers': [['features', 0, 0]], 'output_layers': [['td', 0, 0]]},
              'registered_name': 'Functional', 'build_config': {'input_shape': None}, 'compile_config': None}
    groups = [
        ('vars', 'functional', []),
        ('layers/input_layer/vars', 'features', []),
        ('layers/simple_rnn/vars', 'rnn', []),
        ('layers/simple_rnn/cell/vars', 'simple_rnn_cell', rnn),
        ('layers/time_distributed/vars', 'td', []),
        ('layers/time_distributed/layer/vars', 'dense', td),
    ]
    write_keras('functional_simple_rnn', config, groups, x, y,
                'Functional: Input(4, 3) → SimpleRNN(5, relu, sequences) → TimeDistributed(Dense(2)); inputs are features (B, T, I)')


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    sequential_fixture()
    functional_fixture()
