#!/usr/bin/env bash
# Issue 5's Fashion FID on a lent GPU (device tool, carry: data; about 8 minutes): measure the shipped
# ddpm-fashion with Algorithm 2, train a wider one (ch 48, 2.1M parameters: 4.8 ms a denoising step on
# 2 CPU cores, inside the lab's budgets) with a cosine learning rate that ends with the time budget,
# measure it the same way, and pack it into $OUT. Unpack here with: tar xzf ddpm-fashion.tgz
# Try it on CPU first (CKPTS keeps checkpoints/ untouched):
#   mkdir -p /tmp/ck /tmp/o && cp -r checkpoints/classifier-fashion /tmp/ck/ &&
#   CKPTS=/tmp/ck OUT=/tmp/o STEPS=20 MINUTES=1 N=100 bash train/gpu_fashion.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CKPTS=${CKPTS:-checkpoints}
nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || echo "no GPU: CPU"
python -m gen.evaluate --model ddpm-fashion --data data/fashion_mnist.npz --n "${N:-5000}" > "$OUT/shipped-alg2.json"
python train/ddpm.py --dataset fashion --data data/fashion_mnist.npz --ch 48 --steps "${STEPS:-400000}" --batch 256 \
  --lr 4e-4 --cosine --ema 0.9998 --every 5000 --max-minutes "${MINUTES:-6}" --run-dir runs/gpu \
  --out "$CKPTS/ddpm-fashion" 2>&1 | tr "\r" "\n" | tail -3
GENLAB_CHECKPOINTS=$CKPTS python -m gen.evaluate --model ddpm-fashion --data data/fashion_mnist.npz \
  --n "${N:-5000}" --write > "$OUT/new-alg2.json"
tar czf "$OUT/ddpm-fashion.tgz" -C "$CKPTS" ddpm-fashion
cat "$OUT"/*.json | grep -E '"fid|min_class'
