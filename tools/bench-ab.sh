#!/bin/bash
# bench-ab.sh A B OUT NAME [fpx-tune bench arguments] - on the GPU machine:
# the same `fpx-tune bench` with two device bundles (directories made by
# `make device-bundle`, e.g. the previous build copied aside), A then B in
# one session, then tools/bench-compare.py's table (time A / time B above 1:
# B is faster). Writes OUT/NAME-a.csv/.log and OUT/NAME-b.csv/.log.
set -u
a=${1:?usage: tools/bench-ab.sh A B OUT NAME [bench args]}
b=${2:?}
out=${3:?}
name=${4:?}
shift 4
mkdir -p "$out"
"$a/run" fpx-tune bench "$@" --csv "$out/$name-a.csv" > "$out/$name-a.log" 2>&1 || echo "$name A: exit status $?"
"$b/run" fpx-tune bench "$@" --csv "$out/$name-b.csv" > "$out/$name-b.log" 2>&1 || echo "$name B: exit status $?"
python3 "$(dirname "$0")/bench-compare.py" "$out/$name-a.csv" "$out/$name-b.csv" "$(basename "$a")" "$(basename "$b")"
