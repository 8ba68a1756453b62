#!/usr/bin/env bash
# capplan offline kit: measure this host with the plan packed beside this script (`capplan pack`).
#
#   ./run.sh [--out DIR] [--budget SECONDS] [--cuda auto|on|off] [--build-only]
#
# Steps: check the host (nvidia-smi, driver, free GPU memory, disk) -> use the llama-server that came along,
# or build one from the packed llama.cpp source (CUDA when nvcc and a GPU are here) -> record nvidia-smi
# telemetry in the background -> for each step of schedule.tsv (most valuable first) synthesize the model
# and run `capplan bench --engine llamacpp`, skipping what no longer fits the budget and interrupting a step
# at the deadline (bench keeps every finished level) -> `capplan estimate --from` each result -> summary.
# Everything lands in one output folder: results/, estimates/, logs/, host.txt, telemetry.csv, summary.md.
# Exit codes: 0 done (steps may be skipped for time: see summary.md), 3 bad arguments, 4 something
# needed is missing (Node.js >= 20.5, cmake, nvcc for --cuda on), 7 not enough disk, 8 llama.cpp build or
# every bench step failed.
set -uo pipefail

KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=/dev/null
. "$KIT/kit.env"

OUT=""
CUDA_MODE="auto"
BUILD_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="${2:-}"; shift 2 ;;
    --budget) BUDGET_SECONDS="${2:-}"; shift 2 ;;
    --cuda) CUDA_MODE="${2:-}"; shift 2 ;;
    --build-only) BUILD_ONLY=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see ./run.sh --help)" >&2; exit 3 ;;
  esac
done
case "$BUDGET_SECONDS" in ''|*[!0-9]*|0) echo "run.sh: --budget must be whole seconds above 0, not '$BUDGET_SECONDS'" >&2; exit 3 ;; esac
case "$CUDA_MODE" in auto|on|off) ;; *) echo "run.sh: --cuda must be auto, on or off, not '$CUDA_MODE'" >&2; exit 3 ;; esac

[ -n "$OUT" ] || OUT="$KIT/out-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT/results" "$OUT/estimates" "$OUT/logs" || { echo "run.sh: cannot create $OUT" >&2; exit 3; }
OUT="$(cd "$OUT" && pwd)"
START=$(date +%s)
DEADLINE=$((START + BUDGET_SECONDS))
now() { date +%s; }
log() { printf '[run.sh %4ss] %s\n' "$(($(now) - START))" "$*" | tee -a "$OUT/logs/run.log" >&2; }
die() { local code="$1"; shift; log "ERROR: $*"; exit "$code"; }

# --- Node.js: the kit's own (pack --with-node), else the host's --------------------------------------
NODE="$KIT/node/bin/node"
[ -x "$NODE" ] || NODE="$(command -v node || true)"
[ -n "$NODE" ] || die 4 "Node.js is not here: install Node.js >= 20.5, or pack the kit with --with-node."
NODE_VERSION="$("$NODE" -p 'process.versions.node' 2>/dev/null || true)"
"$NODE" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=5)?0:1)' 2>/dev/null ||
  die 4 "Node.js $NODE_VERSION at $NODE is too old: capplan needs >= 20.5 (or pack the kit with --with-node)."
capplan() { "$NODE" "$KIT/capplan/bin/capplan.mjs" "$@"; }
PROFILE_ARGS=()
[ -d "$KIT/profiles-extra" ] && PROFILE_ARGS=(--profiles "$KIT/profiles-extra")
export CAPPLAN_CACHE_DIR="${CAPPLAN_CACHE_DIR:-$OUT/cache}"
log "kit $KIT_ID, plan: $MODEL ${QUANTS} at concurrency ${LADDER}, ${INPUT_TOKENS}+${OUTPUT_TOKENS} tokens, budget ${BUDGET_SECONDS}s; output $OUT"

