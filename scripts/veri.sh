#!/usr/bin/env bash
# VeRi-776 (ROOT/veri/image_train, image_query, image_test), 256x256 images (configs/veri.yml).
# usage: scripts/veri.sh DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]
# SGD_GCC (lr 0.03, weight decay 0.002) and Adam (strong baseline), each run's last epoch tested with and
# without re-ranking.
source "$(dirname "$0")/_dataset.sh"
data=${1:?usage: $0 DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]}
out=${2:?usage: $0 DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]}
shift 2
ADAM_CONFIG=$(cd "$(dirname "$0")/.." && pwd)/configs/veri.yml
DATASET_OPTS=(INPUT.SIZE_TRAIN "[256, 256]" INPUT.SIZE_TEST "[256, 256]")
run_dataset veri 0.03 "$data" "$out" "$@"
