#!/usr/bin/env bash
# The whole test suite: builds herald three ways and runs ctest in each.
#   build/        normal (RelWithDebInfo)    every test
#   build-asan/   ASan + UBSan (+ LSan)      every test
#   build-tsan/   ThreadSanitizer            every test
# Usage: tests/run-all.sh [normal|asan|tsan ...]   (default: all three)
# HERALD_TESTDATA overrides where the shared corpora are read from.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
testdata=${HERALD_TESTDATA:-$root/../shared/testdata}
jobs=$(nproc 2>/dev/null || echo 2)
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(normal asan tsan)

if [ ! -d "$testdata" ]; then
  echo "WARNING: $testdata not found: the conformance tests will be SKIPPED" >&2
fi

status=0
# format is mechanical: the C sources must be as clang-format leaves them
if command -v clang-format >/dev/null; then
  echo "=== clang-format check"
  if ! clang-format --dry-run --Werror lib/*.[ch] cli/*.[ch] tests/*.[ch] tests/servers/*.h bench/*.c; then
    echo "clang-format: run clang-format -i on the files above" >&2
    status=1
  fi
else
  echo "WARNING: clang-format not installed: format check SKIPPED" >&2
fi
for c in "${configs[@]}"; do
  case $c in
    normal) dir=build;      san="" ;;
    asan)   dir=build-asan; san=address ;;
    tsan)   dir=build-tsan; san=thread ;;
    *) echo "unknown configuration: $c" >&2; exit 64 ;;
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
