#!/usr/bin/env bash
# Installs the Debian packages Kiln needs to build and test. Idempotent: a
# package already installed is left alone and `apt-get update` runs only when
# something is missing. Safe to run non-interactively (CI has no stdin).
#
# To add a dependency, append it to KILN_APT_PACKAGES below (one per line).
set -euo pipefail

KILN_APT_PACKAGES=(
  build-essential
  cmake
  ninja-build
  pkg-config
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  libflatbuffers-dev
  flatbuffers-compiler
  clang
  libclang-rt-14-dev
  clang-format
  python3
  # toolchain: data sources (issue 3)
  zlib1g-dev
  libssl-dev
  libstb-dev
  dataset-fashion-mnist
  # toolchain: LibTorch trainer (issue 3)
  libtorch-dev
  nlohmann-json3-dev
  # blocklab: real photographs for the block coder and the block model
  # (scikit-image's and scikit-learn's sample images; docs/block_data.md)
  python3-skimage
  python3-sklearn
  # toolchain: ONNX import/export (issue 7); the tests export their ONNX
  # models with PyTorch and the onnx helper
  libonnx-dev
  libprotobuf-dev
  libeigen3-dev
  python3-torch
  python3-onnx
  python3-numpy
  # runtime: ARM NEON paths cross-built and tested under qemu (issue 4)
  g++-aarch64-linux-gnu
  qemu-user-static
)

# flatc must match the flatbuffers headers the generated code is compiled
# against (libflatbuffers-dev): the generated reader static_asserts on it.
KILN_FLATC_VERSION="2.0.8"

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

command -v dpkg-query >/dev/null 2>&1 ||
  die "dpkg-query not found: this script supports Debian/Ubuntu only"

missing=()
for pkg in "${KILN_APT_PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} > 0)); then
  log "installing: ${missing[*]}"
  SUDO=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "not root and sudo is not available"
    SUDO=(sudo)
  fi
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends "${missing[@]}" </dev/null
  for pkg in "${missing[@]}"; do
    is_installed "$pkg" || die "package $pkg is still not installed"
  done
else
  log "all ${#KILN_APT_PACKAGES[@]} packages already installed"
fi

command -v flatc >/dev/null 2>&1 || die "flatc not found after install (flatbuffers-compiler)"
flatc_out="$(flatc --version 2>&1 || true)"
flatc_ver="$(sed -n 's/^flatc version \([0-9][0-9.]*\).*/\1/p' <<<"$flatc_out" | head -n1)"
if [[ "$flatc_ver" != "$KILN_FLATC_VERSION" ]]; then
  die "flatc reports '${flatc_out}' but Kiln needs flatc ${KILN_FLATC_VERSION}" \
      "(it must match the libflatbuffers-dev headers; check $(command -v flatc)" \
      "and the installed flatbuffers-compiler / libflatbuffers-dev packages)"
fi

base_h=/usr/include/flatbuffers/base.h
[[ -f "$base_h" ]] || die "$base_h not found (libflatbuffers-dev)"
hdr_ver="$(awk '/#define FLATBUFFERS_VERSION_(MAJOR|MINOR|REVISION) /{v = v (v == "" ? "" : ".") $3} END{print v}' "$base_h")"
if [[ "$hdr_ver" != "$KILN_FLATC_VERSION" ]]; then
  die "flatbuffers headers in $base_h are ${hdr_ver:-unknown}, Kiln needs ${KILN_FLATC_VERSION}"
fi
log "flatc ${flatc_ver} and flatbuffers headers ${hdr_ver} OK ($(command -v flatc))"
