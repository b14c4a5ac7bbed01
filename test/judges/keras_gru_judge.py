"""PyTorch as the judge of Keras GRU reset_after=True weights (TensorFlow.js 4.22 has no such GRU,
so test/interop_tfjs.test.ts asks PyTorch instead).

  python3 keras_gru_judge.py < case.json

case.json: {"tokens": [[...]] (B, T) right-padded with 0, "lengths": [...],
            "embeddings": (V, E), "bi": {"forward": [kernel, recurrent_kernel, bias],
            "backward": [...]}, "gru": [kernel, recurrent_kernel, bias], "dense": [kernel, bias]}
in Keras's layouts: kernel (in, 3H) and recurrent_kernel (H, 3H) with gate blocks z, r, h, bias
(2, 3H) = [input bias; recurrent bias]. The model is Keras's
Embedding(mask_zero) -> Bidirectional(GRU(reset_after=True, return_sequences=True)) ->
GRU(reset_after=True) -> Dense, run here as nn.Embedding -> nn.GRU(bidirectional) -> nn.GRU ->
nn.Linear on packed sequences, the Keras weights converted here (transposed, gate blocks reordered
to PyTorch's r, z, n): an independent reading of the layout. Prints {"output": (B, units)}.
"""
import json
import sys

import torch
import torch.nn as nn


def reorder(w):
    """Gate blocks z, r, h (Keras) -> r, z, n (PyTorch) along the first axis."""
    z, r, h = torch.chunk(w, 3, dim=0)
    return torch.cat([r, z, h], dim=0)


def load_gru(gru, weights, suffix):
    kernel, recurrent, bias = (torch.tensor(w, dtype=torch.float32) for w in weights)
    getattr(gru, 'weight_ih' + suffix).data = reorder(kernel.t().contiguous())
    getattr(gru, 'weight_hh' + suffix).data = reorder(recurrent.t().contiguous())
    getattr(gru, 'bias_ih' + suffix).data = reorder(bias[0])
    getattr(gru, 'bias_hh' + suffix).data = reorder(bias[1])


def main():
    c = json.load(sys.stdin)
    emb_w = torch.tensor(c['embeddings'], dtype=torch.float32)
    E = emb_w.shape[1]
    H1 = len(c['bi']['forward'][1])
    H2 = len(c['gru'][1])
    emb = nn.Embedding(*emb_w.shape)
    emb.weight.data = emb_w
    bi = nn.GRU(E, H1, batch_first=True, bidirectional=True)
    load_gru(bi, c['bi']['forward'], '_l0')
    load_gru(bi, c['bi']['backward'], '_l0_reverse')
    gru = nn.GRU(2 * H1, H2, batch_first=True)
    load_gru(gru, c['gru'], '_l0')
    kernel, bias = (torch.tensor(w, dtype=torch.float32) for w in c['dense'])
    fc = nn.Linear(kernel.shape[0], kernel.shape[1])
    fc.weight.data = kernel.t().contiguous()
    fc.bias.data = bias
    tokens = torch.tensor(c['tokens'], dtype=torch.long)
    lengths = torch.tensor(c['lengths'], dtype=torch.long)
    with torch.no_grad():
        pack = lambda x: nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = bi(pack(emb(tokens)))
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=tokens.shape[1])
        _, h = gru(pack(out))
        y = fc(h[-1])
    print(json.dumps({'output': y.tolist()}))


main()
