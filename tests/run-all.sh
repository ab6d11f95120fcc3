#!/usr/bin/env bash
# The whole test suite: builds herald three ways and runs ctest in each,
# then fuzzes.
#   build/        normal (RelWithDebInfo)    every test
#   build-asan/   ASan + UBSan (+ LSan)      every test
#   build-tsan/   ThreadSanitizer            every test
#   build-fuzz/   clang, libFuzzer + ASan + UBSan: each harness in fuzz/
#                 runs HERALD_FUZZ_SECONDS (default 30) on seeds made
#                 now; any finding fails (fuzz/run.sh, README "Fuzzing")
# Usage: tests/run-all.sh [normal|asan|tsan|fuzz ...]   (default: all four)
# HERALD_TESTDATA overrides where the shared corpora are read from.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
testdata=${HERALD_TESTDATA:-$root/../shared/testdata}
jobs=$(nproc 2>/dev/null || echo 2)
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(normal asan tsan fuzz)

if [ ! -d "$testdata" ]; then
  echo "WARNING: $testdata not found: the conformance tests will be SKIPPED" >&2
fi

status=0
# format is mechanical: the C sources must be as clang-format leaves them
if command -v clang-format >/dev/null; then
  echo "=== clang-format check"
  if ! clang-format --dry-run --Werror lib/*.[ch] cli/*.[ch] tests/*.[ch] tests/servers/*.h bench/*.c fuzz/*.[ch]; then
    echo "clang-format: run clang-format -i on the files above" >&2
    status=1
  fi
else
  echo "WARNING: clang-format not installed: format check SKIPPED" >&2
fi
for c in "${configs[@]}"; do
  if [ "$c" = fuzz ]; then
    if ! command -v clang >/dev/null; then
      echo "WARNING: clang not installed: fuzz stage SKIPPED" >&2
      continue
    fi
    echo "=== fuzz: configure and build in build-fuzz (clang, libFuzzer)"
    CC=clang cmake -S . -B build-fuzz -DHERALD_FUZZ=ON -DHERALD_TESTDATA="$testdata" >/dev/null
    cmake --build build-fuzz -j "$jobs" --target fuzzers >/dev/null
    echo "=== fuzz: each harness ${HERALD_FUZZ_SECONDS:-30} s"
    HERALD_TESTDATA=$testdata fuzz/run.sh -t "${HERALD_FUZZ_SECONDS:-30}" -b build-fuzz || status=1
    continue
  fi
  case $c in
    normal) dir=build;      san="" ;;
    asan)   dir=build-asan; san=address ;;
    tsan)   dir=build-tsan; san=thread ;;
    *) echo "unknown configuration: $c (normal, asan, tsan, fuzz)" >&2; exit 64 ;;
  esac
  echo "=== $c: configure and build in $dir"
  cmake -S . -B "$dir" -DHERALD_SANITIZE="$san" -DHERALD_TESTDATA="$testdata" >/dev/null
  cmake --build "$dir" -j "$jobs" >/dev/null
  echo "=== $c: ctest"
  # sanitizer reports fail the test that triggers them
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
       ctest --test-dir "$dir" --output-on-failure -j "$jobs"; then
    status=1
  fi
done
exit $status
