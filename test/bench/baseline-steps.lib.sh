# Sourced by the shell baselines (shell-baseline.sh, disk-baseline.sh): the
# tool check, the work-folder check and the step clock, printing the records
# shell-baseline.parser.ts reads.

# require_args USAGE ARG…: exactly two arguments (the evidence and the work folder), else the usage and exit 2.
require_args() {
  if [ "$#" -ne 3 ]; then
    echo "usage: $0 $1" >&2
    exit 2
  fi
}

# require_tools TOOL…: prints `baseline-missing TOOL` for each one not on the PATH and exits 3 if any is.
require_tools() {
  local missing=0 tool
  for tool in "$@"; do
    if ! command -v "$tool" > /dev/null 2>&1; then
      echo "baseline-missing $tool"
      missing=1
    fi
  done
  [ "$missing" -eq 0 ] || exit 3
}

# require_empty_work DIR: the work folder must be empty or absent.
require_empty_work() {
  if [ -e "$1" ] && [ -n "$(ls -A "$1")" ]; then
    echo "$0: $1 is not empty" >&2
    exit 2
  fi
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# start_steps, then step_done NAME after each step (`baseline-step NAME MS`), then steps_total (`baseline-total MS`).
start_steps() {
  started=$(now_ms)
  step_started=$started
}
step_done() {
  local t
  t=$(now_ms)
  echo "baseline-step $1 $((t - step_started))"
  step_started=$t
}
steps_total() {
  echo "baseline-total $(($(now_ms) - started))"
}

# The steps the baselines share, so each is written once. Every one writes its
# output under the work folder; the caller times it with step_done.

# hash_file FILE OUT: MD5, SHA-1 and SHA-256 of one file (the evidence as received).
hash_file() {
  hashdeep -c md5,sha1,sha256 -b "$1" > "$2"
}

# hash_tree DIR OUT: MD5, SHA-1 and SHA-256 of every file under DIR with two
# threads; -l: paths relative to DIR, as an examiner would file them.
hash_tree() {
  (cd "$1" && hashdeep -c md5,sha1,sha256 -j 2 -r -l .) > "$2"
}

# recover_files IMAGE DIR: every allocated file of a disk image copied out with
# The Sleuth Kit (the image has no deleted files; -e would add unallocated
# space), then `baseline-files N`.
recover_files() {
  tsk_recover -a "$1" "$2" > /dev/null
  echo "baseline-files $(find "$2" -type f | wc -l)"
}

# read_metadata DIR OUT: every file's metadata in one exiftool run (it walks the
# folder itself), as JSON. A file exiftool cannot read is recorded, not fatal.
read_metadata() {
  exiftool -json -r -q -q "$1" > "$2" || echo "baseline-failed exiftool 1"
}

# find_photos DIR: the photos under DIR, NUL-separated.
find_photos() {
  find "$1" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.heic' -o -iname '*.tif' -o -iname '*.tiff' -o -iname '*.webp' \) -print0
}

# thumbnail_photos DIR THUMBS: a 320-px (longer edge) thumbnail of every photo
# under DIR, two vipsthumbnail processes at a time, ten photos each; the
# photos without one are counted in `baseline-failed vipsthumbnail N`.
thumbnail_photos() {
  local photos thumbs out
  # vipsthumbnail reads a relative -o against each photo's own folder.
  out=$(cd "$2" && pwd)
  photos=$(find_photos "$1" | tr -cd '\0' | wc -c)
  # vipsthumbnail exits 255 when a photo fails, and xargs starts no more
  # batches after a 255: `|| exit 1` lets the rest run (xargs then exits 123);
  # the photos left without a thumbnail are counted below, the run goes on.
  find_photos "$1" | xargs -0 -r -n 10 -P 2 sh -c 'vipsthumbnail -s 320 -o "$0" "$@" || exit 1' "$out/%s.jpg" || true
  thumbs=$(find "$out" -type f -name '*.jpg' | wc -l)
  [ "$thumbs" -ge "$photos" ] || echo "baseline-failed vipsthumbnail $((photos - thumbs))"
}
