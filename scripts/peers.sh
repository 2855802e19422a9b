#!/usr/bin/env bash
# Kiln side by side with other INT8 runtimes (onnxruntime, PyTorch) on the
# reference models, through the shared peer harness (../shared/peers, see its
# README.md): Kiln joins the same interleaved run as an extra peer
# (bench/peers/kiln_peer.conf), so every figure comes from the same machine
# at the same moment.
#
#   scripts/peers.sh [harness options]     e.g. --quick --models mlp160,blocknet --rounds 1
#
# Options are passed to run_peers.sh (--quick, --rounds N, --models a,b,
# --threads 1,2, --budget S, --peers ort,torch, --no-peak, ...).
# Writes the harness's JSON to $KILN_OUT/peers.json (default out/) and prints
# a Kiln-vs-peer table per model. Kiln does not depend on the harness: when
# it is missing the script says so and exits 0.
#
# Environment:
#   PEERS_DIR   the harness folder (default ../shared/peers beside the repo)
#   KILN_BIN    a kiln executable to use (default: build/release/toolchain/kiln,
#               built with the release preset when missing)
#   KILN_OUT    output folder (default out)
#   KILN_JOBS   build parallelism (default nproc)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
PEERS_DIR="${PEERS_DIR:-$ROOT/../shared/peers}"
OUT="${KILN_OUT:-out}"
JOBS="${KILN_JOBS:-$(nproc 2>/dev/null || echo 2)}"
say() { echo "[peers.sh] $*" >&2; }

if [[ ! -x "$PEERS_DIR/run_peers.sh" ]]; then
  say "no peer harness at '$PEERS_DIR' (run_peers.sh missing; set PEERS_DIR);"
  say "nothing to compare against, skipping."
  exit 0
fi
PEERS_DIR="$(cd "$PEERS_DIR" && pwd)"

if [[ -z "${KILN_BIN:-}" ]]; then
  KILN_BIN="$ROOT/build/release/toolchain/kiln"
  if [[ ! -x "$KILN_BIN" ]]; then
    say "building kiln (preset release)"
    cmake --preset release >/dev/null
    cmake --build --preset release -j "$JOBS" --target kiln
  fi
fi
[[ -x "$KILN_BIN" ]] || { say "KILN_BIN '$KILN_BIN' is not executable"; exit 1; }
KILN_BIN="$(cd "$(dirname "$KILN_BIN")" && pwd)/$(basename "$KILN_BIN")"

# The models, built once (the spec's command would also build them on first
# use); a rebuilt kiln may change them, so they are rewritten every run.
mkdir -p "$OUT" "$ROOT/.cache/peers"
KILN_PEER_CACHE="$ROOT/.cache/peers"
for m in mlp160 blocknet resnet18; do
  "$KILN_BIN" zoo "$m" --out "$KILN_PEER_CACHE/$m.kiln" >&2
done
export KILN_BIN KILN_PEER_CACHE

SPEC="$(grep -v '^[[:space:]]*#' bench/peers/kiln_peer.conf | grep -m1 .)"
say "kiln: $KILN_BIN ($("$KILN_BIN" --version))"
say "harness: $PEERS_DIR/run_peers.sh $*"
RAW="$OUT/peers.stdout.$$"
trap 'rm -f "$RAW"' EXIT
"$PEERS_DIR/run_peers.sh" --extra "$SPEC" "$@" >"$RAW"

# The harness prints one JSON object (its last stdout line starting with
# '{'); it is saved atomically, then tabulated.
/usr/bin/python3 - "$RAW" "$OUT/peers.json" <<'PY'
import json
import os
import sys

lines = [x for x in open(sys.argv[1]).read().splitlines() if x.startswith("{")]
if not lines:
    sys.exit("peers.sh: the harness printed no JSON")
doc = json.loads(lines[-1])
tmp = sys.argv[2] + ".tmp"
with open(tmp, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
os.replace(tmp, sys.argv[2])
print(f"[peers.sh] wrote {sys.argv[2]}", file=sys.stderr)
rows = doc.get("results", [])
kiln = [r for r in rows if r["peer"] == "kiln"]
if not kiln:
    print("no kiln rows in the results; errors:", *doc.get("errors", []), sep="\n  ")
    sys.exit(1)


def fmt_tp(r):
    return f'{r["throughput"]:,.1f} {r.get("throughput_unit", "/s")}'


print()
print("Kiln vs peers (wall-clock median per call; ratio = peer median / kiln median,")
print(">1 means Kiln is faster)")
for k in sorted(kiln, key=lambda r: (r["model"], r["batch"], r["threads"])):
    key = (k["model"], k["batch"], k["threads"])
    peers = [r for r in rows if (r["model"], r["batch"], r["threads"]) == key]
    peers.sort(key=lambda r: r["median_us"])
    gm = k.get("effective_gmacs")
    print()
    print(f'{k["model"]}  batch {k["batch"]}  threads {k["threads"]}'
          + (f'  (kiln {gm:.1f} GMAC/s)' if gm else ""))
    print(f'  {"peer":<26} {"precision":<9} {"median_us":>12} {"p90_us":>12} '
          f'{"cpu_us":>12} {"throughput":>22} {"ratio":>8}')
    for r in peers:
        ratio = r["median_us"] / k["median_us"] if k["median_us"] else float("nan")
        mark = "*" if r["peer"] == "kiln" else " "
        cpu = r.get("median_cpu_us")
        print(f' {mark}{r["peer"]:<26} {r["precision"]:<9} {r["median_us"]:>12,.1f} '
              f'{r["p90_us"]:>12,.1f} {(f"{cpu:,.1f}" if cpu is not None else "-"):>12} '
              f'{fmt_tp(r):>22} {ratio:>7.2f}x')
peak = doc.get("peak") or {}
units = [f'{k} {v["best"]:,.1f} {v.get("unit", "")}' for k, v in peak.items()
         if k in ("vnni512", "vnni256", "avx2_maddubs", "amx_int8")
         and isinstance(v, dict) and v.get("best")]
if units:
    print("\nmachine peaks (one core, best): " + ", ".join(units))
errors = doc.get("errors", [])
if errors:
    print("\nerrors:")
    for e in errors:
        print("  " + e)
PY
