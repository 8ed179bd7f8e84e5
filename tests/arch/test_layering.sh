#!/usr/bin/env bash
# test_layering.sh: the floors of the tree (docs/architecture.md), checked by grep.
#  1. Library modules never talk MPI: no mpi.h / par.h / workq.h include and no MPI_* or
#     ms_par_* / ms_workq_* call in spec, nn, fit, sim, report, core or any method module.
#  2. One owner for names: no store ("/spectra/", "/meta/", "/input/", "/native/") or catalog ("/catalog/")
#     dataset-name literal outside include/mstars/schema.h and src/schema/.
#  3. Only the stage drivers (src/stage) and io call par.
set -u
root=${MSTARS_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root/src" || exit 1
fail=0
library_dirs=""
for d in *; do
  case $d in cli | par | io | stage | schema) ;; *) [ -d "$d" ] && library_dirs="$library_dirs $d" ;; esac
done
# 1 and 3: MPI or par in a library module, or par called from cli
hits=$(grep -nE '#include <mpi\.h>|#include "mstars/(par|workq)\.h"|\bMPI_[A-Z][a-z_]+\(|\bms_par_[a-z_]+\(|\bms_workq_[a-z_]+\(' \
       $library_dirs 2>/dev/null -r --include='*.c' --include='*.h')
if [ -n "$hits" ]; then
  echo "FAIL: library modules ($library_dirs ) must not call MPI or par (hand them an ms_comm):"
  echo "$hits"; fail=1
fi
hits=$(grep -rnE '#include <mpi\.h>|\bMPI_[A-Z][a-z_]+\(' cli --include='*.c' --include='*.h')
if [ -n "$hits" ]; then
  echo "FAIL: the command-line layer must not call MPI directly:"; echo "$hits"; fail=1
fi
# 2: dataset-name literals outside the schema owner
hits=$(grep -rnE '"/(spectra|meta|input|native|catalog)(/|")' . --include='*.c' --include='*.h' | grep -v '^\./schema/')
if [ -n "$hits" ]; then
  echo "FAIL: store or catalog dataset names belong to include/mstars/schema.h:"; echo "$hits"; fail=1
fi
hits=$(grep -nE '"/(spectra|meta|input|native|catalog)(/|")' "$root"/include/mstars/*.h | grep -v '/schema\.h:')
if [ -n "$hits" ]; then
  echo "FAIL: store or catalog dataset names belong to include/mstars/schema.h:"; echo "$hits"; fail=1
fi
# the check itself must be able to fail: a planted violation is found
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/nn"; printf '#include "mstars/par.h"\nint f(void){return ms_par_rank();}\n' > "$tmp/nn/x.c"
grep -rqE '\bms_par_[a-z_]+\(' "$tmp/nn" || { echo "FAIL: the grep does not see a planted par call"; fail=1; }
[ $fail -eq 0 ] && echo "layering: library modules ($library_dirs ) free of MPI/par; names owned by schema"
exit $fail
