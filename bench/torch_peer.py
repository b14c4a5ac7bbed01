# PyTorch as a peer for `npm run bench` (bench/run.ts starts this once per bench run): on the CPU
# with 2 threads, or with `"device": "cuda"` in the request (cuDNN; the GPU benchmark) on the GPU.
# Reads {"configs": [...], "device", "warmup", "steps"} on stdin (configs: the fields of
# bench/run.ts's Config) and prints one JSON line per configuration: {"config": name, "torch_ms":
# median ms, "torch_device", ...}. Without torch (or without CUDA when asked for it) it prints one
# line {"unavailable": reason} and exits 0, so the bench carries on without the column.
# The model and step are ours: Embedding → LSTM/GRU → Linear (char-rnn: a head on every step and
# softmax cross-entropy; imdb: the last step only and sigmoid cross-entropy), Adam with global-norm
# clip 5 for training rows, torch.no_grad() for forward-only rows.
import json, statistics, sys, time

try:
    import torch
except Exception as e:  # no torch in this python: say so once, and let the bench go on
    print(json.dumps({'unavailable': f'python3 has no torch ({type(e).__name__}: {e})'}))
    sys.exit(0)

THREADS = 2
torch.set_num_threads(THREADS)
torch.backends.cudnn.benchmark = True


def median_ms(step, warmup, steps, sync, budget_s=6.0):
    for _ in range(warmup):
        step()
    sync()
    times = []
    started = time.perf_counter()
    while len(times) < steps and (len(times) < 3 or time.perf_counter() - started < budget_s):
        t0 = time.perf_counter()
        step()
        sync()  # a CUDA step is timed to its end, not to its launch
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), len(times)


def bench(c, warmup, steps, dev):
    torch.manual_seed(1)
    B, T, V, E, H, L = c['B'], c['T'], c['V'], c['E'], c['H'], c.get('layers', 1)
    charrnn = c['kind'] == 'charrnn'
    emb = torch.nn.Embedding(V, E).to(dev)
    rnn = (torch.nn.LSTM if c['cell'] == 'lstm' else torch.nn.GRU)(E, H, L, batch_first=True).to(dev)
    head = torch.nn.Linear(H, V if charrnn else 1).to(dev)
    params = list(emb.parameters()) + list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=0.002)
    x = torch.randint(0, V, (B, T), device=dev)
    y = torch.randint(0, V, (B * T,), device=dev) if charrnn else torch.randint(0, 2, (B, 1), device=dev).float()
    sync = torch.cuda.synchronize if dev == 'cuda' else (lambda: None)

    def forward():
        out, _ = rnn(emb(x))
        return head(out if charrnn else out[:, -1])

    def train_step():
        opt.zero_grad(set_to_none=True)
        out = forward()
        loss = (torch.nn.functional.cross_entropy(out.reshape(-1, V), y) if charrnn
                else torch.nn.functional.binary_cross_entropy_with_logits(out, y))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()

    if c['train']:
        ms, n = median_ms(train_step, warmup, steps, sync)
    else:
        with torch.no_grad():
            ms, n = median_ms(forward, warmup, steps, sync)
    row = {'config': c['name'], 'torch_ms': round(ms, 3), 'torch_steps': n, 'torch_device': dev, 'torch_version': torch.__version__}
    if dev == 'cuda':
        row['torch_gpu'] = torch.cuda.get_device_name()
    else:
        row['torch_threads'] = THREADS
    return row


def main():
    req = json.load(sys.stdin)
    dev = req.get('device', 'cpu')
    if dev == 'cuda' and not torch.cuda.is_available():
        print(json.dumps({'unavailable': f'torch {torch.__version__} sees no CUDA device'}))
        return
    for c in req['configs']:
        try:
            row = bench(c, req.get('warmup', 2), req.get('steps', 7), dev)
        except Exception as e:  # one failing configuration is reported, the others still run
            row = {'config': c['name'], 'torch_ms': None, 'torch_note': f'failed: {e}'}
        print(json.dumps(row), flush=True)


main()
