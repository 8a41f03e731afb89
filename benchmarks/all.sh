#!/usr/bin/env bash
# Run every benchmark on this machine's default device and keep each table in OUTDIR/<name>.txt.
# usage: benchmarks/all.sh OUTDIR [--quick]     (--quick: fewer repeats, for a time-limited GPU lease)
set -uo pipefail
out=${1:?usage: $0 OUTDIR [--quick]}
quick=${2:-}
mkdir -p "$out"
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
repeats=50; tp_repeats=3
if [ "$quick" = --quick ]; then repeats=20; tp_repeats=3; fi
run() {  # name timeout-seconds command...
  local name=$1 limit=$2
  shift 2
  echo "== $name: $*"
  timeout "$limit" "$@" >"$out/$name.txt" 2>&1
  echo "   exit $? ($(tail -n 1 "$out/$name.txt"))"
}
"$py" -c "import torch; print(torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"
run optim_step 200 "$py" benchmarks/optim_step.py --repeats "$repeats"
run evaluation 200 "$py" benchmarks/evaluation.py --parts a,c
run train_throughput 240 "$py" benchmarks/train_throughput.py --modes fp32,amp --repeats "$tp_repeats" --data /tmp/reid_bench_data
run train_compile 200 "$py" benchmarks/train_throughput.py --modes amp,amp_compile --repeats 2 --data /tmp/reid_bench_data
