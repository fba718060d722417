#!/usr/bin/env bash
# Decodes the corpora side by side with custodian's decoder and with zxing-cpp, in one run, on
# one core: detection per family or degradation, false positives and time per image for each,
# at the live-camera and the thorough settings. Three corpora: the real photographs of
# fixtures/photos; fixtures/labels as committed; and its degraded labels pasted into the
# corpus's empty 1280x720 camera scenes (generated here). Both decoders are given the same
# grey pixels. zxing-cpp is installed from PyPI into a venv in the ignored state directory
# (.custodian/venv) on first use.
#
#   scripts/compare-decoders.sh            # prints the comparison; JSON in .custodian/compare
set -euo pipefail
cd "$(dirname "$0")/.."

state=.custodian
venv=$state/venv
work=$state/compare
if ! "$venv/bin/python" -c 'import zxingcpp, numpy, PIL' 2>/dev/null; then
    echo "== installing zxing-cpp into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'zxing-cpp==3.1.1' numpy pillow
fi

echo "== building custodian (release)"
cargo build --release --locked -p custodian
bin="${CARGO_TARGET_DIR:-target}/release/custodian"

rm -rf "$work"
mkdir -p "$work"
"$venv/bin/python" scripts/compare_decoders.py in-frame fixtures/labels "$work/in-frame"

# One core for both, one after the other, on the same images.
for corpus in photos labels in-frame; do
    case $corpus in
    photos) dir=fixtures/photos ;;
    labels) dir=fixtures/labels ;;
    in-frame) dir="$work/in-frame" ;;
    esac
    echo "== decoding $dir"
    taskset -c 0 "$bin" bench decode --json --labels "$dir" >"$work/ours-$corpus.json"
    taskset -c 0 "$venv/bin/python" scripts/compare_decoders.py zxing "$dir" >"$work/zxing-$corpus.json"
done
"$venv/bin/python" scripts/compare_decoders.py report "$work"
