"""PyTorch as the judge of webgpu-rnn's PyTorch interop (driven by test/interop_pytorch.test.ts).

  python3 torch_judge.py export DIR   PyTorch -> ours: for every case in DIR/cases.json, builds the
                                      PyTorch model (seeded), saves its state_dict with torch.save
                                      (DIR/<case>.pt; also DIR/<case>.safetensors when the
                                      `safetensors` package is installed), and writes the inputs,
                                      outputs, loss and the gradients of one training step to
                                      DIR/<case>.torch.json.
  python3 torch_judge.py check DIR    ours -> PyTorch: for every case, loads the files we wrote
                                      (DIR/<case>.ours.pt with torch.load(weights_only=True), and
                                      DIR/<case>.ours.safetensors) into the same modules, runs our
                                      inputs and compares with our outputs and gradients
                                      (DIR/<case>.ours.json). Prints a JSON report on stdout.

Debian's PyTorch 1.13 has no `safetensors` package; without it, our safetensors files are read
here with the format's own few lines (8-byte header length, JSON header, raw little-endian data).
One process runs every case of a direction. Tolerances: outputs 1e-5 absolute; gradients
1e-5 + 1e-4 relative (float32 sums in a different order).
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    from safetensors.torch import load_file as st_load, save_file as st_save
except ImportError:
    st_load = st_save = None

CELLS = {'lstm': nn.LSTM, 'gru': nn.GRU, 'rnn': nn.RNN}


class Net(nn.Module):
    """Embedding? -> LSTM/GRU/RNN -> last step? -> Linear?, attribute names emb, rnn, fc."""

    def __init__(self, c):
        super().__init__()
        if c.get('vocab'):
            self.emb = nn.Embedding(c['vocab'], c['emb'])
        kw = dict(num_layers=c['layers'], bidirectional=c['bidirectional'], batch_first=True)
        if c['cell'] == 'rnn':
            kw['nonlinearity'] = c['nonlinearity']
        self.rnn = CELLS[c['cell']](c['emb'] if c.get('vocab') else c['input'], c['hidden'], **kw)
        if c.get('head'):
            self.fc = nn.Linear(c['hidden'] * (2 if c['bidirectional'] else 1), c['head'])
        self.c = c

    def forward(self, x, lengths):
        if self.c.get('vocab'):
            x = self.emb(x)
        if self.c.get('lengths'):
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.rnn(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        else:
            out, _ = self.rnn(x)
        if self.c.get('lastStep'):
            out = out[torch.arange(out.shape[0]), lengths - 1]
        if self.c.get('head'):
            out = self.fc(out)
        return out


def make_module(c):
    """The module whose state_dict is saved: the Net, or for a `bare` case its nn.LSTM/GRU/RNN alone."""
    net = Net(c)
    return net, (net.rnn if c.get('bare') else net)


def loss_of(c, out, y, lengths):
    if c['loss'] == 'mse':
        return F.mse_loss(out, y)
    if out.dim() == 3:
        B, T, C = out.shape
        y = y.clone()
        if c.get('lengths'):
            for b in range(B):
                y[b, lengths[b]:] = -100  # padding: ignored, like our default weights of 0
        return F.cross_entropy(out.reshape(B * T, C), y.reshape(B * T), ignore_index=-100)
    return F.cross_entropy(out, y)


def valid_mask(c, shape, lengths):
    """Which output positions to compare: past a row's length PyTorch pads with zeros."""
    mask = torch.ones(shape, dtype=torch.bool)
    if c.get('lengths') and len(shape) == 3:
        for b in range(shape[0]):
            mask[b, lengths[b]:] = False
    return mask


def tensors_of(c, d):
    x = torch.tensor(d['x'], dtype=torch.long if c.get('vocab') else torch.float32).reshape(d['xShape'])
    lengths = torch.tensor(d['lengths'], dtype=torch.long)
    y = torch.tensor(d['y'], dtype=torch.float32 if c['loss'] == 'mse' else torch.long).reshape(d['yShape'])
    return x, lengths, y


def run_step(c, net, x, lengths, y):
    net.zero_grad()
    out = net(x, lengths)
    loss = loss_of(c, out, y, lengths)
    loss.backward()
    return out, loss


