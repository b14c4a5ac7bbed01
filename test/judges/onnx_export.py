"""The PyTorch judge for ONNX import: builds small seeded PyTorch models (Embedding or float
features → nn.LSTM / nn.GRU / nn.RNN → nn.Linear), exports each with torch.onnx.export (opset 14,
dynamic batch and time axes) and writes, per model, NAME.onnx and NAME.json holding the input, the
PyTorch output on it (float32, eval mode) and the state_dict keys.

Usage: python3 onnx_export.py OUT_DIR
Prints one line per model; exits 2 when torch is not installed.
"""
import json
import warnings
import os
import sys

try:
    import torch
    from torch import nn
except ImportError:
    print("torch is not installed (Debian: apt-get install python3-torch)")
    sys.exit(2)


class Net(nn.Module):
    """Embedding (or float features) → recurrent → (last step) → Linear, PyTorch's usual shape."""

    def __init__(self, cell, vocab, features, hidden, layers, bidirectional, nonlinearity, last_step):
        super().__init__()
        self.embedding = nn.Embedding(vocab, features) if vocab else None
        kw = dict(input_size=features, hidden_size=hidden, num_layers=layers, bidirectional=bidirectional, batch_first=True)
        if cell == "rnn":
            self.rnn = nn.RNN(nonlinearity=nonlinearity, **kw)
        else:
            self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](**kw)
        self.last_step = last_step
        self.fc = nn.Linear(hidden * (2 if bidirectional else 1), 4)

    def forward(self, x):
        if self.embedding is not None:
            x = self.embedding(x)
        y, _ = self.rnn(x)
        if self.last_step:
            y = y[:, -1, :]
        return self.fc(y)


# name: (cell, vocab (0 = float features), features, hidden, layers, bidirectional, nonlinearity, last step)
CASES = {
    "lstm": ("lstm", 11, 5, 6, 1, False, "tanh", False),
    "gru": ("gru", 11, 5, 6, 1, False, "tanh", False),
    "rnn_tanh": ("rnn", 11, 5, 6, 1, False, "tanh", False),
    "rnn_relu": ("rnn", 11, 5, 6, 1, False, "relu", False),
    "lstm_stacked_bidirectional": ("lstm", 11, 5, 6, 2, True, "tanh", False),
    "gru_stacked_bidirectional": ("gru", 11, 5, 6, 2, True, "tanh", False),
    "rnn_relu_bidirectional": ("rnn", 11, 5, 6, 1, True, "relu", False),
    "gru_last_step": ("gru", 11, 5, 6, 1, False, "tanh", True),
    "lstm_features_stacked": ("lstm", 0, 3, 5, 2, False, "tanh", False),
}


def main(out_dir):
    warnings.filterwarnings("ignore")  # torch.onnx prints advice about batch_first RNNs; the outputs are checked instead
    os.makedirs(out_dir, exist_ok=True)
    B, T = 3, 4
    for i, (name, spec) in enumerate(CASES.items()):
        torch.manual_seed(100 + i)
        net = Net(*spec).eval()
        vocab, features = spec[1], spec[2]
        if vocab:
            x = torch.randint(0, vocab, (B, T), dtype=torch.int64)
            input_name, kind = "tokens", "tokens"
        else:
            x = torch.randn(B, T, features)
            input_name, kind = "inputs", "features"
        with torch.no_grad():
            y = net(x)
        path = os.path.join(out_dir, name + ".onnx")
        axes = {input_name: {0: "batch", 1: "steps"}, "output": {0: "batch"} if spec[7] else {0: "batch", 1: "steps"}}
        torch.onnx.export(net, (x,), path, opset_version=14, input_names=[input_name], output_names=["output"], dynamic_axes=axes)
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            json.dump({
                "name": name,
                "input": {"kind": kind, "shape": list(x.shape), "data": x.flatten().tolist()},
                "output": {"shape": list(y.shape), "data": y.flatten().tolist()},
                "state_dict_keys": list(net.state_dict().keys()),
            }, f)
        print(f"exported {name}: output {tuple(y.shape)}")


if __name__ == "__main__":
    main(sys.argv[1])
