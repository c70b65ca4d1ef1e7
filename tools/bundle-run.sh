#!/bin/sh
# Runs a program of the device bundle (bundle/bin) with the bundle's shared
# libraries. Where the bundle holds precompiled kernels (bundle/cache/fpx.db,
# from `make device-kernels`) and FPX_CACHE_DIR is not set, that database is
# the user database. Usage: bundle/run PROGRAM [ARGS...]
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${FPX_CACHE_DIR+set}" ] && [ -f "$here/cache/fpx.db" ]; then
  FPX_CACHE_DIR="$here/cache"
  export FPX_CACHE_DIR
fi
prog=$1
shift
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/bin/$prog" "$@"
