#!/usr/bin/env bash
# axum on sockless against axum on hyper: one axum hello app (benches/tower/axum-hello), served by
# sockless-tower on sockless's tokio driver ("sockless"), on the epoll driver through
# sockless_tower::handler ("epoll"), and by axum::serve (hyper), same release profile.
#
# Goals (issue 15), sockless-tower over axum::serve:
#   * HTTP/1.1 keep-alive, wrk -t1 -c64:        at least 1.0x
#   * h2c (prior knowledge), h2load -c16 -m16:   at least 1.5x
#
# Pinned as benches/server/run.sh pins its servers: each server runs one tokio worker thread on
# core SERVER_CPU (default 0), the load generator on core LOAD_CPU (default 1). The servers
# alternate, ROUNDS times each; the median req/s of each is compared, and the round-by-round
# ratios are printed, and each server's CPU time per request (user + system time of its process,
# from /proc/PID/stat around the run), which a busy machine disturbs less than req/s. Any failed
# request or socket error aborts the run (exit 2); a missed goal exits 1.
#
# Usage: benches/tower/run.sh
#   ROUNDS=3  DURATION=3 (seconds per run)  SERVER_CPU=0  LOAD_CPU=1  LOADS="h1 h2"
#   SERVERS="sockless epoll" (compared with hyper; "native" is sockless's own hello handler on the
#   tokio driver, without tower or axum: what the adapter and axum cost)
# Needs wrk, h2load (Debian: apt-get install -y wrk nghttp2-client), taskset, curl, python3.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=${ROUNDS:-3}
duration=${DURATION:-3}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
loads=${LOADS:-h1 h2}
servers=${SERVERS:-sockless epoll}

die() { echo "run.sh: $*" >&2; exit 2; }
for tool in wrk h2load taskset python3 curl; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y wrk nghttp2-client util-linux python3 curl)"
done

echo "building axum-hello (release) ..." >&2
target="${CARGO_TARGET_DIR:-$root/target}/axum-hello"
(cd "$here/axum-hello" && CARGO_TARGET_DIR="$target" cargo build --release -q) || die "building axum-hello failed"
bin="$target/release/axum-hello"
[[ -x "$bin" ]] || die "missing $bin"

logs=$(mktemp -d "${TMPDIR:-/tmp}/sockless-tower-bench.XXXXXX")
server_pid=""
stop_server() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
trap 'stop_server; rm -rf "$logs"' EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server NAME PORT: the app on server NAME (sockless or hyper), pinned, in the background.
start_server() {
    local name=$1 port=$2 i
    taskset -c "$server_cpu" "$bin" --server "$name" --addr "127.0.0.1:$port" --threads 1 >"$logs/server.out" 2>&1 &
    server_pid=$!
    for i in $(seq 100); do
        if curl -sf -o /dev/null "http://127.0.0.1:$port/"; then return 0; fi
        kill -0 "$server_pid" 2>/dev/null || { cat "$logs/server.out" >&2; die "$name exited at start"; }
        sleep 0.05
    done
    die "$name did not answer on port $port"
}

# run_load LOAD PORT LOG: prints req/s; aborts on any failed request or socket error.
run_load() {
    local load=$1 port=$2 log=$3 url="http://127.0.0.1:$2/"
    case $load in
        h1) taskset -c "$load_cpu" wrk -t1 -c64 -d"${duration}s" "$url" >"$log" 2>&1 || { cat "$log" >&2; die "wrk failed"; } ;;
        h2) taskset -c "$load_cpu" h2load -c16 -m16 -D "$duration" "$url" >"$log" 2>&1 || { cat "$log" >&2; die "h2load failed"; } ;;
        *) die "unknown load $load" ;;
    esac
    python3 - "$load" "$log" <<'PY' || { cat "$log" >&2; die "errors in run ($log), see above"; }
