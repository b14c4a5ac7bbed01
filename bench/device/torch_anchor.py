# PyTorch (cuDNN) anchor for bench/RESULTS.md: LSTM/GRU training-step, forward and sampling
# times for the example configurations, one JSON line each. Run on the GPU machine:
#   python3 .gpu/torch_anchor.py      (bench/device/pack.sh copies it into .gpu/)
# Same models as bench/run.ts: embedding → LSTM/GRU → linear head, Adam, global-norm clip 5.
import torch, time, json, sys
dev = 'cuda' if torch.cuda.is_available() else 'cpu'
torch.backends.cudnn.benchmark = True
def bench(name, cell, B, T, V, H, L, emb=None, reps=50):
    torch.manual_seed(0)
    inp = V if emb is None else emb
    embl = torch.nn.Embedding(V, inp).to(dev)
    rnn = (torch.nn.LSTM if cell=='lstm' else torch.nn.GRU)(inp, H, L, batch_first=True).to(dev)
    head = torch.nn.Linear(H, V).to(dev)
    params = list(embl.parameters()) + list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    x = torch.randint(0, V, (B, T), device=dev); y = torch.randint(0, V, (B, T), device=dev)
    def step():
        opt.zero_grad(set_to_none=True)
        out, _ = rnn(embl(x)); logits = head(out)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        loss.backward(); torch.nn.utils.clip_grad_norm_(params, 5.0); opt.step()
    for _ in range(5): step()
    if dev=='cuda': torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps): step()
    if dev=='cuda': torch.cuda.synchronize()
    tr = (time.perf_counter()-t0)/reps*1000
    with torch.no_grad():
        for _ in range(3): rnn(embl(x))
        if dev=='cuda': torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(reps): rnn(embl(x))
        if dev=='cuda': torch.cuda.synchronize()
        tf = (time.perf_counter()-t0)/reps*1000
    # sampling: batch 1, one step at a time, 200 steps
    with torch.no_grad():
        xi = torch.zeros((1,1), dtype=torch.long, device=dev); st=None
        t0 = time.perf_counter()
        for _ in range(200):
            o, st = rnn(embl(xi), st); p = torch.softmax(head(o[:, -1]), -1); xi = torch.multinomial(p, 1)
        if dev=='cuda': torch.cuda.synchronize()
        ts = (time.perf_counter()-t0)/200*1000
    r = dict(name=name, cell=cell, B=B, T=T, V=V, H=H, L=L, train_step_ms=round(tr,3), forward_ms=round(tf,3), sample_ms_per_char=round(ts,3), tokens_per_s_train=round(B*T/(tr/1000)))
    print(json.dumps(r)); sys.stdout.flush()
print(torch.__version__, dev, torch.cuda.get_device_name() if dev=='cuda' else '')
bench('charrnn-hamlet', 'lstm', 64, 100, 65, 128, 1, emb=65)
bench('charrnn-hamlet-gru', 'gru', 64, 100, 65, 128, 1, emb=65)
bench('sentiment', 'lstm', 64, 200, 20000, 128, 1, emb=256)
bench('big-lm', 'lstm', 128, 128, 256, 512, 2, emb=256)
bench('big-lm-1024', 'lstm', 64, 256, 256, 1024, 2, emb=256)
