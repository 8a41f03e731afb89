# Sourced by the per-dataset scripts: run_dataset NAME LR DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]
# Trains the strong baseline with SGD_GCC at the GC paper's ReID settings (lr LR, weight decay 0.002 for
# weights and biases) and with Adam at the strong baseline's, then tests each run's last-epoch model
# (the figure papers report; model_best.pt is selected on the test set, so it is not used here) with and
# without re-ranking. Extra KEY VALUE pairs go to every command (e.g. MODEL.NAME resnet101).
# A script may set ADAM_CONFIG (default configs/softmax_triplet_with_center.yml) and DATASET_OPTS (an array
# of KEY VALUE pairs given to every command before the caller's, e.g. the image size of a vehicle dataset).
set -euo pipefail

# The checkpoint of the highest epoch in a run folder (the last epoch's: training always saves it).
last_checkpoint() {
  local best=-1 f n
  for f in "$1"/checkpoint_*.pt; do
    n=${f##*/checkpoint_}
    n=${n%.pt}
    if [[ $n =~ ^[0-9]+$ ]] && (( 10#$n > best )); then best=$((10#$n)); fi
  done
  if (( best < 0 )); then
    echo "error: no checkpoint_<epoch>.pt in $1: did the training finish?" >&2
    return 1
  fi
  echo "$1/checkpoint_$best.pt"
}

run_dataset() {
  local name=$1 lr=$2 data=$3 out=$4
  shift 4
  local repo
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  local py=${PYTHON:-python3}
  local common=(DATASETS.NAMES "('$name')" DATASETS.ROOT_DIR "$data" ${DATASET_OPTS[@]+"${DATASET_OPTS[@]}"})
  local run
  for run in sgd_gcc adam; do
    local config=${ADAM_CONFIG:-$repo/configs/softmax_triplet_with_center.yml}
    local extra=()
    if [ "$run" = sgd_gcc ]; then
      config=$repo/configs/gc_sgd_gcc.yml
      extra=(SOLVER.BASE_LR "$lr")
    fi
    local dir=$out/$name/$run
    "$py" "$repo/tools/train.py" --config_file "$config" "${common[@]}" OUTPUT_DIR "$dir" ${extra[@]+"${extra[@]}"} "$@"
    local weight rr
    weight=$(last_checkpoint "$dir")
    for rr in no yes; do
      "$py" "$repo/tools/test.py" --config_file "$config" "${common[@]}" OUTPUT_DIR "$dir" \
        ${extra[@]+"${extra[@]}"} "$@" TEST.WEIGHT "$weight" TEST.RE_RANKING "$rr"
    done
  done
}