# --- 1. the host ----------------------------------------------------------------------------------------
GPU_PRESENT=0
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -n) $(uname -srm)"
  echo "cpus: $(nproc 2>/dev/null || echo unknown)"
  echo "memory: $(awk '/MemTotal/ {print $2 " kB total"} /MemAvailable/ {print $2 " kB available"}' /proc/meminfo 2>/dev/null | paste -sd, -)"
  echo "node: $NODE_VERSION ($NODE)"
  echo "disk free at $OUT: $(df -Pk "$OUT" | awk 'NR==2 {print $4 " kB"}')"
} > "$OUT/host.txt"
if command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi -L > /dev/null 2>&1; then
  GPU_PRESENT=1
  echo "nvidia-smi: present" >> "$OUT/host.txt"
  nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used,memory.free,power.limit --format=csv >> "$OUT/host.txt" 2>&1
  FREE_MIB=$(nvidia-smi --query-gpu=memory.free --format=csv,noheader,nounits 2>/dev/null | sort -n | tail -1)
  NEED_MIB=$(((LARGEST_MODEL_BYTES / 1048576) + 2048))
  if [ -n "$FREE_MIB" ] && [ "$FREE_MIB" -lt "$NEED_MIB" ]; then
    log "WARNING: the freest GPU has $FREE_MIB MiB free; the largest model needs about $NEED_MIB MiB (weights + 2 GiB): llama-server may not fit it"
  fi
else
  echo "nvidia-smi: absent (no NVIDIA GPU telemetry; llama-server runs on the CPU unless it finds another device)" >> "$OUT/host.txt"
fi
FREE_KB=$(df -Pk "$OUT" | awk 'NR==2 {print $4}')
NEED_KB=$((NEED_DISK_BYTES / 1024))
[ "$FREE_KB" -ge "$NEED_KB" ] || die 7 "$OUT has $((FREE_KB / 1024)) MiB free; the plan's synthetic models need $((NEED_KB / 1024)) MiB. Free space or give --out on a larger disk."
log "host: $(uname -n), $(nproc) CPUs, $([ $GPU_PRESENT = 1 ] && echo 'nvidia-smi present' || echo 'nvidia-smi absent'), $((FREE_KB / 1024)) MiB free disk (need $((NEED_KB / 1024)))"

# --- 2. llama-server: the one that came along if it runs here, else build it ---------------------------
SERVER="$KIT/llama.cpp/bin/llama-server"
server_works() { [ -x "$1" ] && "$1" --version > /dev/null 2>&1; }
build_llama_server() {
  local src="$KIT/llama.cpp/src" build="$OUT/llama.cpp-build" backend="cpu"
  [ -f "$src/CMakeLists.txt" ] || die 4 "no working llama-server came along and the kit has no llama.cpp source: pack it with --llama source or both."
  command -v cmake > /dev/null 2>&1 || die 4 "cmake is not on PATH: it is needed to build llama.cpp here (apt-get install cmake g++)."
  if [ "$CUDA_MODE" = on ] || { [ "$CUDA_MODE" = auto ] && [ $GPU_PRESENT = 1 ]; }; then
    if command -v nvcc > /dev/null 2>&1; then backend="cuda"
    elif [ "$CUDA_MODE" = on ]; then die 4 "--cuda on: nvcc (the CUDA compiler) is not on PATH, so llama-server cannot be built with CUDA. Put the CUDA toolkit's bin/ on PATH, or run with --cuda off for a CPU build."
    else log "WARNING: a GPU is here but nvcc is not on PATH: building llama-server for the CPU"; fi
  fi
  local flags=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF
    -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_NATIVE=ON)
  # ggml's AMX matmul crashed capplan's CI (see capplan's engines/llamacpp/build.ts): off on x86-64.
  [ "$(uname -m)" = x86_64 ] && flags+=("-DCMAKE_C_FLAGS=$AMX_OFF_FLAGS" "-DCMAKE_CXX_FLAGS=$AMX_OFF_FLAGS")
  if [ "$backend" = cuda ]; then flags+=(-DGGML_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCH"); else flags+=(-DGGML_CUDA=OFF); fi
  local generator=()
  command -v ninja > /dev/null 2>&1 && generator=(-G Ninja)
  log "building llama-server ($backend$([ "$backend" = cuda ] && echo ", sm_$CUDA_ARCH")) from $src; log: $OUT/logs/build.log"
  echo "$ cmake -S $src -B $build ${generator[*]} ${flags[*]}" >> "$OUT/logs/build.log"
  if ! cmake -S "$src" -B "$build" "${generator[@]}" "${flags[@]}" >> "$OUT/logs/build.log" 2>&1; then
    # The first CMake error says what is missing (e.g. CUDA::cublas: a CUDA toolkit without its libraries).
    log "$(grep -m1 -A4 'CMake Error' "$OUT/logs/build.log" | tr -s ' \n' ' ')"
    die 8 "cmake could not configure llama.cpp (backend $backend; the CMake error is above): read $OUT/logs/build.log"
  fi
  log "configured llama.cpp ($backend)"
  if [ "${KIT_BUILD_STOP_AFTER:-}" = configure ]; then log "KIT_BUILD_STOP_AFTER=configure: stopping before the compile"; exit 0; fi
  cmake --build "$build" --config Release --target llama-server -j "$(nproc)" >> "$OUT/logs/build.log" 2>&1 ||
    die 8 "compiling llama-server failed (backend $backend): read $OUT/logs/build.log"
  SERVER="$build/bin/llama-server"
  server_works "$SERVER" || die 8 "the build finished but $SERVER does not run: read $OUT/logs/build.log"
  log "built $SERVER"
}
if server_works "$SERVER" && [ "$BUILD_ONLY" = 0 ]; then
  log "llama-server: the one that came along ($SERVER_BACKEND build), $("$SERVER" --version 2>&1 | grep -m1 version || true)"
  if [ "$SERVER_BACKEND" = cpu ] && [ $GPU_PRESENT = 1 ]; then log "WARNING: a GPU is here but the packed llama-server is a CPU build: these are CPU numbers"; fi
