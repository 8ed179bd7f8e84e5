#!/usr/bin/env bash
# setup.sh: install what mstars needs (Debian 12 packages) and build it into build/.
# Idempotent: installs only missing packages (apt-get update at most once per run),
# configures build/ only when it does not exist, then runs an incremental ninja build.
# Used by jobs/demo.sh and tests/run.sh; run it directly to just build.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  build-essential gfortran meson ninja-build pkg-config git
  libopenmpi-dev openmpi-bin            # MPI
  libhdf5-openmpi-dev hdf5-tools        # parallel HDF5 (+ h5dump/h5ls)
  libcfitsio-dev                        # FITS
  libopenblas-dev                       # BLAS
  libhwloc-dev                          # topology and binding
  liblbfgsb-dev                         # bound-constrained L-BFGS-B 3.0
  libgsl-dev                            # RNG, special functions
  libconfig-dev                         # configuration files
  libsvm-dev                            # SVR of SLAM (train-slam)
  libcmocka-dev                         # unit tests
  libplplot-dev plplot-driver-cairo     # PNG figures
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cd "$root"
if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=debugoptimized >/dev/null
fi
ninja -C build >/dev/null
echo "setup: built $root/build/src/mstars"
