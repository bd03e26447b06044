#!/usr/bin/env bash
# Instructions per call for every contender of the hit benchmark, and for the misses of the
# miss benchmark, counted by callgrind: stable on a noisy shared machine, where wall-clock
# times are not.
#
# Usage: benches/callgrind.sh [n = 200000] [keys = 1000] [contender ...]
#
# Builds examples/hit_instructions.rs with the `bench` profile (release + debug info, the
# artifacts `cargo bench` uses), runs each contender's n hits under
# `valgrind --tool=callgrind`, collecting only inside the measured loop, subtracts the same
# loop without a lookup (`empty` for sync contenders, `empty_async` for async ones) and
# prints a markdown table of instructions per call. `keys` is the number of live keys for the
# hits (the misses always use a full 1 000-entry cache and a 100 000-key pool). Contenders:
# `hit_instructions list`. Needs valgrind. `CALLGRIND_FEATURES=cache-core/redis` builds with
# those cargo features (the Redis backplane compiled in, not installed).
set -euo pipefail

N="${1:-200000}"
KEYS="${2:-1000}"
shift $(( $# > 2 ? 2 : $# ))
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/.."

cargo build --profile bench -p ttl-cached-benches --example hit_instructions \
    ${CALLGRIND_FEATURES:+--features "$CALLGRIND_FEATURES"} >&2
TARGET="${CARGO_TARGET_DIR:-target}"
BIN="$TARGET/release/examples/hit_instructions"
[ -x "$BIN" ] || BIN="$TARGET/bench/examples/hit_instructions"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/callgrind.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT

# Instructions executed inside measured_*_loop for `hit_instructions $1 $N $KEYS`.
count() {
    valgrind --tool=callgrind --collect-atstart=no \
        --toggle-collect='*measured_sync_loop*' --toggle-collect='*measured_async_loop*' \
        --callgrind-out-file="$OUT/$1.out" "$BIN" "$1" "$N" "$KEYS" >/dev/null 2>"$OUT/$1.log" \
        || { cat "$OUT/$1.log" >&2; exit 1; }
    awk '/^(summary|totals):/ { print $2; exit }' "$OUT/$1.out"
}

EMPTY_SYNC="$(count empty)"
EMPTY_ASYNC="$(count empty_async)"
if [ $# -gt 0 ]; then
    WHO=("$@")
else
    mapfile -t WHO < <("$BIN" list | awk '{ print $1 }')
fi

echo "instructions per call, $N calls, hits with $KEYS keys (baseline subtracted: the empty loop, $((EMPTY_SYNC / N)) sync, $((EMPTY_ASYNC / N)) async)"
echo
echo "| contender | instructions per call |"
echo "|---|---:|"
for who in "${WHO[@]}"; do
    kind="$("$BIN" list | awk -v w="$who" '$1 == w { print $2 }')"
    base="$EMPTY_SYNC"; [ "$kind" = async ] && base="$EMPTY_ASYNC"
    total="$(count "$who")"
    awk -v t="$total" -v b="$base" -v n="$N" -v w="$who" \
        'BEGIN { printf "| %s | %.1f |\n", w, (t - b) / n }'
done