else
  [ -x "$SERVER" ] && [ "$BUILD_ONLY" = 0 ] && log "the llama-server that came along does not run here: building one"
  build_llama_server
  [ "$BUILD_ONLY" = 1 ] && exit 0
fi

# --- 3. telemetry: nvidia-smi every second, in the background -------------------------------------------
TELEMETRY_PID=""
if [ $GPU_PRESENT = 1 ]; then
  nvidia-smi --query-gpu=timestamp,index,power.draw,utilization.gpu,memory.used,temperature.gpu,clocks.sm --format=csv -lms 1000 > "$OUT/telemetry.csv" 2> "$OUT/logs/telemetry.log" &
  TELEMETRY_PID=$!
  TELEMETRY="telemetry.csv (nvidia-smi every 1 s)"
else
  echo "nvidia-smi absent: no GPU telemetry recorded" > "$OUT/telemetry.txt"
  TELEMETRY="absent (no nvidia-smi on this host)"
fi
stop_telemetry() { [ -n "$TELEMETRY_PID" ] && kill "$TELEMETRY_PID" 2> /dev/null; TELEMETRY_PID=""; }
trap 'stop_telemetry' EXIT

# --- 4. the plan, most valuable first --------------------------------------------------------------------
COST_GPU="cpu"
[ $GPU_PRESENT = 1 ] && [ -n "$GPU_PROFILE" ] && COST_GPU="$GPU_PROFILE"
printf 'step\tquant\tconcurrency\tstatus\texit\tseconds\tresult\n' > "$OUT/steps.tsv"
OK_STEPS=0
while IFS=$'\t' read -r STEP QUANT LEVELS ESTIMATE; do
  [ -n "$STEP" ] || continue
  LEFT=$((DEADLINE - $(now)))
  if [ "$LEFT" -lt "$ESTIMATE" ]; then
    log "step $STEP ($QUANT, concurrency $LEVELS): skipped, ${LEFT}s left and it needs about ${ESTIMATE}s"
    printf '%s\t%s\t%s\tskipped (budget)\t-\t0\t-\n' "$STEP" "$QUANT" "$LEVELS" >> "$OUT/steps.tsv"
    continue
  fi
  T0=$(now)
  log "step $STEP: synthesize $MODEL $QUANT, bench concurrency $LEVELS (${LEVEL_SECONDS}s each; ${LEFT}s left)"
  capplan model synth --model "$MODEL" --quant "$QUANT" "${PROFILE_ARGS[@]}" >> "$OUT/logs/synth.log" 2>&1 ||
    { log "step $STEP: model synth failed (logs/synth.log)"; printf '%s\t%s\t%s\tfailed (synth)\t-\t%s\t-\n' "$STEP" "$QUANT" "$LEVELS" $(($(now) - T0)) >> "$OUT/steps.tsv"; continue; }
  LEFT=$((DEADLINE - $(now)))
  BEFORE="$(ls "$OUT/results"/*.json 2> /dev/null)"
  # At the deadline bench gets SIGINT: it saves the finished levels (status interrupted) and exits 130.
  timeout --signal=INT --kill-after=30 "$LEFT" "$NODE" "$KIT/capplan/bin/capplan.mjs" bench --engine llamacpp --server-bin "$SERVER" \
    --model "$MODEL" --quant "$QUANT" --concurrency "$LEVELS" --duration "${LEVEL_SECONDS}s" --requests 100000 \
    --input-tokens "$INPUT_TOKENS" --output-tokens "$OUTPUT_TOKENS" --gpu "$COST_GPU" --results-dir "$OUT/results" \
    --on-error continue "${PROFILE_ARGS[@]}" --json > "$OUT/logs/step-$STEP.json" 2> "$OUT/logs/step-$STEP.log"
  CODE=$?
  FILE="$(ls "$OUT/results"/*.json 2> /dev/null | grep -vxF -- "$BEFORE" | head -1)"
  case $CODE in 0) STATUS=complete ;; 130|124) STATUS="interrupted (deadline)" ;; 9) STATUS=partial ;; *) STATUS="failed" ;; esac
  # The deadline can come just after bench saved every level: then the file, not the exit code, is the truth.
  if [ "$STATUS" = "interrupted (deadline)" ] && [ -n "$FILE" ] &&
    [ "$("$NODE" -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).status))' "$FILE" 2> /dev/null)" = complete ]; then
    STATUS="complete (deadline at exit)"
  fi
  # A step that left a result file measured something (an interrupted one keeps its finished levels).
  [ -n "$FILE" ] && [ "$STATUS" != failed ] && OK_STEPS=$((OK_STEPS + 1))
  log "step $STEP: $STATUS (exit $CODE) in $(($(now) - T0))s${FILE:+, $(basename "$FILE")}"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$STEP" "$QUANT" "$LEVELS" "$STATUS" "$CODE" $(($(now) - T0)) "${FILE:+$(basename "$FILE")}" >> "$OUT/steps.tsv"
