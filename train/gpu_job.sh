#!/usr/bin/env bash
# The one command run on a lent GPU machine (device tool, carry: data): train and evaluate
# everything (train/all.sh), then pack checkpoints, sample grids and logs into $OUT in pieces
# under 16 MiB. Unpack here with: cat ckpt.tgz.* | tar xz
set -u
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
bash train/all.sh 2>&1 | tee runs-all.log
mkdir -p runs/logs && cp runs-all.log runs/logs/
tar czf - checkpoints runs/logs runs/*-samples | split -b 15M - "$OUT/ckpt.tgz."
ls -la "$OUT"
