#!/usr/bin/env bash
# The GPU benchmark on the GPU machine, one command, in under 8 minutes (pack.sh copies this file
# into .gpu/; see README.md beside it). From the checkout's root, as root:
#   bash .gpu/run.sh [out-dir]          out-dir: default $OUT, else .gpu/out
# In order, each step under its own time limit so that a slow step cannot eat the next one's time:
#   env.txt      the machine: date, GPU (nvidia-smi), Node, torch
#   torch.jsonl  bench/device/torch_anchor.py: PyTorch/cuDNN train step, forward, per-step sampling
#   check.jsonl  bench/device/check.ts: every schedule, variant and precision against the float64 CPU
#                model on this adapter (a path that fails here is not worth timing)
#   bench.jsonl  bench/run.ts --full: ours (every schedule and variant, f32 and f16) and tfjs-webgpu on
#                the same Dawn adapter, PyTorch/cuDNN on the same models (torch_peer.py), the kernel
#                timings, streaming latency and sampling 1,000 characters
#   summary.md   bench/device/record.ts: the tables for bench/RESULTS.md
# Dawn keeps shader-f16 off on NVIDIA's Vulkan driver unless asked: WEBGPU_RNN_DAWN_TOGGLES turns
# it on here (set it to '' to leave Dawn's default). QUICK=1 is the rehearsal on a machine without
# a GPU: default sizes, the Hamlet configurations and sampling only, torch on the CPU, no time limit to speak of.
# PYTHON: the interpreter that has torch (default python3).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-${OUT:-.gpu/out}}
mkdir -p "$out"
source .gpu/setup.sh
export WEBGPU_RNN_DAWN_TOGGLES=${WEBGPU_RNN_DAWN_TOGGLES-vulkan_enable_f16_on_nvidia}
quick=${QUICK:-0}
python=${PYTHON:-python3}
started=$(date +%s)
step() { echo "[$(( $(date +%s) - started )) s] $*" | tee -a "$out/steps.log"; }
stopped() { [ "$1" = 124 ] && echo " (stopped at its time limit; the rows written before that are kept)"; }

step "environment"
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not available"
  echo "node $(node --version)"
  "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1 | tail -1
  echo "WEBGPU_RNN_DAWN_TOGGLES=$WEBGPU_RNN_DAWN_TOGGLES"
} > "$out/env.txt"

step "PyTorch anchor (torch_anchor.py)"
anchor_args=(); [ "$quick" = 1 ] && anchor_args=(--quick)
timeout 100 "$python" .gpu/torch_anchor.py "${anchor_args[@]}" > "$out/torch.jsonl" 2> "$out/torch.log"
rc=$?; step "PyTorch anchor: exit $rc$(stopped $rc)"

step "paths against the CPU model (check.mjs)"
timeout "$([ "$quick" = 1 ] && echo 600 || echo 120)" node .gpu/check.mjs --json > "$out/check.jsonl" 2> "$out/check.log"
rc=$?; step "check: exit $rc$(stopped $rc) ($(grep -c '"ok":true' "$out/check.jsonl") paths agree, $(grep -c '"ok":false' "$out/check.jsonl") do not)"

step "benchmark (bench.mjs)"
if [ "$quick" = 1 ]; then
  bench_args=(--json --only hamlet --peers webgpu --python "$python" --no-baseline --kernels --stream
    --budget-ms 1000 --tfjs-skip-ms 60000 --tfjs-limit-ms 5000)
  limit=600
else
  bench_args=(--json --full --peers webgpu --torch-device cuda --python "$python" --no-baseline --kernels --stream
    --budget-ms 1200 --tfjs-skip-ms 30000 --tfjs-limit-ms 8000)
  limit=$(( 450 - ($(date +%s) - started) ))   # what is left of 7.5 minutes
  [ "$limit" -lt 60 ] && limit=60
fi
timeout "$limit" node .gpu/bench.mjs "${bench_args[@]}" > "$out/bench.jsonl" 2> "$out/bench.log"
rc=$?; step "benchmark: exit $rc$(stopped $rc)"

node .gpu/record.mjs "$out" > "$out/summary.md" 2> "$out/record.log"
step "summary: exit $? ($out/summary.md)"
cat "$out/summary.md"