done < "$KIT/schedule.tsv"
stop_telemetry

# --- 5. estimate --from each result, then the summary ------------------------------------------------
for RESULT in "$OUT/results"/*.json; do
  [ -f "$RESULT" ] || continue
  NAME="$(basename "$RESULT" .json)"
  # On a GPU host: the measured levels against that GPU's roofline (efficiency per level); on a CPU host:
  # what they scale to on the plan's GPU (h100-sxm when the plan names none).
  EST_GPU="$COST_GPU"
  [ "$EST_GPU" = cpu ] && EST_GPU="${GPU_PROFILE:-h100-sxm}"
  capplan estimate --from "$RESULT" --gpu "$EST_GPU" "${PROFILE_ARGS[@]}" > "$OUT/estimates/$NAME.txt" 2> "$OUT/logs/estimate-$NAME.log" ||
    log "estimate --from $NAME failed (logs/estimate-$NAME.log)"
done
capplan report "$OUT/results" --format md "${PROFILE_ARGS[@]}" > "$OUT/report.md" 2> "$OUT/logs/report.log" || log "capplan report failed (logs/report.log)"
{
  echo "# capplan kit run on $(uname -n)"
  echo
  echo "Plan: $MODEL $QUANTS, concurrency $LADDER, $INPUT_TOKENS input + $OUTPUT_TOKENS output tokens, ${LEVEL_SECONDS}s per level."
  echo "Budget ${BUDGET_SECONDS}s, used $(($(now) - START))s. llama-server: $SERVER. GPU telemetry: $TELEMETRY."
  echo
  echo "| step | quant | concurrency | status | exit | seconds | result |"
  echo "|---|---|---|---|---|---|---|"
  tail -n +2 "$OUT/steps.tsv" | awk -F'\t' '{print "| " $1 " | " $2 " | " $3 " | " $4 " | " $5 " | " $6 " | " $7 " |"}'
  echo
  echo "Result files: results/; estimates (capplan estimate --from): estimates/; the report: report.md; logs: logs/."
} > "$OUT/summary.md"
log "done: $OK_STEPS step(s) measured; summary: $OUT/summary.md"
[ "$OK_STEPS" -gt 0 ] || exit 8
exit 0
