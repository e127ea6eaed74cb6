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

# shellcheck source=test/bench/baseline-steps.lib.sh
source "${BASH_SOURCE[0]%/*}/baseline-steps.lib.sh"
require_args "IMAGE WORK_DIR" "$@"
image=$1
work=$2

require_tools tsk_recover hashdeep

require_empty_work "$work"
mkdir -p "$work/recovered"

start_steps

recover_files "$image" "$work/recovered"
step_done tsk-recover

hash_tree "$work/recovered" "$work/recovered.hashdeep"
step_done hashdeep

steps_total
times
