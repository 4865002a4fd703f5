#!/usr/bin/env bash
# char_rnn --dump-states, rendered. Tiny training runs (an RNN, a 2-layer LSTM) write the page
# after training and again from the checkpoint with --sample; then headless Chromium loads
# the pages (scripts on, network off) and the DOM it draws must hold every character as a
# coloured span, the saturation table with a row per layer, and the script's status line for
# the layer and unit the address asks for (so the embedded data parsed and the script ran).
#
# Without Chromium it tries `apt-get install chromium` (as root); if that fails it prints
# "skipped: no chromium" and exits 0. CHROMIUM=BROWSER names another Chromium binary
# (chromium-browser, google-chrome); STATES_SCREENSHOT=FILE.png also saves a screenshot.
#
#   scripts/check_states_html.sh [path/to/char_rnn]   (default: target/release/examples/char_rnn)
set -euo pipefail
shot=${STATES_SCREENSHOT:+$(realpath -m "$STATES_SCREENSHOT")}
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/examples/char_rnn}")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() {
    echo "FAIL $*"
    exit 1
}

# The prime has characters HTML must escape, and a newline.
prime=$'fn f<T>(a: &str) -> "x" {\n    '
len=150
chars=$((${#prime} + len))
for cell in rnn lstm; do
    layers=1
    [ "$cell" = lstm ] && layers=2
    "$bin" --cell "$cell" --layers "$layers" --hidden 24 --seq 32 --batch 8 --steps 20 \
        --eval-every 20 --save-every 20 --out "$out/$cell" --prime "$prime" --len "$len" \
        --dump-states "$out/$cell-train.html" > "$out/$cell-train.log" 2>&1
    "$bin" --sample "$out/$cell/checkpoint.safetensors" --prime "$prime" --len "$len" \
        --dump-states "$out/$cell.html" > "$out/$cell.txt" 2> "$out/$cell.err"
    # The page after training shows what --sample shows from the saved checkpoint: the same
    # characters, colours and activations.
    for part in '/<div id="text">/,/<\/div>/p' '/"h":\[/p'; do
        cmp -s <(sed -n "$part" "$out/$cell-train.html") <(sed -n "$part" "$out/$cell.html") ||
            fail "$cell: the page after training and the --sample page differ"
    done
    grep -qF "${prime%%$'\n'*}" "$out/$cell.txt" || fail "$cell: --sample did not print the text"
    grep -q "^states: layer $((layers - 1)): " "$out/$cell.err" || fail "$cell: no saturation line"
    # Self-contained: no external resource of any kind.
    if grep -Eq '(src|href)=|url\(|@import' "$out/$cell.html"; then
        fail "$cell: the page refers to an external resource"
    fi
    spans=$(grep -o '<span[^>]*style="background' "$out/$cell.html" | wc -l)
    [ "$spans" -eq "$chars" ] || fail "$cell: $spans coloured spans in the file, expected $chars"
    echo "ok   $cell ($layers layers): $chars characters, $(tail -n 2 "$out/$cell.err" | head -n 1)"
done

chromium=${CHROMIUM:-chromium}
if ! command -v "$chromium" > /dev/null; then
    if [ "$chromium" = chromium ] && [ "$(id -u)" -eq 0 ] && command -v apt-get > /dev/null; then
        echo "installing chromium (apt-get, quietly; a minute or more the first time)"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get install -y -qq chromium || { apt-get update -qq && apt-get install -y -qq chromium; }; } \
            > "$out/apt.log" 2>&1 || true
    fi
fi
if ! command -v "$chromium" > /dev/null; then
    echo "skipped: no chromium ($chromium not found; install Debian's chromium package to render the page)"
    exit 0
fi

# dump URL: the DOM after the page's scripts ran.
dump() {
    timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run \
        --user-data-dir="$(mktemp -d -p "$out")" --dump-dom "$1" 2> "$out/chromium.err" ||
        { tail -n 5 "$out/chromium.err"; fail "chromium could not load $1"; }
}
for cell in rnn lstm; do
    layers=1
    [ "$cell" = lstm ] && layers=2
    page="file://$out/$cell.html"
    for layer in $(seq 0 $((layers - 1))); do
        for unit in 3 17; do
            dom=$(dump "$page#layer=$layer&unit=$unit")
            echo "$dom" > "$out/dom-$cell-$layer-$unit.html"
            coloured=$(grep -o '<span[^>]*style="background[^"]*rgb([0-9, ]*)' <<< "$dom" | wc -l)
            [ "$coloured" -eq "$chars" ] ||
                fail "$cell: $coloured coloured spans in the rendered page, expected $chars"
            grep -q "id=\"status\">layer $layer, unit $unit: h from -\?[0-9.]* to -\?[0-9.]* over $chars characters" <<< "$dom" ||
                fail "$cell: the script did not draw layer $layer unit $unit: $(grep -o 'id="status">[^<]*' <<< "$dom")"
        done
        # Another unit, other colours.
        cmp -s <(grep -o 'rgb([0-9, ]*)' "$out/dom-$cell-$layer-3.html") \
            <(grep -o 'rgb([0-9, ]*)' "$out/dom-$cell-$layer-17.html") &&
            fail "$cell: units 3 and 17 of layer $layer are drawn alike"
    done
    rows=$(grep -c '^<tr><td>[0-9]*</td><td>24</td>' "$out/dom-$cell-0-3.html" || true)
    [ "$rows" -eq "$layers" ] || fail "$cell: the saturation table has $rows layer rows, expected $layers"
    echo "ok   $cell rendered: $chars coloured spans per unit, status line, saturation table"
done
if [ -n "$shot" ]; then
    timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
        --user-data-dir="$(mktemp -d -p "$out")" --window-size=1100,800 \
        --screenshot="$shot" "file://$out/lstm.html#layer=1&unit=5" \
        2> "$out/chromium.err"
    echo "screenshot: $shot"
fi
echo "states page OK"
