#!/usr/bin/env bash
# VehicleID (ROOT/VehicleID_V1.0: image/ and train_test_split/), at 256x256 as configs/vehicleid.yml.
# usage: scripts/vehicleid.sh DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]
# SGD_GCC (lr 0.02, weight decay 0.002) and Adam (strong baseline), each tested with and without re-ranking on
# the small test list (800 vehicles), then without re-ranking on the medium (1600) and large (2400) lists;
# every test averages TEST.REPEATS (10) random gallery draws. Every test uses the last epoch's checkpoint
# (model_best.pt is selected on the small list's test set).
source "$(dirname "$0")/_dataset.sh"
data=${1:?usage: $0 DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]}
out=${2:?usage: $0 DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]}
shift 2
size=(INPUT.SIZE_TRAIN "[256, 256]" INPUT.SIZE_TEST "[256, 256]")
run_dataset vehicleid 0.02 "$data" "$out" "${size[@]}" "$@"
repo=$(cd "$(dirname "$0")/.." && pwd)
for run in sgd_gcc adam; do
  config=$repo/configs/softmax_triplet_with_center.yml
  extra=()
  if [ "$run" = sgd_gcc ]; then
    config=$repo/configs/gc_sgd_gcc.yml
    extra=(SOLVER.BASE_LR 0.02)
  fi
  dir=$out/vehicleid/$run
  weight=$(last_checkpoint "$dir")
  for test_size in 1600 2400; do
    "${PYTHON:-python3}" "$repo/tools/test.py" --config_file "$config" DATASETS.NAMES "('vehicleid')" \
      DATASETS.ROOT_DIR "$data" OUTPUT_DIR "$dir" ${extra[@]+"${extra[@]}"} "${size[@]}" "$@" \
      TEST.WEIGHT "$weight" DATASETS.VEHICLEID.TEST_SIZE "$test_size"
  done
done
