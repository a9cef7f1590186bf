#!/usr/bin/env bash
# The peer benchmark: builds the four implementations (seedsim, the bare event loop, turmoil,
# madsim), runs each workload best of 5 (PEERS_ROUNDS=N: N interleaved rounds, best of all),
# and prints a table of events per second with the ratio seedsim / peer; with rounds, a
# second table of the median over the rounds' separate processes. Arguments are
# workload filters passed to every binary (for example `peers/run.sh timers spawn`). Needs
# crates.io for the first build. See docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never

echo "== building seedsim, floor and turmoil (target/release)" >&2
cargo build --release --quiet --features turmoil --bins
# madsim's simulator is compiled only under `--cfg madsim`; everything built with it differs,
# so it gets a target directory of its own.
echo "== building madsim (RUSTFLAGS=\"--cfg madsim\", target/madsim)" >&2
RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim cargo build --release --quiet --features madsim --bin madsim

# PEERS_ROUNDS=N runs the four binaries N times, interleaved, so a busy spell of a shared
# machine hits every implementation alike; each figure is then the best over all rounds.
rounds=${PEERS_ROUNDS:-1}
case "$rounds" in
    '' | *[!0-9]* | 0) echo "invalid PEERS_ROUNDS=$rounds: expected a positive integer" >&2; exit 2 ;;
esac
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq "$rounds"); do
    for implementation in target/release/seedsim target/release/floor target/release/turmoil \
        target/madsim/release/madsim; do
        echo "== round $round: $(basename "$implementation")" >&2
        "$implementation" "$@" | tee -a "$results" >&2
    done
done

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
version() { awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print }' Cargo.lock; }
echo "turmoil $(version turmoil), madsim $(version madsim); best of $((5 * rounds)) runs each ($rounds round(s) of 5); events per second (M = millions, k = thousands)"
echo
# One row per workload: the rate of each implementation (count / best seconds), then
# seedsim's rate over each peer's (above 1: seedsim is faster), and the floor's rate over
# seedsim's (how many times the bare event loop's cost seedsim's is).
awk -v rounds="$rounds" '
function human(rate) {
    if (rate == "") return "-"
    if (rate >= 1e6) return sprintf("%.2fM", rate / 1e6)
    if (rate >= 1e3) return sprintf("%.1fk", rate / 1e3)
    return sprintf("%.0f", rate)
}
function ratio(a, b) { return (a == "" || b == "") ? "-" : sprintf("%.1fx", a / b) }
# The median of the rates one implementation posted for one workload, one per process.
function median(impl, w,    k, j, m, v, sorted) {
    m = runs[impl, w]
    if (m == 0) return ""
    for (k = 1; k <= m; k++) {
        v = each[impl, w, k]
        for (j = k - 1; j >= 1 && sorted[j] > v; j--) sorted[j + 1] = sorted[j]
        sorted[j + 1] = v
    }
    return (m % 2) ? sorted[(m + 1) / 2] : (sorted[m / 2] + sorted[m / 2 + 1]) / 2
}
function row(w, s, t, m, f) {
    printf "%-11s %9d %-8s %9s %9s %9s %9s %12s %11s %14s\n", w, count[w], unit[w], human(s), human(t), human(m), human(f), ratio(s, t), ratio(s, m), ratio(f, s)
}
function header(title) {
    print title
    printf "%-11s %9s %-8s %9s %9s %9s %9s %12s %11s %14s\n", "workload", "count", "unit", "seedsim", "turmoil", "madsim", "floor", "vs turmoil", "vs madsim", "floor/seedsim"
}
$1 == "result" {
    if (!($3 in unit)) order[++n] = $3
    unit[$3] = $4; count[$3] = $5
    if ($5 / $6 > rate[$2, $3]) rate[$2, $3] = $5 / $6
    each[$2, $3, ++runs[$2, $3]] = $5 / $6
}
END {
    header("best of every run")
    for (i = 1; i <= n; i++) {
        w = order[i]
        row(w, rate["seedsim", w], rate["turmoil", w], rate["madsim", w], rate["floor", w])
    }
    if (rounds > 1) {
        print ""
        header("median over the " rounds " processes of each (each process: its best of 5)")
        for (i = 1; i <= n; i++) {
            w = order[i]
            row(w, median("seedsim", w), median("turmoil", w), median("madsim", w), median("floor", w))
        }
    }
}' "$results"
