#!/usr/bin/env bash
# Market-1501 (ROOT/market1501/...).
# usage: scripts/market1501.sh DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]
# SGD_GCC (lr 0.03, weight decay 0.002) and Adam (strong baseline),
# each run's last epoch tested with and without re-ranking.
source "$(dirname "$0")/_dataset.sh"
data=${1:?usage: $0 DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]}
out=${2:?usage: $0 DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]}
shift 2
run_dataset market1501 0.03 "$data" "$out" "$@"
