# Sourced by the per-dataset scripts: run_dataset NAME LR DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]
# Trains the strong baseline with SGD_GCC at the GC paper's ReID settings (lr LR, weight decay 0.002 for
# weights and biases) and with Adam at the strong baseline's, then tests each best model with and
# without re-ranking. Extra KEY VALUE pairs go to every command (e.g. MODEL.NAME resnet101).
set -euo pipefail

run_dataset() {
  local name=$1 lr=$2 data=$3 out=$4
  shift 4
  local repo
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  local py=${PYTHON:-python3}
  local common=(DATASETS.NAMES "('$name')" DATASETS.ROOT_DIR "$data")
  local run
  for run in sgd_gcc adam; do
    local config=$repo/configs/softmax_triplet_with_center.yml
    local extra=()
    if [ "$run" = sgd_gcc ]; then
      config=$repo/configs/gc_sgd_gcc.yml
      extra=(SOLVER.BASE_LR "$lr")
    fi
    local dir=$out/$name/$run
    "$py" "$repo/tools/train.py" --config_file "$config" "${common[@]}" OUTPUT_DIR "$dir" "${extra[@]}" "$@"
    local rr
    for rr in no yes; do
      "$py" "$repo/tools/test.py" --config_file "$config" "${common[@]}" OUTPUT_DIR "$dir" "${extra[@]}" "$@" \
        TEST.WEIGHT "$dir/model_best.pt" TEST.RE_RANKING "$rr"
    done
  done
}
