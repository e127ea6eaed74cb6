#!/usr/bin/env bash
# The shell baseline of `npm run bench:disk` (see docs/benchmarks.md): what an
# examiner without Exhibit would run on a raw disk image, timed step by step:
# copy every allocated and unallocated file out of the image with The Sleuth
# Kit, then hash them all (MD5, SHA-1, SHA-256) with two threads. Usage:
#
#   test/bench/disk-baseline.sh IMAGE WORK_DIR
#
# WORK_DIR must be empty or absent (the bench removes it afterwards). Output,
# one record a line, in the format of shell-baseline.sh (read by
# shell-baseline.parser.ts): baseline-step NAME MS, baseline-files N,
# baseline-total MS, baseline-missing TOOL; then bash's `times`.
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 IMAGE WORK_DIR" >&2
  exit 2
fi
image=$1
work=$2

missing=0
for tool in tsk_recover hashdeep; do
  if ! command -v "$tool" > /dev/null 2>&1; then
    echo "baseline-missing $tool"
    missing=1
  fi
done
[ "$missing" -eq 0 ] || exit 3

if [ -e "$work" ] && [ -n "$(ls -A "$work")" ]; then
  echo "$0: $work is not empty" >&2
  exit 2
fi
mkdir -p "$work/recovered"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
started=$(now_ms)
step_started=$started
step_done() {
  local t
  t=$(now_ms)
  echo "baseline-step $1 $((t - step_started))"
  step_started=$t
}

# -a: allocated files only (the image has no deleted files; -e would add unallocated space).
tsk_recover -a "$image" "$work/recovered" > /dev/null
step_done tsk-recover
echo "baseline-files $(find "$work/recovered" -type f | wc -l)"

hashdeep -c md5,sha1,sha256 -j 2 -r "$work/recovered" > "$work/recovered.hashdeep"
step_done hashdeep

echo "baseline-total $(($(now_ms) - started))"
times
