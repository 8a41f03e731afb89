#!/usr/bin/env bash
# The GC paper's table reduced to what a 2-core CPU can run in 30 minutes, on the built-in synthetic dataset:
# ResNet-18 and ResNet-34, Adam vs SGD vs SGD_GCC, seeds 0 1 2 (18 runs of 6 epochs), then the summary.
# usage: scripts/gc_table_synthetic.sh [OUT] [DATA_ROOT]      (defaults: out/gc_table_synthetic ./data)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-out/gc_table_synthetic}
data=${2:-./data}
MODELS=${MODELS:-resnet18 resnet34} OPTIMIZERS=${OPTIMIZERS:-Adam SGD SGD_GCC} SEEDS=${SEEDS:-0 1 2} \
DATASET=synthetic ADAM_CONFIG=$repo/configs/synthetic_table_adam.yml SGD_CONFIG=$repo/configs/synthetic_table_sgd.yml \
  "$repo/scripts/gc_table.sh" "$data" "$out"
