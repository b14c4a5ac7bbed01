# PyTorch (cuDNN) anchor for bench/RESULTS.md: LSTM/GRU training-step, forward and sampling
# times for the example configurations, one JSON line each. Run on the GPU machine:
#   python3 .gpu/torch_anchor.py      (bench/device/pack.sh copies it into .gpu/)
# Same models as bench/run.ts (names as there): embedding → LSTM/GRU → linear head on every step
# (char-rnn) or on the last step (imdb, many-to-one), Adam, global-norm clip 5; sampling is a
# per-step loop at batch 1 (one forward, softmax and multinomial per character).
#   python3 .gpu/torch_anchor.py [--quick]   (--quick: the Hamlet LSTM at B16 T50, a rehearsal on a CPU)
import torch, time, json, sys
QUICK = '--quick' in sys.argv
dev = 'cuda' if torch.cuda.is_available() else 'cpu'
torch.backends.cudnn.benchmark = True
def bench(name, cell, B, T, V, H, L, emb=None, reps=50, many_to_one=False):
    if QUICK: reps = 3
    torch.manual_seed(0)
    inp = V if emb is None else emb
    embl = torch.nn.Embedding(V, inp).to(dev)
    rnn = (torch.nn.LSTM if cell=='lstm' else torch.nn.GRU)(inp, H, L, batch_first=True).to(dev)
    head = torch.nn.Linear(H, 1 if many_to_one else V).to(dev)
    params = list(embl.parameters()) + list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    x = torch.randint(0, V, (B, T), device=dev)
    y = torch.randint(0, 2, (B, 1), device=dev).float() if many_to_one else torch.randint(0, V, (B, T), device=dev)
    def step():
        opt.zero_grad(set_to_none=True)
        out, _ = rnn(embl(x))
        if many_to_one:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(head(out[:, -1]), y)
        else:
            loss = torch.nn.functional.cross_entropy(head(out).reshape(-1, V), y.reshape(-1))
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
    # sampling: batch 1, one step at a time, 200 steps (char-rnn only)
    ts = None
    if not many_to_one:
      with torch.no_grad():
        xi = torch.zeros((1,1), dtype=torch.long, device=dev); st=None
        t0 = time.perf_counter()
        for _ in range(200):
            o, st = rnn(embl(xi), st); p = torch.softmax(head(o[:, -1]), -1); xi = torch.multinomial(p, 1)
        if dev=='cuda': torch.cuda.synchronize()
        ts = round((time.perf_counter()-t0)/200*1000, 4)
    r = dict(name=name, cell=cell, B=B, T=T, V=V, H=H, L=L, train_step_ms=round(tr,3), forward_ms=round(tf,3), sample_ms_per_char=ts, tokens_per_s_train=round(B*T/(tr/1000)))
    print(json.dumps(r)); sys.stdout.flush()
print(json.dumps(dict(torch_version=torch.__version__, device=dev, gpu=torch.cuda.get_device_name() if dev=='cuda' else None)))
if QUICK:
    bench('hamlet-lstm', 'lstm', 16, 50, 65, 128, 1, emb=65)
else:
    bench('hamlet-lstm', 'lstm', 64, 100, 65, 128, 1, emb=65)
    bench('hamlet-gru', 'gru', 64, 100, 65, 128, 1, emb=65)
    bench('imdb-lstm', 'lstm', 64, 200, 20000, 128, 1, emb=256, many_to_one=True)
    bench('large-lstm2', 'lstm', 128, 128, 256, 512, 2, emb=256)
