"""Reads a .keras file the way Keras 3 does, without Keras (none is installable here) and without
any webgpu-rnn code, and runs the model with numpy: the judge of files that webgpu-rnn writes.

- zip: config.json and model.weights.h5 must be there (Keras's _load_model_from_fileobj);
- weights: located as keras/src/saving/saving_lib.py's _load_state finds them: the model's layer
  list under `layers/<class name in snake case>` (+ _1, _2 for repeats; a Sequential's leading
  InputLayer has no entry), each layer's variables read as store["0"], store["1"], … from
  `<path>/vars`, an RNN layer's in `cell/vars`, Bidirectional's in `forward_layer/…` and
  `backward_layer/…`, TimeDistributed's in `layer/vars`. Every vars group Keras would make must
  exist with its `name` attribute, hold exactly the variables the layer has (Keras refuses a count
  mismatch), and hold float32; no other group or dataset may be in the file.
- forward: Keras's cell equations in float64 on those weights (Embedding, SimpleRNN, LSTM, GRU
  with reset_after True and False, Bidirectional concat/sum, Dense and TimeDistributed(Dense),
  Dropout as identity), on inputs without padding.

Usage: /usr/bin/python3 keras_file_judge.py FILE.keras < {"x": [...], "shape": [B, T(, I)]}
Prints {"problems": [...], "output": [...], "shape": [...]} as JSON.
"""
import json
import re
import sys
import zipfile
from io import BytesIO

import h5py
import numpy as np


def to_snake_case(name):  # keras/src/utils/naming.py
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


ACT = {'tanh': np.tanh, 'sigmoid': lambda v: 1 / (1 + np.exp(-v)), 'relu': lambda v: np.maximum(v, 0), 'linear': lambda v: v}
CELL_VARS = {'LSTM': 3, 'GRU': 3, 'SimpleRNN': 3}


def main():
    path = sys.argv[1]
    inputs = json.load(sys.stdin)
    problems = []
    z = zipfile.ZipFile(path)
    names = z.namelist()
    for needed in ('config.json', 'model.weights.h5'):
        if needed not in names:
            problems.append(f'zip has no {needed}')
    config = json.loads(z.read('config.json'))
    h5 = h5py.File(BytesIO(z.read('model.weights.h5')), 'r')
    expected_groups = {}  # vars group path -> number of datasets Keras reads there

    def take(group, count, layer_name):
        expected_groups[group] = count
        if group not in h5:
            problems.append(f'{group} missing (layer {layer_name})')
            return [None] * count
        g = h5[group]
        if 'name' not in g.attrs:
            problems.append(f'{group} has no name attribute')
        if len(g.keys()) != count:
            problems.append(f'{group} holds {sorted(g.keys())}, Keras expects {count} variables')
        out = []
        for i in range(count):
            d = g.get(str(i))
            if d is None:
                problems.append(f'{group}/{i} missing')
                out.append(None)
                continue
            if d.dtype != np.float32:
                problems.append(f'{group}/{i} is {d.dtype}, expected float32')
            out.append(np.asarray(d[()], dtype=np.float64))
        return out

    def layer_weights(layer, base):
        cls, c = layer['class_name'], layer['config']
        if cls in CELL_VARS:
            take(f'{base}/vars', 0, c['name'])
            return take(f'{base}/cell/vars', 3 if c.get('use_bias', True) else 2, c['name'])
        if cls == 'Bidirectional':
            take(f'{base}/vars', 0, c['name'])
            back = c.get('backward_layer') or c['layer']
            return layer_weights(c['layer'], f'{base}/forward_layer') + layer_weights(back, f'{base}/backward_layer')
        if cls == 'TimeDistributed':
            take(f'{base}/vars', 0, c['name'])
            return layer_weights(c['layer'], f'{base}/layer')
        count = {'Embedding': 1, 'Dense': 2 if c.get('use_bias', True) else 1}.get(cls, 0)
        return take(f'{base}/vars', count, c['name'])

    layers = config['config']['layers']
    saved = layers[1:] if config['class_name'] == 'Sequential' and layers and layers[0]['class_name'] == 'InputLayer' else layers
    used = {}
    weights = []
    for layer in saved:
        snake = to_snake_case(layer['class_name'])
        if snake in used:
            used[snake] += 1
            snake = f'{snake}_{used[snake]}'
        else:
            used[snake] = 0
        weights.append((layer, layer_weights(layer, f'layers/{snake}')))
    expected_groups.setdefault('vars', 0)

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            group, _, key = name.rpartition('/')
            if group not in expected_groups or not key.isdigit() or int(key) >= expected_groups[group]:
                problems.append(f'unexpected dataset {name}')
        elif name.endswith('vars') and name not in expected_groups:
            problems.append(f'unexpected group {name}')
    h5.visititems(visit)

    x = np.asarray(inputs['x'], dtype=np.float64).reshape(inputs['shape'])
    if not problems:
        for layer, w in weights:
            x = forward(layer, w, x)
    print(json.dumps({'problems': problems, 'output': [float(v) for v in np.ravel(x)] if not problems else [], 'shape': list(np.shape(x))}))


