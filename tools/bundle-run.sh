#!/bin/sh
# Runs a program of the device bundle (bundle/bin) with the bundle's shared
# libraries. Usage: bundle/run PROGRAM [ARGS...]
here=$(cd "$(dirname "$0")" && pwd)
prog=$1
shift
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/bin/$prog" "$@"
