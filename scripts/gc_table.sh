#!/usr/bin/env bash
# The GC paper's ReID table: Adam (strong baseline) vs SGD_GCC on Market-1501 with ResNet-18/50/101,
# then tools/summarize.py writes OUT/summary.md beside the paper's figures.
#
# usage: scripts/gc_table.sh DATA_ROOT OUT [KEY VALUE ...]
# environment (defaults in brackets):
#   MODELS ["resnet18 resnet50 resnet101"]  OPTIMIZERS ["Adam SGD_GCC"]  SEEDS ["0"]
#   DATASET [market1501]  ADAM_CONFIG [configs/softmax_triplet_with_center.yml]  SGD_CONFIG [configs/gc_sgd_gcc.yml]
# OPTIMIZERS takes any SOLVER.OPTIMIZER_NAME (Adam, SGD_GCC, Ranger_GC2, RAdam_GC, PlainRAdam_GCC2, NAdam_GC2, ...);
# names starting with SGD or Adagrad use SGD_CONFIG, the others (the Adam-like rules) ADAM_CONFIG. Every name
# is checked before the first run starts. Each run resumes (SOLVER.RESUME 'auto'), so re-running the script
# after an interruption finishes what is left.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
data=${1:?usage: $0 DATA_ROOT OUT [KEY VALUE ...]}
out=${2:?usage: $0 DATA_ROOT OUT [KEY VALUE ...]}
shift 2
py=${PYTHON:-python3}
dataset=${DATASET:-market1501}
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$py" -c '
import sys
from reid_gc.solver.optimizer import optimizer_class
from reid_gc.utils.errors import UserError
try:
    for name in sys.argv[1:]:
        optimizer_class(name)
except UserError as e:
    print(f"error: OPTIMIZERS: {e}", file=sys.stderr)
    sys.exit(2)
' ${OPTIMIZERS:-Adam SGD_GCC}
for model in ${MODELS:-resnet18 resnet50 resnet101}; do
  for opt in ${OPTIMIZERS:-Adam SGD_GCC}; do
    case "$opt" in
      SGD*|Adagrad*) config=${SGD_CONFIG:-$repo/configs/gc_sgd_gcc.yml} ;;
      *) config=${ADAM_CONFIG:-$repo/configs/softmax_triplet_with_center.yml} ;;
    esac
    for seed in ${SEEDS:-0}; do
      "$py" "$repo/tools/train.py" --config_file "$config" DATASETS.NAMES "('$dataset')" DATASETS.ROOT_DIR "$data" \
        MODEL.NAME "$model" SOLVER.OPTIMIZER_NAME "$opt" SOLVER.SEED "$seed" SOLVER.RESUME auto \
        OUTPUT_DIR "$out/$dataset/$model/$opt/seed$seed" "$@"
    done
  done
done
"$py" "$repo/tools/summarize.py" "$out"
