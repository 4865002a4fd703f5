#!/usr/bin/env bash
# char_rnn against a hostile user: extreme and invalid flags, FIFOs, an unwritable --out,
# a diverging learning rate, checkpoints edited by another tool (checksums dropped, absurd
# sizes, NaN weights, stripped optimizer or tbptt state) and bad --dump-states targets.
# Every case must end with exit code 2 and an `error:` line, quickly: never a panic (101), an
# abort (134), a hang, a success on garbage, or a good checkpoint overwritten.
#
#   scripts/hostile_cli.sh [path/to/char_rnn]   (default: target/release/examples/char_rnn)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/examples/char_rnn}")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failures=0

# expect_error DESCRIPTION ARGS...: exit code 2 and an error line within 20 s.
expect_error() {
    local what=$1
    shift
    local code=0
    timeout 20 "$bin" "$@" > "$out/log" 2>&1 || code=$?
    if [ "$code" -eq 2 ] && grep -q '^error: ' "$out/log"; then
        echo "ok   $what: $(grep '^error: ' "$out/log" | head -n 1 | cut -c 1-110)"
    else
        echo "FAIL $what: exit $code"
        tail -n 3 "$out/log"
        failures=$((failures + 1))
    fi
}

small=(--hidden 16 --seq 16 --batch 4 --len 20)
for flags in "--top-k 0" "--minutes -1" "--minutes nan" "--hidden 100000" \
    "--seq 18446744073709551615" "--len 18446744073709551615" \
    "--hidden 4611686018427387904 --embedding 1" "--batch 1000000000000" \
    "--embedding 1000000000" "--layers 1000000" "--temperature nan" "--clip inf"; do
    # shellcheck disable=SC2086
    expect_error "$flags" $flags --steps 1 --out "$out/flags"
done

mkfifo "$out/fifo"
expect_error "--data FIFO" --data "$out/fifo" --steps 1 --out "$out/fifo_run"
expect_error "--sample FIFO" --sample "$out/fifo"
expect_error "--data directory" --data "$out" --steps 1 --out "$out/dir_run"

# An output directory that cannot be created: refused before the first step.
touch "$out/a_file"
expect_error "--out not writable" "${small[@]}" --steps 100000000 --save-every 100000000 \
    --out "$out/a_file/run"

# An output directory where loss.csv or the checkpoint cannot be written: refused at once,
# not after the steps before the first evaluation or save.
mkdir -p "$out/blocked/loss.csv" "$out/blocked2/checkpoint.safetensors"
for d in blocked blocked2; do
    expect_error "--out $d" "${small[@]}" --steps 100000000 --eval-every 100000000 \
        --save-every 100000000 --out "$out/$d"
done

# Diverging: a NaN loss is an error, and no non-finite checkpoint is written.
expect_error "--lr 1e300 diverges" "${small[@]}" --lr 1e300 --steps 50 --save-every 1 \
    --out "$out/nan"
if [ -f "$out/nan/checkpoint.safetensors" ]; then
    "$bin" --sample "$out/nan/checkpoint.safetensors" --len 5 > /dev/null ||
        { echo "FAIL the diverged run left an unusable checkpoint"; failures=$((failures + 1)); }
fi

# Checkpoints edited by another tool: checksums dropped, then one field changed.
"$bin" "${small[@]}" --tbptt --steps 10 --save-every 10 --eval-every 10 --out "$out/good" > /dev/null

# --dump-states: a missing directory, a directory, a page too large to open, a prime outside
# the vocabulary; refused before sampling, and while training before the first step.
good="$out/good/checkpoint.safetensors"
expect_error "--dump-states in a missing directory" --sample "$good" --dump-states "$out/nodir/s.html"
expect_error "--dump-states a directory" --sample "$good" --dump-states "$out"
expect_error "--dump-states --len 16777216" --sample "$good" --len 16777216 --dump-states "$out/s.html"
expect_error "--dump-states training, missing directory" "${small[@]}" --steps 100000000 \
    --out "$out/dump_run" --dump-states "$out/nodir/s.html"
expect_error "--dump-states training, prime outside the vocabulary" "${small[@]}" \
    --steps 100000000 --out "$out/dump_run" --prime $'\u2603' --dump-states "$out/s.html"
edit() { # edit SRC DST PYTHON-STATEMENTS (on `meta` and `tensors`, as safetensors JSON)
    python3 - "$1" "$2" "$3" <<'PY'
import json, struct, sys
src, dst, code = sys.argv[1:]
b = open(src, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
header = json.loads(b[8:8 + n])
data = bytearray(b[8 + n:])
meta = header.pop("__metadata__", {})
meta = {k: v for k, v in meta.items() if not k.startswith("recur.crc32.")}
tensors = header
exec(code)
out, blob = {"__metadata__": meta}, bytearray()
for name in sorted(tensors):
    s, e = tensors[name]["data_offsets"]
    chunk = data[s:e]
    tensors[name]["data_offsets"] = [len(blob), len(blob) + len(chunk)]
    blob += chunk
    out[name] = tensors[name]
h = json.dumps(out).encode()
h += b" " * (-len(h) % 8)
open(dst, "wb").write(struct.pack("<Q", len(h)) + h + blob)
PY
}
if command -v python3 > /dev/null; then
    ck="$out/good/checkpoint.safetensors"
    resume=("${small[@]}" --tbptt --steps 20 --save-every 10 --eval-every 10 --out "$out/good")
    edit "$ck" "$out/huge.st" 'meta["hidden"] = "100000"'
    expect_error "--sample hidden=100000 in the metadata" --sample "$out/huge.st"
    edit "$ck" "$out/pos.st" 'meta["tbptt_pos"] = "18446744073709551615"'
    expect_error "--resume tbptt_pos near usize::MAX" "${resume[@]}" --resume "$out/pos.st"
    edit "$ck" "$out/nan.st" '
s, e = tensors["head.weight"]["data_offsets"]
data[s:s + 4] = b"\x00\x00\xc0\x7f"'
    expect_error "--sample NaN weights" --sample "$out/nan.st"
    expect_error "--resume NaN weights" "${resume[@]}" --resume "$out/nan.st"
    edit "$ck" "$out/noopt.st" '
for k in [k for k in tensors if k.startswith("optim.")]: del tensors[k]
meta.pop("recur.optim_entries", None)'
    expect_error "--resume without optimizer state" "${resume[@]}" --resume "$out/noopt.st"
    edit "$ck" "$out/nostate.st" 'tensors.pop("extra.tbptt_state", None); meta.pop("tbptt_state", None)'
    expect_error "--resume without tbptt state" "${resume[@]}" --resume "$out/nostate.st"
    # A bit flip with the checksums kept: refused.
    python3 -c "
import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[-3] ^= 0x10
open(sys.argv[2], 'wb').write(b)" "$ck" "$out/flip.st"
    expect_error "--sample a bit flip in the data" --sample "$out/flip.st"
else
    echo "skip: python3 not found (edited-checkpoint cases)"
fi

[ "$failures" -eq 0 ] || { echo "$failures hostile case(s) failed"; exit 1; }
echo "hostile CLI: every case refused with a clear error"