import re, sys
load, text = sys.argv[1], open(sys.argv[2]).read()
def fail(msg):
    sys.exit(f"run.sh: {load}: {msg}")
if load == "h1":
    if "Non-2xx or 3xx responses" in text:
        fail("non-2xx/3xx responses")
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m and any(int(x) for x in m.groups()):
        fail(m.group(0))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    n = re.search(r"(\d+) requests in", text)
else:
    m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", text)
    if not m or any(int(x) for x in m.groups()[2:]) or int(m.group(2)) == 0:
        fail("failed, errored or no requests")
    s = re.search(r"status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if not s or any(int(x) for x in s.groups()):
        fail("responses other than 2xx")
    n = re.search(r"requests: \d+ total, \d+ started, (\d+) done", text)
    m = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", text)
if not m or float(m.group(1)) <= 0 or not n:
    fail("no req/s figure")
print(m.group(1), n.group(1))
PY
}

echo "machine: $(nproc) cores; $(uptime | sed 's/^ *//')" >&2
echo "servers ($servers against hyper): one worker thread on core $server_cpu; load generator on core $load_cpu; $rounds rounds of ${duration}s" >&2
results="$logs/results.tsv"
: >"$results"
for load in $loads; do
    for round in $(seq "$rounds"); do
        if (( round % 2 )); then order="$servers hyper"; else order="hyper $servers"; fi
        for name in $order; do
            port=$(free_port)
            start_server "$name" "$port"
            ticks0=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
            out=$(run_load "$load" "$port" "$logs/$load.$name.$round.log")
            ticks1=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
            stop_server
            read -r rps count <<<"$out"
            us=$(python3 -c "import os; print(round(($ticks1 - $ticks0) / os.sysconf('SC_CLK_TCK') / $count * 1e6, 2))")
            echo "  $load round $round $name: $rps req/s, ${us} us CPU/request" >&2
            printf '%s\t%s\t%s\t%s\n' "$load" "$name" "$rps" "$us" >>"$results"
        done
    done
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
data, cpu, order, names = {}, {}, [], []
for load, name, rps, us in rows:
    order += [load] if load not in order else []
    names += [name] if name != "hyper" and name not in names else []
    data.setdefault((load, name), []).append(float(rps))
    cpu.setdefault((load, name), []).append(float(us))
desc = {"h1": ("wrk -t1 -c64 (HTTP/1.1)", 1.0), "h2": ("h2load -c16 -m16 (h2c)", 1.5)}
label = {"sockless": "sockless-tower (tokio)", "epoll": "sockless-tower (epoll)", "native": "sockless native (tokio)"}
ok = True
print(f"\n{'load':<26}{'server':<26}{'req/s':>10}{'axum::serve':>13}{'ratio':>8}{'goal':>7}  result   round by round")
for load in order:
    text, goal = desc[load]
    h = data[(load, "hyper")]
    for name in names:
        s = data[(load, name)]
        ratio = statistics.median(s) / statistics.median(h)
        if name != "native":
            ok &= ratio >= goal
        rounds = " ".join(f"{b / a:.2f}" for a, b in zip(h, s))
        print(f"{text:<26}{label.get(name, name):<26}{statistics.median(s):>10.0f}{statistics.median(h):>13.0f}"
              f"{ratio:>7.2f}x{goal:>6.1f}x  {'met   ' if ratio >= goal else 'MISSED'}   {rounds}")
print(f"(median of {len(data[(order[0], 'hyper')])} runs each; all runs 0 failed/errored)")
print(f"\n{'load':<26}{'server':<26}{'CPU us/request':>15}{'axum::serve':>13}  (median; lower is better)")
for load in order:
    for name in names:
        print(f"{desc[load][0]:<26}{label.get(name, name):<26}{statistics.median(cpu[(load, name)]):>15.2f}"
              f"{statistics.median(cpu[(load, 'hyper')]):>13.2f}")
sys.exit(0 if ok else 1)
PY
