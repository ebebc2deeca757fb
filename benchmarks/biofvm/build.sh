#!/usr/bin/env bash
# Builds benchmarks/biofvm/build/lod_driver from lod_driver.cpp and BioFVM's sources in a
# PhysiCell checkout (nothing of it is copied into this repository), with PhysiCell's
# Makefile flags:
#
#     PHYSICELL_DIR=/tmp/physicell bash benchmarks/biofvm/build.sh
#
# Get a checkout with: git clone https://github.com/MathCancer/PhysiCell /tmp/physicell
# (the measured results used 1.14.2). CXX overrides the compiler (default g++).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${PHYSICELL_DIR:?set PHYSICELL_DIR to a PhysiCell checkout}"
SRC=$PHYSICELL_DIR/BioFVM
[ -f "$SRC/BioFVM_solvers.cpp" ] || { echo "no BioFVM sources in $SRC" >&2; exit 2; }
CXX=${CXX:-g++}
FLAGS=(-march=native -O3 -fomit-frame-pointer -mfpmath=both -fopenmp -m64 -std=c++11)
OUT=$HERE/build
mkdir -p "$OUT/obj"
for name in BioFVM_vector BioFVM_mesh BioFVM_microenvironment BioFVM_solvers BioFVM_matlab \
  BioFVM_utilities BioFVM_basic_agent BioFVM_MultiCellDS BioFVM_agent_container pugixml; do
  "$CXX" "${FLAGS[@]}" -w -c "$SRC/$name.cpp" -o "$OUT/obj/$name.o"
done
"$CXX" "${FLAGS[@]}" -I"$SRC" "$HERE/lod_driver.cpp" "$OUT"/obj/*.o -o "$OUT/lod_driver"
{
  echo "compiler: $("$CXX" --version | head -n 1)"
  echo "flags: ${FLAGS[*]}"
  echo "physicell: $PHYSICELL_DIR (version $(cat "$PHYSICELL_DIR/VERSION.txt" 2>/dev/null || echo unknown))"
} >"$OUT/build-info.txt"
echo "built $OUT/lod_driver"
