#!/bin/bash
# diag-wgmma-loop.sh OUT [E M ACT TOKENS STAGES] - on the GPU machine, from a
# tree with bundle/: the SASS of one wgmma GEMM instance (compiled here with
# nvcc from templates/, default W8A8 at 256 tokens: 4 3 2 256 4) and ncu's
# warp-state, scheduler and pipe statistics of that kernel on 8b o
# (N = K = 4096) at M = 8192 (the first wgmma GEMM launch of the bench),
# plus an instruction-mix count of the SASS and the stall reasons per issued
# instruction.
# ACT: 0 f16, 1 bf16, 2 e4m3, 3 e5m2 (bf16 output, per-row scales).
set -u
out=${1:?usage: tools/diag-wgmma-loop.sh OUT [E M ACT TOKENS STAGES]}
e=${2:-4} m=${3:-3} act=${4:-2} tokens=${5:-256} stages=${6:-4}
mkdir -p "$out"
src="$out/instance.cu"
cat > "$src" <<CU
#include "wgmma_gemm.cuh"
template __global__ void fpx::wgmma_gemm<$e, $m, $act, 1, 0, $tokens, $stages, 1>(
    const uint4 *, const __grid_constant__ fpx::wg::TensorMap, const float *, const float *,
    void *, int, int, int, int, int, float4 *, unsigned *, int, int, const __grid_constant__ fpx::wg::TensorMap);
CU
nvcc -arch=sm_90a -cubin -std=c++17 -Itemplates -Xptxas -v "$src" -o "$out/instance.cubin" \
  > "$out/ptxas.txt" 2>&1 || { echo "nvcc failed: $out/ptxas.txt"; exit 1; }
cuobjdump -sass "$out/instance.cubin" > "$out/sass.txt"
echo "instruction mix (opcode, count):"
grep -oE '^ +/\*[0-9a-f]+\*/ +(@!?U?P[0-9T] +)?[A-Z][A-Z0-9_.]*' "$out/sass.txt" |
  awk '{print $NF}' | sed 's/\..*//' | sort | uniq -c | sort -rn | head -25 | tee "$out/mix.txt"
case $act in 2|3) fam="--format e${e}m${m} --act $([ "$act" = 2 ] && echo e4m3 || echo e5m2)";;
  0) fam="--format e${e}m${m} --act f16";; *) fam="--format e${e}m${m}";; esac
ncu --clock-control none -k regex:wgmma_gemm -c 1 --section SpeedOfLight --section WarpStateStats \
  --section SchedulerStats --section ComputeWorkloadAnalysis --section InstructionStats \
  --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio' \
  bundle/run fpx-tune bench --shape 4096,4096 $fam --m 8192 --iters 1 --wgmma "$tokens/$stages" \
  > "$out/ncu.txt" 2>&1
grep -E "Duration|Issue Slots|Issued Warp|Eligible Warps|No Eligible|Stall|Pipe Utilization|Executed Ipc" \
  "$out/ncu.txt" | head -40
echo "stall reasons, warps per issued instruction (largest first):"
grep -E 'issue_stalled_.*per_issue_active' "$out/ncu.txt" | awk '{print $NF, $1}' | sort -rn | head -10
