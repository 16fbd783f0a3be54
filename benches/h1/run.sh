#!/usr/bin/env bash
# sockless-h1 speed goals, measured in one run against raw httparse:
#   * parsing a request head costs at most 1.15x raw httparse (parse/wrk, parse/browser): judged on
#     the strict parser reading in place as httparse does (`RequestParser::parse_ref`: the checks
#     httparse does not make and the framing fields included); the same parser taking the head
#     (`RequestParser::parse`: the head split off the buffer into a shared `Bytes`) and the whole
#     connection input path (`ServerConnection::handle_input` + `poll_event`) are printed beside it
#   * a full hello-world keep-alive cycle takes at most 300 ns (cycle/hello)
#   * a warmed keep-alive cycle allocates nothing (the `alloc` bench, which exits 1 if it does)
#
# Usage: benches/h1/run.sh [extra criterion args...]
#   MEASUREMENT_TIME=5, WARM_UP_TIME=2 (seconds per benchmark), CPU=1 (pin to this core with taskset; empty: no pinning).
# Prints a table; exits 1 if a goal is missed.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
cpu=${CPU-1}
pin=()
if [[ -n "$cpu" ]] && command -v taskset >/dev/null && taskset -c "$cpu" true 2>/dev/null; then
    pin=(taskset -c "$cpu")
fi

# Build first (unpinned, so compilation uses every core), then run pinned.
cargo bench -p sockless-h1 --bench h1 --bench alloc --no-run >/dev/null 2>&1 \
    || { cargo bench -p sockless-h1 --bench h1 --bench alloc --no-run; exit 2; }

"${pin[@]}" cargo bench -q -p sockless-h1 --bench h1 -- \
    --measurement-time "${MEASUREMENT_TIME:-5}" --warm-up-time "${WARM_UP_TIME:-2}" --noplot "$@" >&2 || exit 2

alloc_out=$("${pin[@]}" cargo bench -q -p sockless-h1 --bench alloc 2>/dev/null)
alloc_status=$?

ALLOC_OUT="$alloc_out" ALLOC_STATUS="$alloc_status" python3 - "$target/criterion" <<'PY'
import json, os, sys

crit = sys.argv[1]

def ns(group, func):
    # criterion turns the "/" of a group name into "_" in its directory name.
    path = os.path.join(crit, group.replace("/", "_"), func, "new", "estimates.json")
    try:
        with open(path) as f:
            est = json.load(f)
    except OSError:
        return None
    # criterion reports the time of one iteration; the median is the least noisy on a shared machine.
    return est["median"]["point_estimate"], est["mean"]["point_estimate"]

ok = True
print()
print(f"{'benchmark':<16}{'path':<12}{'httparse ns':>13}{'sockless ns':>13}{'ratio':>8}{'goal':>8}  result")
paths = (("parser", "sockless-parser", True), ("owned head", "sockless-owned", False),
         ("connection", "sockless", False))
for group in ("parse/wrk", "parse/browser"):
    h = ns(group, "httparse")
    for label, func, judged in paths:
        s = ns(group, func)
        if h is None or s is None:
            print(f"{group:<16}{label:<12}{'(not measured)':>26}")
            continue
        ratio = s[0] / h[0]
        if judged:
            met = ratio <= 1.15
            ok &= met
            verdict, goal = ("ok" if met else "MISSED"), "1.15x"
        else:
            verdict, goal = "(shown)", ""
        print(f"{group:<16}{label:<12}{h[0]:>13.1f}{s[0]:>13.1f}{ratio:>7.2f}x{goal:>8}  {verdict}")
c = ns("cycle", "hello")
if c is not None:
    met = c[0] <= 300
    ok &= met
    print(f"{'cycle/hello':<16}{'connection':<12}{'':>13}{c[0]:>13.1f}{'':>8}{'300 ns':>8}  {'ok' if met else 'MISSED'}")
print("(ns: criterion's median time per request; mean within the estimates.json files)")
print()
alloc_ok = os.environ["ALLOC_STATUS"] == "0"
for line in os.environ["ALLOC_OUT"].splitlines():
    if line.startswith("alloc/"):
        name, count = line[len("alloc/"):].rsplit(": ", 1)
        met = float(count) == 0
        print(f"allocations per cycle, {name:<30}{count:>8}  {'ok' if met else 'MISSED'}")
if not os.environ["ALLOC_OUT"].strip():
    print("alloc bench produced no output")
ok &= alloc_ok
sys.exit(0 if ok else 1)
PY
