#!/bin/bash
# exp-x-pass-cost.sh build | run OUT - what the wgmma family's X permutation
# pass costs (NOTES-PERF.md, "Stream-K at small M, the X pass's cost", 2).
#   build (here, from the repository root): bundle-nopass/, a device bundle
#     of HEAD whose wgmma launcher skips the permutation pass when the call
#     repeats the previous one's X, M, K and workspace and FPX_DIAG_NO_PERMUTE
#     is set (its run script sets it). Every bench point's first call still
#     permutes, so the GEMM reads real data: a workspace that is never
#     written overstates the gain about 3x (zeros cost the tensor cores
#     less power). Its results past the first call are right only while X
#     is unchanged, which holds within a bench point.
#   run OUT (on the GPU machine, with bundle/ and bundle-nopass/): the same
#     bench with both bundles (tools/bench-ab.sh); time bundle / time
#     bundle-nopass is the share of the pass.
set -u
here=$(cd "$(dirname "$0")" && pwd)
case ${1:-} in
build)
  tree=$(mktemp -d)/tree
  git worktree add -q --detach "$tree" HEAD || exit 1
  python3 - "$tree/runtime/wgmma_gemm.c" <<'PY' || exit 1
import sys
p = sys.argv[1]
s = open(p).read()
launch = "    FPX_CU(ctx->cu, cuLaunchKernel(permute,"
assert s.count(launch) == 1, "the permutation launch moved: update this patch"
s = s.replace(launch, """    static CUdeviceptr last_x, last_xp;
    static int last_m, last_k;
    const int skip = getenv("FPX_DIAG_NO_PERMUTE") && rows == args->m && last_x == x &&
                     last_xp == xp && last_m == m && last_k == k;
    last_x = x, last_xp = xp, last_m = m, last_k = k;
    if (!skip) FPX_CU(ctx->cu, cuLaunchKernel(permute,""")
if "#include <stdlib.h>" not in s:
    s = s.replace("#include <limits.h>", "#include <limits.h>\n#include <stdlib.h>", 1)
open(p, "w").write(s)
PY
  (cd "$tree" && make -j"$(nproc)" device-bundle > build.log 2>&1) || { echo "build failed: $tree/build.log"; exit 1; }
  rm -rf bundle-nopass
  cp -r "$tree/bundle" bundle-nopass
  sed -i 's|^LD_LIBRARY_PATH=|FPX_DIAG_NO_PERMUTE=1 LD_LIBRARY_PATH=|' bundle-nopass/run
  git worktree remove --force "$tree"
  echo "bundle-nopass/ built from $(git rev-parse --short HEAD)"
  ;;
run)
  out=${2:?usage: tools/exp-x-pass-cost.sh run OUT}
  mkdir -p "$out"
  export FPX_CACHE_DIR="$out/cache"
  mkdir -p "$FPX_CACHE_DIR"
  shapes="--model llama3-8b --model llama3-70b --iters 15"
  "$here/bench-ab.sh" bundle bundle-nopass "$out" xpass-wo $shapes --format e3m2 \
    --m 32,64,128,512,2048 | tail -7
  "$here/bench-ab.sh" bundle bundle-nopass "$out" xpass-w8 $shapes --family w8a8 --m 128,2048 | tail -4
  ;;
*)
  echo "usage: tools/exp-x-pass-cost.sh build | run OUT" >&2
  exit 2
  ;;
esac
