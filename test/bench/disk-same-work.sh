#!/usr/bin/env bash
# The same-work reference of `npm run bench:disk` (see docs/benchmarks.md):
# the shell baseline (disk-baseline.sh: copy the files out with The
# Sleuth Kit, hash them) plus the per-file work Exhibit also does, with the
# standard tools an examiner would use: hash the image itself (Exhibit checks
# the upload's acquisition hash), read every file's metadata with exiftool,
# and thumbnail every photo two vipsthumbnail processes at a time. Exhibit's
# index, custody log, identification and PDQ hashes have no counterpart here.
# Usage:
#
#   test/bench/disk-same-work.sh IMAGE WORK_DIR
#
# WORK_DIR must be empty or absent (the bench removes it afterwards). Output:
# the records of shell-baseline.sh (read by shell-baseline.parser.ts), then
# bash's `times`.
set -euo pipefail

# shellcheck source=test/bench/baseline-steps.lib.sh
source "${BASH_SOURCE[0]%/*}/baseline-steps.lib.sh"
require_args "IMAGE WORK_DIR" "$@"
image=$1
work=$2

require_tools hashdeep tsk_recover exiftool vipsthumbnail

require_empty_work "$work"
mkdir -p "$work/recovered" "$work/thumbnails"

start_steps

hash_file "$image" "$work/image.hashdeep"
step_done hash-image

recover_files "$image" "$work/recovered"
step_done tsk-recover

hash_tree "$work/recovered" "$work/recovered.hashdeep"
step_done hashdeep

read_metadata "$work/recovered" "$work/metadata.json"
step_done exiftool

thumbnail_photos "$work/recovered" "$work/thumbnails"
step_done thumbnails

steps_total
times
