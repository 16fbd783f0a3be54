#!/usr/bin/env bash
# Server throughput: `sockless serve --hello` on the tokio driver ("sockless"), on the epoll
# driver ("epoll", `--driver epoll --threads 1`) and on the io_uring driver ("uring", `--driver
# uring --threads 1`, where the kernel allows io_uring) against a hyper 1.x hello server
# (benches/server/hyper-hello, same release profile: fat LTO, one codegen unit).
#
# Goals (ratios of req/s to hyper's, unless said otherwise):
#   * HTTP/1.1 keep-alive, wrk -t1 -c64:               tokio 1.0x, epoll 1.0x
#   * HTTP/1.1 pipelined x16, wrk -c64 + pipeline.lua: epoll 3.0x
#   * h2c (prior knowledge), h2load -c16 -m16:         tokio 1.5x, epoll 1.5x, and epoll 1.2x tokio
#   * h2c (prior knowledge), h2load -c1 -m100:         tokio 1.5x, epoll 1.5x
#   * uring against epoll, on the pipelined x16 and both h2c loads: 1.0x
# With wrk on one core the load generator bounds keep-alive req/s, so the servers' CPU time per
# request (printed last) is what separates them there.
#
# Each server runs with one worker thread pinned to core SERVER_CPU (default 0); the load
# generator (one thread) is pinned to core LOAD_CPU (default 1). For each load the servers
# alternate, ROUNDS times each; the median req/s of each is compared. Every run must have
# zero failed/errored requests and zero socket errors, or the script aborts (exit 2).
# The round-by-round ratios (each round runs both servers back to back) are printed too: on a
# shared machine whose speed drifts by 10-20 % within seconds they show how far one round can
# mislead, which is why the default is 7 rounds.
#
# Usage: benches/server/run.sh
#   ROUNDS=7  DURATION=4 (seconds per run)  SERVER_CPU=0  LOAD_CPU=1  THREADS=1 (server workers)
#   LOADS="h1 h1-pipe16 h2-16x16 h2-1x100" (a subset may be chosen)  KEEP_LOGS=1 (keep the run logs)
#   SERVERS="hyper sockless epoll uring" (hyper must be one of them: ratios are to it; add nginx for
#   nginx with one process, `master_process off; worker_processes 1;`, on the HTTP/1.1 loads only:
#   this nginx takes h2c only on a port of its own)
# Needs wrk and h2load (Debian: apt-get install -y wrk nghttp2-client) and taskset.
# Prints a table of req/s and ratios (exits 1 if a goal is missed), then each server's CPU time
# per request and how busy its core was (read from /proc/PID/stat around each run).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/benches/server"
rounds=${ROUNDS:-7}
duration=${DURATION:-4}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
threads=${THREADS:-1}
loads=${LOADS:-h1 h1-pipe16 h2-16x16 h2-1x100}
servers=${SERVERS:-hyper sockless epoll uring}
[[ " $servers " == *" hyper "* ]] || { echo "run.sh: SERVERS must include hyper" >&2; exit 2; }

die() { echo "run.sh: $*" >&2; exit 2; }
for tool in wrk h2load taskset python3 curl; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y wrk nghttp2-client util-linux python3 curl)"
done

# --- build (unpinned, so compilation uses every core) ---------------------------------------
echo "building sockless (release) ..." >&2
(cd "$root" && cargo build --release -q -p sockless-examples --bin sockless) || die "building sockless failed"
echo "building hyper-hello (release) ..." >&2
hyper_target="$root/target/hyper-hello"
(cd "$here/hyper-hello" && CARGO_TARGET_DIR="$hyper_target" cargo build --release -q) || die "building hyper-hello failed"
sockless_bin="${CARGO_TARGET_DIR:-$root/target}/release/sockless"
hyper_bin="$hyper_target/release/hyper-hello"
[[ -x "$sockless_bin" ]] || die "missing $sockless_bin"
[[ -x "$hyper_bin" ]] || die "missing $hyper_bin"

# The io_uring driver runs where the kernel allows io_uring; elsewhere it is left out, saying why.
if [[ " $servers " == *" uring "* ]]; then
    probe=$(timeout 1 "$sockless_bin" serve --driver uring --hello --threads 1 --addr 127.0.0.1:0 2>&1 || true)
    if [[ "$probe" == *"io_uring is not available"* ]]; then
        echo "run.sh: uring driver left out: $probe" >&2
        servers=$(echo " $servers " | sed 's/ uring / /; s/^ //; s/ $//')
    fi
fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/sockless-server-bench.XXXXXX")
server_pid=""
stop_server() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
cleanup() {
    stop_server
    if [[ -z "${KEEP_LOGS:-}" ]]; then rm -rf "$logs"; else echo "logs kept in $logs" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server NAME PORT: runs the server pinned to $server_cpu in the background.
start_server() {
    local name=$1 port=$2
    case $name in
        sockless) taskset -c "$server_cpu" "$sockless_bin" serve --addr "127.0.0.1:$port" --driver tokio --hello --threads "$threads" \
                      >"$logs/server.out" 2>&1 & ;;
        nginx)    sed "s/@PORT@/$port/; s|@LOGS@|$logs|g" "$here/nginx.conf" >"$logs/nginx.conf"
                  taskset -c "$server_cpu" nginx -p "$logs" -c "$logs/nginx.conf" >"$logs/server.out" 2>&1 & ;;
        epoll)    taskset -c "$server_cpu" "$sockless_bin" serve --addr "127.0.0.1:$port" --driver epoll --hello --threads "$threads" \
                      >"$logs/server.out" 2>&1 & ;;
        uring)    taskset -c "$server_cpu" "$sockless_bin" serve --addr "127.0.0.1:$port" --driver uring --hello --threads "$threads" \
                      >"$logs/server.out" 2>&1 & ;;
        hyper)    taskset -c "$server_cpu" "$hyper_bin" --addr "127.0.0.1:$port" --threads "$threads" \
                      >"$logs/server.out" 2>&1 & ;;
    esac
    server_pid=$!
    local i
    for i in $(seq 100); do
        if curl -sf -o /dev/null "http://127.0.0.1:$port/"; then return 0; fi
        kill -0 "$server_pid" 2>/dev/null || { cat "$logs/server.out" >&2; die "$name server exited at start"; }
        sleep 0.05
    done
    die "$name server did not answer on port $port"
}

# run_load LOAD PORT LOGFILE: prints req/s; aborts on any failed request or socket error.
run_load() {
    local load=$1 port=$2 log=$3 url="http://127.0.0.1:$2/"
    case $load in
        h1)        taskset -c "$load_cpu" wrk -t1 -c64 -d"${duration}s" "$url" >"$log" 2>&1 || { cat "$log" >&2; die "wrk failed"; } ;;
        h1-pipe16) taskset -c "$load_cpu" wrk -t1 -c64 -d"${duration}s" -s "$here/pipeline.lua" "$url" -- 16 >"$log" 2>&1 \
                       || { cat "$log" >&2; die "wrk failed"; } ;;
        h2-16x16)  taskset -c "$load_cpu" h2load -c16 -m16 -D "$duration" "$url" >"$log" 2>&1 || { cat "$log" >&2; die "h2load failed"; } ;;
        h2-1x100)  taskset -c "$load_cpu" h2load -c1 -m100 -D "$duration" "$url" >"$log" 2>&1 || { cat "$log" >&2; die "h2load failed"; } ;;
        *) die "unknown load $load" ;;
    esac
    python3 - "$load" "$log" <<'PY' || { cat "$log" >&2; die "errors in run ($log), see above"; }
import re, sys
load, path = sys.argv[1], sys.argv[2]
text = open(path).read()
def fail(msg):
    print(f"run.sh: {load}: {msg}", file=sys.stderr)
    sys.exit(1)
if load.startswith("h1"):
    if "Non-2xx or 3xx responses" in text:
        fail("wrk saw non-2xx/3xx responses")
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m and any(int(x) for x in m.groups()):
        fail(f"wrk socket errors: {m.group(0)}")
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m:
        fail("no Requests/sec line")
    rps = float(m.group(1))
    if rps <= 0:
        fail("zero requests")
    m = re.search(r"(\d+) requests in", text)
    count = int(m.group(1)) if m else 0
else:
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", text)
    if not m:
        fail("no requests: line")
    total, started, done, ok, failed, errored, timeout = map(int, m.groups())
    if failed or errored or timeout:
        fail(f"{failed} failed, {errored} errored, {timeout} timeout")
    if ok == 0 or ok != done:
        fail(f"{ok} succeeded of {done} done")
    # In timed mode (-D) the status counts also include responses that arrive while the clients
    # stop, so 2xx may exceed "succeeded"; what matters is that nothing else came back.
    s = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if not s or int(s.group(1)) < ok or any(int(x) for x in s.groups()[1:]):
        fail("responses other than 2xx")
    m = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", text)
    if not m:
        fail("no req/s figure")
    rps = float(m.group(1))
    count = done
print(f"{rps:.2f} {count}")
PY
}

echo "machine: $(nproc) cores; $(uptime | sed 's/^ *//')" >&2
echo "server: $threads worker thread(s) on core $server_cpu; load generator on core $load_cpu; $rounds rounds of ${duration}s" >&2

