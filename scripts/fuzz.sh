#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz with clang (ASan + UBSan, asserts
# on) into ./build-fuzz, then runs each one on a working copy of its corpus.
#
#   scripts/fuzz.sh [--merge] [--runs N] [--max-len N] [seconds-per-target] [target...]
#
#   seconds-per-target  how long each fuzzer runs (default 60)
#   --runs N            run each fuzzer for N executions instead of a time
#   --max-len N         largest input libFuzzer generates (its default: 4096,
#                       or the largest corpus file)
#   target...           e.g. sigv4 policy (default: every tests/fuzz/*_fuzz.cc)
#   --merge             afterwards, merge what added coverage back into
#                       tests/fuzz/corpus/<target>/ (libFuzzer -merge=1)
#
# Environment: JOBS (build parallelism, default: the number of cores).
# Prints, per target, the executions done, their rate and whether it crashed;
# crash inputs go to build-fuzz/artifacts/, logs to build-fuzz/logs/. Exits
# non-zero when any fuzzer found a crash. Fuzzers run one after another.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

merge=0
seconds=60
runs=""
max_len=()
targets=()
while (($#)); do
  case "$1" in
    --merge) merge=1 ;;
    --runs)
      runs="${2:?--runs needs a count}"
      shift
      ;;
    --runs=*) runs="${1#--runs=}" ;;
    --max-len)
      max_len=(-max_len="${2:?--max-len needs a size}")
      shift
      ;;
    --max-len=*) max_len=(-max_len="${1#--max-len=}") ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      echo "fuzz.sh: unknown option $1" >&2
      usage >&2
      exit 2
      ;;
    *[!0-9]*) targets+=("$1") ;;
    *) seconds="$1" ;;
  esac
  shift
done

if ! command -v clang++ >/dev/null || ! command -v clang >/dev/null; then
  echo "fuzz.sh: clang is not installed; run scripts/setup.sh" >&2
  exit 2
fi

build=build-fuzz
jobs="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
# A build type of our own: -O2 with full debug info and assertions (no NDEBUG),
# so that library asserts (nlohmann's included) are checked too.
# Configured every time (quick when nothing changed), so that the list of
# harnesses below is current.
cmake -S . -B "$build" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_CXX_FLAGS_FUZZ="-O2 -g" -DCMAKE_C_FLAGS_FUZZ="-O2 -g" \
  -DPORTHOLE_SANITIZE=address,undefined,fuzzer-no-link \
  -DPORTHOLE_FUZZ_ENGINE=libfuzzer >/dev/null
# Every harness the libFuzzer build defines (tests/fuzz/CMakeLists.txt says
# which ones are replay-only), or those asked for.
defined() { ninja -C "$build" -t query "${1}_fuzz" >/dev/null 2>&1; }
if ((${#targets[@]} == 0)); then
  for source in tests/fuzz/*_fuzz.cc; do
    name="$(basename "$source" .cc)"
    if defined "${name%_fuzz}"; then
      targets+=("${name%_fuzz}")
    else
      echo "fuzz.sh: skipping ${name%_fuzz} (replay-only, see tests/fuzz/CMakeLists.txt)"
    fi
  done
fi
for t in "${targets[@]}"; do
  if ! defined "$t"; then
    echo "fuzz.sh: no libFuzzer target ${t}_fuzz (no tests/fuzz/${t}_fuzz.cc, or replay-only)" >&2
    exit 2
  fi
done
build_targets=()
for t in "${targets[@]}"; do build_targets+=("${t}_fuzz"); done
cmake --build "$build" -j "$jobs" --target "${build_targets[@]}"

symbolizer="$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || true)"
if [ -n "$symbolizer" ]; then export ASAN_SYMBOLIZER_PATH="$symbolizer"; fi
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

mkdir -p "$build/artifacts" "$build/logs" "$build/corpus"
limit=(-max_total_time="$seconds")
label="$seconds s"
if [ -n "$runs" ]; then
  limit=(-runs="$runs")
  label="$runs executions"
fi

failed=0
summary=()
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  seeds="tests/fuzz/corpus/$t"
  mkdir -p "$work"
  if [ -d "$seeds" ]; then cp -n "$seeds"/* "$work"/ 2>/dev/null || true; fi
  log="$build/logs/$t.log"
  echo "== $t: $label, corpus $work"
  status=0
  "$build/tests/fuzz/${t}_fuzz" "${limit[@]}" ${max_len[@]+"${max_len[@]}"} -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$build/artifacts/$t-" "$work" >"$log" 2>&1 || status=$?
  executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  if ((status != 0)); then
    failed=1
    artifact="$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //')"
    result="CRASH (exit $status${artifact:+, input $artifact}; log $log)"
    tail -n 40 "$log" >&2
  else
    result="ok"
  fi
  summary+=("$(printf '%-18s %14s execs %8s exec/s  %s' "$t" "${executions:-?}" "${rate:-?}" "$result")")
  if ((merge && status == 0)); then
    mkdir -p "$seeds"
    "$build/tests/fuzz/${t}_fuzz" -merge=1 -timeout=10 -rss_limit_mb=2048 "$seeds" "$work" \
      >"$build/logs/$t.merge.log" 2>&1
    echo "   merged: $(ls "$seeds" | wc -l) files in $seeds"
  fi
done

echo
echo "fuzz summary ($label per target):"
printf '  %s\n' "${summary[@]}"
exit "$failed"
