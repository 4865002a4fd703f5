#!/usr/bin/env bash
# Times a training step of the parity model (src/bin/02_parity.rs) in a crate that depends on recur,
# built three ways: debug without the profile snippet, debug with it (as Cargo.toml has it),
# and release. Usage: scripts/downstream/run.sh [STEPS] (default 200; each build has its own
# target dir under scripts/downstream/target, so reruns only rebuild what changed).
set -euo pipefail
cd "$(dirname "$0")"
steps=${1:-200}
jobs=${JOBS:-2}
build() { # NAME CARGO-ARGS...
  local name=$1
  shift
  CARGO_TARGET_DIR=target/$name cargo build --quiet -j "$jobs" "$@"
}
build plain --config 'profile.dev.package."*".opt-level=0'
build snippet
build release --release
for name in plain snippet release; do
  dir=debug
  [ "$name" = release ] && dir=release
  printf '%-8s ' "$name"
  n=$steps
  [ "$name" = plain ] && n=$(( (steps + 9) / 10 ))
  "target/$name/$dir/02_parity" "$n"
done
