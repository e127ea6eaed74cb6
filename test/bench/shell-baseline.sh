#!/usr/bin/env bash
# What an examiner without Exhibit would run on a phone extraction, with
# standard tools, timed step by step: the shell baseline of `npm run bench`
# (see docs/benchmarks.md). Usage:
#
#   test/bench/shell-baseline.sh ARCHIVE.zip WORK_DIR
#
# WORK_DIR must be empty or absent; the members, hash lists, metadata and
# thumbnails are written there (the bench removes it afterwards). FFMPEG names
# the ffmpeg to run (default: ffmpeg on the PATH), so both sides of the bench
# can use the same build.
#
# The steps run one after another, as a script would: hash the archive (MD5,
# SHA-1, SHA-256), unzip it, hash the members with two threads, read every
# member's metadata with exiftool, thumbnail the photos two vipsthumbnail
# processes at a time (320 px on the longer edge), and take one frame of each
# video with ffmpeg. Output, one record a line, for test/bench/shell-baseline.parser.ts:
#
#   baseline-step NAME MS       wall milliseconds of one step
#   baseline-files N            regular files unzipped
#   baseline-total MS           wall milliseconds of all steps
#   baseline-missing TOOL       a tool is not on the PATH (exit status 3)
#   baseline-failed STEP N      N invocations of a step failed (the run goes on)
#
# and, last, the output of the shell's `times` builtin (CPU of the shell and
# of all the tools it waited for).
set -euo pipefail

# shellcheck source=test/bench/baseline-steps.lib.sh
source "${BASH_SOURCE[0]%/*}/baseline-steps.lib.sh"
require_args "ARCHIVE.zip WORK_DIR" "$@"
archive=$1
work=$2
ffmpeg=${FFMPEG:-ffmpeg}

require_tools hashdeep unzip exiftool vipsthumbnail "$ffmpeg"

require_empty_work "$work"
mkdir -p "$work/members" "$work/thumbnails"

start_steps

hash_file "$archive" "$work/archive.hashdeep"
step_done hash-archive

unzip -q "$archive" -d "$work/members"
step_done unzip
echo "baseline-files $(find "$work/members" -type f | wc -l)"

hash_tree "$work/members" "$work/members.hashdeep"
step_done hash-members

read_metadata "$work/members" "$work/metadata.json"
step_done exiftool

thumbnail_photos "$work/members" "$work/thumbnails"
step_done thumbnails

videos=$(find "$work/members" -type f \( -iname '*.mp4' -o -iname '*.mov' -o -iname '*.m4v' -o -iname '*.3gp' \) | wc -l)
export ffmpeg work
find "$work/members" -type f \( -iname '*.mp4' -o -iname '*.mov' -o -iname '*.m4v' -o -iname '*.3gp' \) -print0 |
  xargs -0 -r -n 1 -P 2 sh -c '"$ffmpeg" -nostdin -v error -i "$1" -frames:v 1 -vf "scale=320:320:force_original_aspect_ratio=decrease" -y "$work/thumbnails/$(basename "$1").frame.jpg"' frame || true
frames=$(find "$work/thumbnails" -type f -name '*.frame.jpg' | wc -l)
[ "$frames" -ge "$videos" ] || echo "baseline-failed ffmpeg $((videos - frames))"
step_done video-frames

steps_total
times
