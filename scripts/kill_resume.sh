#!/usr/bin/env bash
# kill -9 and resume: a short char_rnn run is killed at random moments (SIGKILL, no chance
# to save), resumed from whatever checkpoint survived each time, and run to the end. Its
# loss.csv must equal an uninterrupted run's row for row, its final line too, and no
# temporary file may be left behind. Then one SIGTERM: the run must save and exit 130.
#
#   scripts/kill_resume.sh [path/to/char_rnn]   (default: target/release/examples/char_rnn)
#
# KILLS (default 5) sets the number of kills; RANDOM_SEED makes the kill times repeatable.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/examples/char_rnn}
kills=${KILLS:-5}
seed=${RANDOM_SEED:-$$}
RANDOM=$seed
echo "kill times from RANDOM_SEED=$seed"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Truncated BPTT, two layers with dropout: the carried state, the dropout stream, the
# optimizer and the history must all survive. Saves and evaluations fall on different steps.
opts=(--tbptt --layers 2 --dropout 0.1 --hidden 64 --seq 32 --batch 8
      --save-every 5 --eval-every 7 --steps 600 --len 20)

"$bin" "${opts[@]}" --out "$out/ref" > "$out/ref.log"

ck="$out/run/checkpoint.safetensors"
# `exec`: in the background, the subshell must become char_rnn, so that $! is its PID.
run() {
    if [ -f "$ck" ]; then exec "$bin" "${opts[@]}" --out "$out/run" --resume "$ck"
    else exec "$bin" "${opts[@]}" --out "$out/run"; fi
}
for i in $(seq "$kills"); do
    ms=$((200 + RANDOM % 1500))
    run > "$out/killed.log" 2>&1 &
    pid=$!
    sleep "$(printf '0.%03d' $((ms % 1000)))"; [ "$ms" -ge 1000 ] && sleep 1
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        step=$(tail -n 1 "$out/run/loss.csv" 2>/dev/null | cut -d, -f1)
        echo "kill $i: SIGKILL after ${ms} ms (loss.csv at step ${step:-none})"
    else
        code=0
        wait "$pid" || code=$?
        # Too late to kill: only a finished run may end on its own, never an error.
        [ "$code" -eq 0 ] || { echo "kill $i: the run failed (exit $code):"; cat "$out/killed.log"; exit 1; }
        echo "kill $i: the run had already finished after ${ms} ms"
    fi
done
(run > "$out/run.log")

cmp "$out/ref/loss.csv" "$out/run/loss.csv"
cmp <(tail -n 1 "$out/ref.log" | sed 's/ elapsed_s=.*//') \
    <(tail -n 1 "$out/run.log" | sed 's/ elapsed_s=.*//')
leftovers=$(find "$out/run" -name '.*.tmp-*' | wc -l)
[ "$leftovers" -eq 0 ] || { echo "temporary files left behind: $leftovers"; exit 1; }
echo "kill -9 x$kills and resume: loss.csv ($(($(wc -l < "$out/ref/loss.csv") - 1)) rows) identical to the uninterrupted run"

# SIGTERM is Ctrl-C: the step finishes, the checkpoint is saved, exit code 130.
"$bin" "${opts[@]}" --out "$out/term" > "$out/term.log" 2>&1 &
pid=$!
sleep 1
kill -TERM "$pid"
code=0
wait "$pid" || code=$?
[ "$code" -eq 130 ] || { echo "SIGTERM: exit code $code, expected 130"; cat "$out/term.log"; exit 1; }
grep -q "interrupted: checkpoint saved" "$out/term.log"
saved=$(tail -n 1 "$out/term/loss.csv" | cut -d, -f1)
"$bin" "${opts[@]}" --out "$out/term" --resume "$out/term/checkpoint.safetensors" > /dev/null
cmp "$out/ref/loss.csv" "$out/term/loss.csv"
echo "SIGTERM: saved at step $saved, exit 130; the resumed run matches too"
