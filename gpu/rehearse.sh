#!/usr/bin/env bash
# The GPU job rehearsed on the CPU (gpu/README.md), with the tiny smoke profile:
#   1. bundle it from a temporary copy of the project (the real dataset, or --synthetic);
#   2. job 1 and job 2 as a GPU slot runs them: each in a "machine" folder that receives only
#      job/ and that job's part, with JOB_PYTHON (default: the project's Python);
#   3. import the archive job 2 returned into the project copy, build the report from it, and
#      check that build against the numbers just frozen (same inputs: every number exact).
# Usage: gpu/rehearse.sh [--synthetic]
#        JOB_PYTHON=/path/to/python3.12 gpu/rehearse.sh   (the job under another Python and torch)
#        JOB_ARGS="--precision bf16 --compile on" gpu/rehearse.sh   (the choices a GPU takes first)
# Prints the seconds of each step; exits non-zero at the first step that fails.
set -euo pipefail
project="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-$project/.venv/bin/python}"
job_py="${JOB_PYTHON:-$py}"
if [ "${1:-}" = "--synthetic" ]; then
  data=(--synthetic)
else
  data=(--data-dir "${CIFAR100_DIR:-$project/../shared/data}")
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
last=$(date +%s.%N)
step() {  # step NAME: the seconds since the last step
  now=$(date +%s.%N)
  awk -v name="$1" -v a="$now" -v b="$last" 'BEGIN { printf "%-28s %6.1f s\n", name, a - b }'
  last=$now
}

mkdir "$tmp/project"
(cd "$project" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$tmp/project")
step "copy the project"
(cd "$tmp/project" && "$py" build.py bundle --profile smoke --out "$tmp/bundle" "${data[@]}" >"$tmp/bundle.log")
du -sh "$tmp"/bundle/job "$tmp"/bundle/part* | sed 's/^/  /'
step "bundle"

upload() {  # upload PART: job/ and one part into the machine folder, as a slot's carry does
  rm -rf "$tmp/machine/job" "$tmp/machine/part$1"
  mkdir -p "$tmp/machine"
  cp -r "$tmp/bundle/job" "$tmp/bundle/part$1" "$tmp/machine/"
}
upload 1
(cd "$tmp/machine/job" && "$job_py" run.py --part-only 1 --out "$tmp/out1")
rm -rf "$tmp/machine/part1"  # job 2 uploads only part 2: part 1 must come from job 1's store
step "job 1 (store part 1)"
upload 2
# shellcheck disable=SC2086 # JOB_ARGS is a list of options
(cd "$tmp/machine/job" && "$job_py" run.py --out "$tmp/out2" --time-limit 900 ${JOB_ARGS:-})
step "job 2 (train, evaluate)"
ls -la "$tmp/out2" | sed 's/^/  /'
sed 's/^/  run.log: /' "$tmp/out2/run.log"  # the self-check, every epoch's rate, the projection

cd "$tmp/project"
"$py" build.py import "$tmp/out2/results-smoke.tar" --profile smoke --replace | tail -n 1
step "import"
"$py" build.py --profile smoke | tail -n 1
step "build the report"
"$py" build.py check --profile smoke --against frozen | tail -n 1
step "check against frozen"
test -s out/smoke/report.pdf && test -s out/smoke/site/index.html
echo "rehearsal passed: job under $("$job_py" -c 'import sys, torch; print(f"Python {sys.version.split()[0]}, torch {torch.__version__}")')"
