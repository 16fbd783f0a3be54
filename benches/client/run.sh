#!/usr/bin/env bash
# Client throughput: sockless's Client (the hub) against hyper-util's legacy Client, both on
# one tokio worker thread, over one origin: `sockless serve --hello` with one worker pinned to
# core SERVER_CPU (default 0); the load program is pinned to LOAD_CPU (default 1).
#
# Loads: HTTP/1.1 and h2c (prior knowledge), each with TASKS concurrent tasks (default "64 512")
# sending GET after GET for DURATION seconds. sockless's hub caps connections at CAP (default 4
# for HTTP/1.1; HTTP/2 needs one); hyper-util's legacy Client cannot cap open connections (its
# pool only caps idle ones, set to CAP), so over HTTP/1.1 it opens one per concurrent task:
# the "connections" column says so. TIME_WAIT counts the sockets left in TIME_WAIT after each
# run (ss -tan), i.e. how many connections were opened and closed.
#
# Goals (issue 13): at least 1.5x hyper-util's req/s on HTTP/1.1 and h2c; connections opened =
# the cap; no TIME_WAIT growth beyond it.
#
# Usage: benches/client/run.sh
#   ROUNDS=2  DURATION=3  TASKS="64 512"  CAP=4  SERVER_CPU=0  LOAD_CPU=1  LOADS="h1 h2c"
# reqwest is not compared: it is not among the project's allowed dependencies, and over
# HTTP/1.1 it is hyper-util's legacy Client underneath.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/benches/client"
rounds=${ROUNDS:-2}
duration=${DURATION:-3}
tasks_list=${TASKS:-64 512}
cap=${CAP:-4}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
loads=${LOADS:-h1 h2c}

die() { echo "run.sh: $*" >&2; exit 2; }
for tool in taskset ss python3; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

echo "building sockless (release) ..." >&2
(cd "$root" && cargo build --release -q -p sockless-examples --bin sockless) || die "building sockless failed"
echo "building client-load (release) ..." >&2
load_target="${CARGO_TARGET_DIR:-$root/target}/client-load"
(cd "$here/load" && CARGO_TARGET_DIR="$load_target" cargo build --release -q) || die "building client-load failed"
sockless_bin="${CARGO_TARGET_DIR:-$root/target}/release/sockless"
load_bin="$load_target/release/client-load"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp "${TMPDIR:-/tmp}/sockless-client-bench.XXXXXX")
taskset -c "$server_cpu" "$sockless_bin" serve --addr "127.0.0.1:$port" --hello --threads 1 >"$log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; wait $server_pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 50); do grep -q "listening on" "$log" && break; sleep 0.1; done
grep -q "listening on" "$log" || die "sockless serve did not start: $(cat "$log")"
url="http://127.0.0.1:$port/"

time_wait() { ss -Htan state time-wait "( sport = :$port or dport = :$port )" | wc -l; }

# One run: prints "req_s p99_ms connects time_wait".
one() {
    local client=$1 tasks=$2 h2=$3
    local before after out
    before=$(time_wait)
    out=$(taskset -c "$load_cpu" "$load_bin" "$client" "$url" "$tasks" "$cap" "$duration" $h2)
    after=$(time_wait)
    local failed
    failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$out")
    [[ "$failed" == "0" ]] || die "$client $tasks $h2: $failed failed requests: $out"
    echo "$(sed -n 's/.*req_s=\([0-9.]*\).*/\1/p' <<<"$out") $(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$out") $(sed -n 's/.*connects=\([0-9-]*\).*/\1/p' <<<"$out") $((after - before))"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

printf "%-5s %6s  %-9s %10s %9s %12s %10s\n" load tasks client "req/s" "p99 ms" connections TIME_WAIT
for load in $loads; do
    h2=""; [[ "$load" == "h2c" ]] && h2="h2"
    for tasks in $tasks_list; do
        declare -A rps=() p99=() conns=() tw=()
        for round in $(seq "$rounds"); do
            for client in sockless hyper; do
                read -r r p c t < <(one "$client" "$tasks" "$h2")
                rps[$client]+="$r "; p99[$client]+="$p "; conns[$client]=$c; tw[$client]+="$t "
            done
        done
        for client in sockless hyper; do
            r=$(tr ' ' '\n' <<<"${rps[$client]}" | grep . | median)
            p=$(tr ' ' '\n' <<<"${p99[$client]}" | grep . | median)
            t=$(tr ' ' '\n' <<<"${tw[$client]}" | grep . | median)
            printf "%-5s %6s  %-9s %10.0f %9.3f %12s %10s\n" "$load" "$tasks" "$client" "$r" "$p" "${conns[$client]}" "$t"
            eval "med_$client=$r"
        done
        ratio=$(awk -v a="$med_sockless" -v b="$med_hyper" 'BEGIN {printf "%.2f", a / b}')
        echo "      ratio sockless/hyper-util req/s: ${ratio}x (goal 1.5x)"
        unset rps p99 conns tw
    done
done
