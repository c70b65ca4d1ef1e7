#!/bin/sh
# Compares the staged search with the exhaustive one on a sample of keys
# (GPU machine, tree with bundle/): prints both winners' times per key and
# the staged/exhaustive ratio. Nothing is stored. Usage: tools/staged-vs-exhaustive.sh OUTDIR
set -u
out=${1:?usage: tools/staged-vs-exhaustive.sh OUTDIR}
mkdir -p "$out"
args="--db= --model llama3-8b --format e3m2,e2m1 --m 1,16,64 --budget-s 0 --reps 10"
bundle/run fpx-tune tune $args --strategy exhaustive > "$out/exhaustive.log" 2>&1 || echo "exhaustive failed"
bundle/run fpx-tune tune $args --strategy staged > "$out/staged.log" 2>&1 || echo "staged failed"
awk 'FNR == 1 { file++ } /^e[0-9]m[0-9]/ { key = $1 " " $2 " " $5; t[file, key] = $7; n[file, key] = $11; keys[key] = 1 }
     END { worst = 0
           for (k in keys) { r = t[2, k] / t[1, k]; if (r > worst) worst = r
             printf "%-22s exhaustive %8.2f us (%s)  staged %8.2f us (%s)  ratio %.3f\n", k, t[1, k], n[1, k], t[2, k], n[2, k], r }
           printf "worst staged/exhaustive ratio: %.3f\n", worst }' "$out/exhaustive.log" "$out/staged.log"