def run_cell(cls, c, w, x):
    act = ACT[c.get('activation', 'tanh')]
    ract = ACT[c.get('recurrent_activation', 'sigmoid')]
    k, r = w[0], w[1]
    b = w[2] if len(w) > 2 else None
    units = r.shape[0]
    h = np.zeros((x.shape[0], units)); cstate = np.zeros_like(h); out = []
    steps = range(x.shape[1] - 1, -1, -1) if c.get('go_backwards') else range(x.shape[1])
    for t in steps:
        if cls == 'SimpleRNN':
            h = act(x[:, t] @ k + (b if b is not None else 0) + h @ r)
        elif cls == 'LSTM':
            i, f, g, o = np.split(x[:, t] @ k + h @ r + (b if b is not None else 0), 4, axis=-1)
            cstate = ract(f) * cstate + ract(i) * act(g)
            h = ract(o) * act(cstate)
        elif c.get('reset_after', True):
            bi, bh = (b[0], b[1]) if b is not None else (0, 0)
            xz, xr, xh = np.split(x[:, t] @ k + bi, 3, axis=-1)
            rz, rr, rh = np.split(h @ r + bh, 3, axis=-1)
            zg, rg = ract(xz + rz), ract(xr + rr)
            h = zg * h + (1 - zg) * act(xh + rg * rh)
        else:
            xz, xr, xh = np.split(x[:, t] @ k + (b if b is not None else 0), 3, axis=-1)
            zg = ract(xz + h @ r[:, :units]); rg = ract(xr + h @ r[:, units:2 * units])
            h = zg * h + (1 - zg) * act(xh + (rg * h) @ r[:, 2 * units:])
        out.append(h)
    seq = np.stack(out, 1)
    return seq if c.get('return_sequences') else seq[:, -1]


def forward(layer, w, x):
    cls, c = layer['class_name'], layer['config']
    if cls == 'InputLayer' or cls == 'Dropout':
        return x
    if cls == 'Embedding':
        return w[0][x.astype(np.int64)]
    if cls in CELL_VARS:
        return run_cell(cls, c, w, x)
    if cls == 'Bidirectional':
        inner = c['layer']
        back = c.get('backward_layer') or {**inner, 'config': {**inner['config'], 'go_backwards': True}}
        n = len(w) // 2
        fwd = run_cell(inner['class_name'], inner['config'], w[:n], x)
        bwd = run_cell(back['class_name'], {**back['config'], 'go_backwards': True}, w[n:], x)
        if inner['config'].get('return_sequences'):
            bwd = bwd[:, ::-1]  # Bidirectional reverses the backward direction's sequence back
        return np.concatenate([fwd, bwd], -1) if c.get('merge_mode', 'concat') == 'concat' else fwd + bwd
    if cls in ('Dense', 'TimeDistributed'):
        dc = c['layer']['config'] if cls == 'TimeDistributed' else c
        y = x @ w[0] + (w[1] if len(w) > 1 else 0)
        a = dc.get('activation', 'linear')
        if a == 'softmax':
            e = np.exp(y - y.max(-1, keepdims=True))
            return e / e.sum(-1, keepdims=True)
        return ACT[a](y)
    raise SystemExit(f'keras_file_judge: layer class {cls} is not modelled')


if __name__ == '__main__':
    main()
