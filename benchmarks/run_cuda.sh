#!/usr/bin/env bash
# One prepared script for a machine with one CUDA GPU: the CUDA tests, then every benchmark on
# the GPU, each step under its own time limit so that the whole run stays under 8 minutes and a
# slow step cannot take the others' results with it.
#
#   bash benchmarks/run_cuda.sh OUT_DIR            # results under OUT_DIR
#   PYTHON=/path/to/python bash benchmarks/run_cuda.sh OUT_DIR
#   DEVICE=cpu SMOKE=1 bash benchmarks/run_cuda.sh /tmp/x   # the CPU path on tiny sizes (CI-style)
#
# Writes OUT_DIR/env.txt, OUT_DIR/tests.log, OUT_DIR/bench/<name>/{results.json,results.md,log.txt}
# and the merged OUT_DIR/bench/results.{json,md}. The exit status is non-zero if the tests or a
# benchmark failed (a step that hits its time limit counts as failed and says so in its log).
set -uo pipefail
cd "$(dirname "$0")/.."

OUT="${1:?usage: run_cuda.sh OUT_DIR}"
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
DEVICE="${DEVICE:-cuda}"
EXTRA=()
[[ "${SMOKE:-0}" == "1" ]] && EXTRA+=(--smoke)
[[ "${QUICK:-0}" == "1" ]] && EXTRA+=(--quick)
# per-step limits in seconds (sum 470 s < 8 min)
T_TESTS="${T_TESTS:-120}"
declare -A LIMIT=([metrics]=30 [rotations]=30 [info_nce]=20 [miner]=45 [data]=45 [train_step]=180)
ORDER=(metrics rotations info_nce miner data train_step)

mkdir -p "$OUT/bench"
START=$(date +%s)
status=0
{
  date -u
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

if [[ "$DEVICE" == cuda* ]]; then
  echo "== CUDA tests (pytest -m cuda, and the device-parametrised tests' cuda cases; limit ${T_TESTS}s)"
  # -k cuda selects tests named or parametrised with 'cuda' and those marked @pytest.mark.cuda
  timeout "$T_TESTS" "$PY" -m pytest tests -q -p no:cacheprovider -k cuda -o addopts="" > "$OUT/tests.log" 2>&1
  rc=$?
  tail -n 5 "$OUT/tests.log"
  if [[ $rc -eq 124 ]]; then echo "tests: time limit (${T_TESTS}s) reached" | tee -a "$OUT/tests.log"; fi
  # 5 = no test collected (no CUDA-specific test exists): not a failure of this script
  if [[ $rc -ne 0 && $rc -ne 5 ]]; then status=1; fi
fi

for name in "${ORDER[@]}"; do
  lim=${LIMIT[$name]}
  dir="$OUT/bench/$name"
  mkdir -p "$dir"
  echo "== benchmark $name on $DEVICE (limit ${lim}s)"
  timeout "$lim" "$PY" -m benchmarks.run_all --out "$dir" --device "$DEVICE" --only "$name" "${EXTRA[@]}" > "$dir/log.txt" 2>&1
  rc=$?
  grep -E "^\s+(\[|target|check)" "$dir/log.txt" | tail -n 40
  if [[ $rc -eq 124 ]]; then echo "$name: time limit (${lim}s) reached" | tee -a "$dir/log.txt"; status=1
  elif [[ $rc -ne 0 ]]; then echo "$name: exit $rc (see $dir/log.txt)"; status=1; fi
done

"$PY" -m benchmarks.run_all --out "$OUT/bench" --merge "$OUT"/bench/*/results.json
echo "== done in $(( $(date +%s) - START )) s; summary: $OUT/bench/results.md"
exit $status