def export(folder):
    cases = json.load(open(os.path.join(folder, 'cases.json')))
    for i, c in enumerate(cases):
        torch.manual_seed(1000 + i)
        net, saved = make_module(c)
        B, T = c['batch'], c['steps']
        x = torch.randint(0, c['vocab'], (B, T)) if c.get('vocab') else torch.randn(B, T, c['input'])
        lengths = torch.tensor(c.get('lengthsOf') or [T] * B, dtype=torch.long)
        with torch.no_grad():
            out_shape = net(x, lengths).shape
        y = torch.randn(out_shape) if c['loss'] == 'mse' else torch.randint(0, out_shape[-1], out_shape[:-1])
        out, loss = run_step(c, net, x, lengths, y)
        prefix = 'rnn.' if c.get('bare') else ''
        grads = {k[len(prefix):]: p.grad.reshape(-1).tolist() for k, p in net.named_parameters() if k.startswith(prefix)}
        sd = saved.state_dict()
        torch.save(sd, os.path.join(folder, c['name'] + '.pt'))
        if st_save:
            st_save({k: v.contiguous() for k, v in sd.items()}, os.path.join(folder, c['name'] + '.safetensors'))
        json.dump({
            'x': x.reshape(-1).tolist(), 'xShape': list(x.shape), 'lengths': lengths.tolist(),
            'y': y.reshape(-1).tolist(), 'yShape': list(y.shape),
            'out': out.detach().reshape(-1).tolist(), 'outShape': list(out.shape),
            'mask': valid_mask(c, out.shape, lengths).reshape(-1).tolist(),
            'loss': loss.item(), 'grads': grads,
        }, open(os.path.join(folder, c['name'] + '.torch.json'), 'w'))
    print(json.dumps({'exported': len(cases), 'torch': torch.__version__, 'safetensors': st_save is not None}))


def read_safetensors(path):
    """The safetensors format in a few lines (used when the safetensors package is absent)."""
    if st_load:
        return st_load(path)
    raw = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    dtypes = {'F32': torch.float32, 'I32': torch.int32}
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        b, e = info['data_offsets']
        out[name] = torch.frombuffer(bytearray(raw[8 + n + b:8 + n + e]), dtype=dtypes[info['dtype']]).reshape(info['shape'])
    return out


def max_err(got, want, atol, rtol, mask=None):
    """(ok, max abs error, first offending index) for got vs want."""
    diff = (got - want).abs()
    bad = diff > atol + rtol * want.abs()
    if mask is not None:
        diff, bad = diff[mask], bad[mask]
    idx = bad.nonzero()
    return (len(idx) == 0, diff.max().item() if diff.numel() else 0.0, idx[0].tolist() if len(idx) else None)


def check(folder):
    cases = json.load(open(os.path.join(folder, 'cases.json')))
    report = []
    for c in cases:
        d = json.load(open(os.path.join(folder, c['name'] + '.ours.json')))
        x, lengths, y = tensors_of(c, d)
        ours_out = torch.tensor(d['out'], dtype=torch.float32).reshape(d['outShape'])
        for fmt in ('pt', 'safetensors'):
            entry = {'case': c['name'], 'format': fmt, 'ok': False}
            report.append(entry)
            try:
                path = os.path.join(folder, c['name'] + '.ours.' + fmt)
                sd = torch.load(path, weights_only=True) if fmt == 'pt' else read_safetensors(path)
                net, saved = make_module(c)
                if c.get('bare'):  # our layer is named "rnn"; a bare module's own names have no prefix
                    sd = {k.split('.', 1)[1]: v for k, v in sd.items()}
                saved.load_state_dict(sd, strict=True)
                out, loss = run_step(c, net, x, lengths, y)
                mask = valid_mask(c, out.shape, lengths)
                ok_out, err_out, at_out = max_err(out.detach(), ours_out, 1e-5, 0, mask)
                entry.update(outErr=err_out, lossErr=abs(loss.item() - d['loss']))
                if not ok_out:
                    entry['message'] = f'output differs at {at_out}: max abs error {err_out:.3e}'
                    continue
                prefix = 'rnn.' if c.get('bare') else ''
                worst = 0.0
                for k, p in net.named_parameters():
                    g = torch.tensor(d['grads'][k], dtype=torch.float32).reshape(p.shape)
                    ok_g, err_g, at_g = max_err(p.grad, g, 1e-5, 1e-4)
                    worst = max(worst, err_g)
                    if not ok_g:
                        entry['message'] = f'gradient of {k} differs at {at_g}: max abs error {err_g:.3e}'
                        break
                entry['gradErr'] = worst
                if 'message' not in entry:
                    entry['ok'] = abs(loss.item() - d['loss']) <= 1e-5 + 1e-5 * abs(d['loss'])
                    if not entry['ok']:
                        entry['message'] = f"loss {loss.item()} vs ours {d['loss']}"
            except Exception as e:  # noqa: BLE001 - reported per case, the test prints it
                entry['message'] = f'{type(e).__name__}: {e}'
    print(json.dumps({'torch': torch.__version__, 'results': report}))


if __name__ == '__main__':
    torch.set_num_threads(1)
    {'export': export, 'check': check}[sys.argv[1]](sys.argv[2])