results="$logs/results.tsv"
: >"$results"
for load in $loads; do
    for round in $(seq "$rounds"); do
        # Rotate which server goes first, so none always runs on a warmer/cooler machine.
        list=()
        for name in $servers; do
            [[ $name == nginx && $load == h2* ]] || list+=("$name")
        done
        shift_by=$(( (round - 1) % ${#list[@]} ))
        order="${list[*]:$shift_by} ${list[*]:0:$shift_by}"
        for name in $order; do
            port=$(free_port)
            start_server "$name" "$port"
            # The server's CPU time (user + system, clock ticks) over the run.
            ticks0=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
            out=$(run_load "$load" "$port" "$logs/$load.$name.$round.log")
            ticks1=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
            stop_server
            read -r rps count <<<"$out"
            cpu=$(python3 -c "import os; print((${ticks1} - ${ticks0}) / os.sysconf('SC_CLK_TCK'))")
            echo "  $load round $round $name: $rps req/s, server CPU ${cpu}s for $count requests" >&2
            printf '%s\t%s\t%s\t%s\t%s\n' "$load" "$name" "$rps" "$count" "$cpu" >>"$results"
        done
    done
done

python3 - "$results" "$duration" "$servers" <<'PY'
import statistics, sys
path, duration, servers = sys.argv[1], float(sys.argv[2]), sys.argv[3].split()
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
order = []
data, cpu = {}, {}
for load, name, rps, count, secs in rows:
    if load not in order:
        order.append(load)
    data.setdefault((load, name), []).append(float(rps))
    if int(count) > 0:
        cpu.setdefault((load, name), []).append((float(secs) / int(count) * 1e6, float(secs) / duration))
desc = {
    "h1": "wrk -t1 -c64 (HTTP/1.1)",
    "h1-pipe16": "wrk -c64 pipelined x16",
    "h2-16x16": "h2load -c16 -m16 (h2c)",
    "h2-1x100": "h2load -c1 -m100 (h2c)",
}
# (load, server, baseline) -> goal: the least ratio of server's median req/s to baseline's.
goals = {
    ("h1", "sockless", "hyper"): 1.0, ("h1", "epoll", "hyper"): 1.0,
    ("h1-pipe16", "epoll", "hyper"): 3.0,
    ("h1", "epoll", "nginx"): 1.0,
    ("h2-16x16", "sockless", "hyper"): 1.5, ("h2-16x16", "epoll", "hyper"): 1.5,
    ("h2-16x16", "epoll", "sockless"): 1.2,
    ("h2-1x100", "sockless", "hyper"): 1.5, ("h2-1x100", "epoll", "hyper"): 1.5,
    ("h1-pipe16", "uring", "epoll"): 1.0, ("h2-16x16", "uring", "epoll"): 1.0,
    ("h2-1x100", "uring", "epoll"): 1.0,
}
names = {"sockless": "tokio driver", "epoll": "epoll driver", "uring": "uring driver", "hyper": "hyper", "nginx": "nginx"}
ok = True
med = {k: statistics.median(v) for k, v in data.items()}
print()
print(f"{'load':<26}" + "".join(f"{names.get(s, s) + ' req/s':>20}" for s in servers))
for load in order:
    print(f"{desc[load]:<26}" + "".join(f"{med.get((load, s), float('nan')):>20.0f}" for s in servers))
print(f"(median of {len(data[(order[0], servers[0])])} runs of {duration:g}s each; all runs 0 failed/errored)")
print()
# Round by round: the servers of one round ran back to back, so their ratio is free of the
# machine's slow drift, though not of its fast changes.
print(f"{'load':<26}{'ratio':<30}{'median':>8}{'goal':>7}  result  round by round")
for load in order:
    for (gl, server, base), goal in goals.items():
        if gl != load or (load, server) not in data or (load, base) not in data:
            continue
        ratio = med[(load, server)] / med[(load, base)]
        met = ratio >= goal
        ok &= met
        pairs = [s / b for b, s in zip(data[(load, base)], data[(load, server)])]
        label = f"{names[server]} / {names[base]}"
        print(f"{desc[load]:<26}{label:<30}{ratio:>7.2f}x{goal:>6.1f}x  {'met   ' if met else 'MISSED'}  "
              + " ".join(f"{p:.2f}" for p in pairs))
print()
# Server CPU per request: what each server spends, whatever the load generator manages. A
# server below ~95% of a core was waiting for the load generator, not the other way round.
print(f"{'load':<26}" + "".join(f"{names.get(s, s) + ' CPU/req (core)':>28}" for s in servers))
for load in order:
    cells = []
    for s in servers:
        if (load, s) in cpu:
            c = statistics.median(x for x, _ in cpu[(load, s)])
            b = statistics.median(y for _, y in cpu[(load, s)])
            cells.append(f"{c:.2f} us ({b:.0%})")
        else:
            cells.append("-")
    print(f"{desc[load]:<26}" + "".join(f"{c:>28}" for c in cells))
sys.exit(0 if ok else 1)
PY
