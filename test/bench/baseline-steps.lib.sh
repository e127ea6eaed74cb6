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
