#!/usr/bin/env bash
# Soaks a monitor on loopback and samples its resident memory, to show that memory stops
# growing. Everything runs on 127.0.0.1 and stops when the time is up (or on Ctrl-C):
#   - a demo station (`archivist demo-station`) with about --vods VODs, whose states move on
#     every 10 s (encodes start, progress, fail, are retried; published VODs re-encoded),
#     behind a proxy (python3) that answers every --error-every'th request with HTTP 500
#     once the first catalogue pass has had WARMUP_SECS to finish; listing pages are spared
#     unless --errors-on-listings (a full pass of hundreds of pages rarely gets through 2 % of
#     errors, and the monitor would then spend every cycle on failed passes instead of
#     following the VODs' changes);
#   - a webhook receiver (python3) that is down 30 s of every 120 s;
#   - `archivist monitor --interval 1`, alerting to that webhook, with its status page;
#   - a burst of 50 keep-alive connections on the status page every minute
#     (`archivist loadtest --users 50 --duration 2`);
#   - the monitor's VmRSS and thread count every 10 s into OUT/rss.csv, and a summary at
#     90 s, 10 min, 20 min, 60 min and the end.
#
# Usage: deploy/soak.sh [--binary PATH] [--minutes N] [--vods N] [--error-every N]
#                       [--errors-on-listings] [--out DIR] [--station-arg ARG]...
#   --binary       the archivist to soak (default: target/release/archivist)
#   --minutes      how long (default 20, at most 1440)
#   --vods         VODs in the demo station's catalogue (default 10000)
#   --error-every  one Cablecast answer in N is HTTP 500 (default 50: 2 %; 0: none)
#   --errors-on-listings  listing pages (offset=...) may answer 500 too
#   --out          where the database, logs and rss.csv go (default: a new folder in /tmp)
#   --station-arg  passed on to `archivist demo-station` (repeat for several), e.g. a fault
#                  the demo station can inject
set -euo pipefail

DEPLOY_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$DEPLOY_DIR/.." && pwd -P)
# How often the monitor's memory is read.
SAMPLE_SECS=10
# A burst on the status page every BURST_EVERY seconds, of BURST_USERS connections.
BURST_EVERY=60
BURST_USERS=50
# The webhook receiver is up UP_SECS, then down DOWN_SECS, over and over.
WEBHOOK_UP_SECS=90
WEBHOOK_DOWN_SECS=30
# Seconds before the proxy starts answering 500s: the first catalogue pass fills the
# database meanwhile.
WARMUP_SECS=30
# How long the demo station and the monitor may take to start.
START_SECS=60
# The summary's moments, in seconds (the end is added).
REPORT_AT="90 600 1200 3600"

die() {
    echo "soak: $*" >&2
    exit 1
}

binary="$REPO_ROOT/target/release/archivist"
minutes=20
vods=10000
error_every=50
on_listings=0
out=""
station_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary=${2:?--binary needs a path}; shift 2 ;;
        --minutes) minutes=${2:?--minutes needs a number}; shift 2 ;;
        --vods) vods=${2:?--vods needs a number}; shift 2 ;;
        --error-every) error_every=${2:?--error-every needs a number}; shift 2 ;;
        --errors-on-listings) on_listings=1; shift ;;
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        --station-arg) station_args+=("${2:?--station-arg needs a value}"); shift 2 ;;
        -h | --help)
            awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
done
[[ "$minutes" =~ ^[0-9]+$ ]] && [ "$minutes" -ge 1 ] && [ "$minutes" -le 1440 ] ||
    die "--minutes must be 1 to 1440"
[[ "$vods" =~ ^[0-9]+$ ]] && [ "$vods" -ge 11 ] || die "--vods must be a number, at least 11"
[[ "$error_every" =~ ^[0-9]+$ ]] || die "--error-every must be a number (0: no errors)"
[ -x "$binary" ] || die "$binary is not an executable; build it (cargo build --release) or pass --binary"
command -v python3 >/dev/null || die "python3 not found (the webhook receiver needs it)"
if [ -z "$out" ]; then
    out=$(mktemp -d /tmp/archivist-soak.XXXXXX)
fi
mkdir -p "$out"
out=$(cd -- "$out" && pwd -P)

pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until FILE has a line matching the pattern; echoes the first such line.
wait_for_line() {
    local file=$1 pattern=$2 pid=$3 what=$4 waited=0
    until grep -qsE "$pattern" "$file"; do
        kill -0 "$pid" 2>/dev/null || die "$what exited: $(tail -n 5 "$file")"
        [ "$waited" -lt $((START_SECS * 10)) ] || die "$what did not start in ${START_SECS}s"
        sleep 0.1
        waited=$((waited + 1))
    done
    grep -m 1 -E "$pattern" "$file"
}

# The demo station generates about 1.1 VODs per show.
shows=$((vods * 10 / 11))
"$binary" demo-station --listen 127.0.0.1:0 --shows "$shows" "${station_args[@]}" \
    >"$out/station.log" 2>&1 &
pids+=($!)
api_url=$(wait_for_line "$out/station.log" '^CABLECAST_API_URL=' "${pids[-1]}" "demo station")
api_url=${api_url#CABLECAST_API_URL=}
station=${api_url#http://}
station=${station%%/*}

# The flaky front: forwards every request to the station, except every Nth, which gets a 500.
python3 - "$station" "$error_every" "$WARMUP_SECS" "$on_listings" >"$out/proxy.log" 2>&1 <<'PY' &
import http.client, http.server, socket, sys, threading, time
station, every, warmup = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
on_listings = sys.argv[4] == "1"
started = time.monotonic()
host, port = station.rsplit(":", 1)
lock = threading.Lock()
counts = {"requests": 0, "eligible": 0, "errors": 0}
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
class Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        listing = "offset=" in self.path
        with lock:
            counts["requests"] += 1
            warm = time.monotonic() - started >= warmup
            may_fail = warm and every > 0 and (on_listings or not listing)
            if may_fail:
                counts["eligible"] += 1
            fail = may_fail and counts["eligible"] % every == 0
            if fail:
                counts["errors"] += 1
        if fail:
            page = b"<html><body>Internal Server Error</body></html>"
            self.send_response(500)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        upstream = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = forward
    def log_message(self, *args):
        pass
    def handle(self):
        try:
            super().handle()
        except (ConnectionError, TimeoutError):
            pass  # the monitor gave up on a request: nothing to answer
class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
server = Server(("127.0.0.1", 0), Front)
print(f"PROXY=127.0.0.1:{server.server_address[1]}", flush=True)
def report():
    while True:
        threading.Event().wait(60)
        with lock:
            print(f"{counts['requests']} requests, {counts['errors']} answered 500 of {counts['eligible']} that could", flush=True)
threading.Thread(target=report, daemon=True).start()
server.serve_forever()
PY
pids+=($!)
proxy=$(wait_for_line "$out/proxy.log" '^PROXY=' "${pids[-1]}" "Cablecast proxy")
api_url=${api_url/$station/${proxy#PROXY=}}

# The webhook receiver: answers every POST with 204, and closes its port for
# WEBHOOK_DOWN_SECS of every cycle, so deliveries fail and are retried.
python3 - "$WEBHOOK_UP_SECS" "$WEBHOOK_DOWN_SECS" >"$out/webhook.log" 2>&1 <<'PY' &
import http.server, socket, sys, time
up, down = float(sys.argv[1]), float(sys.argv[2])
received = 0
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global received
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        received += 1
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
print(f"WEBHOOK_URL=http://127.0.0.1:{port}/hook", flush=True)
class Server(http.server.HTTPServer):
    allow_reuse_address = True
while True:
    server = Server(("127.0.0.1", port), Hook)
    server.timeout = 0.5
    until = time.monotonic() + up
    while time.monotonic() < until:
        server.handle_request()
    server.server_close()
    print(f"down for {down:.0f} s; {received} messages so far", flush=True)
    time.sleep(down)
PY
pids+=($!)
webhook=$(wait_for_line "$out/webhook.log" '^WEBHOOK_URL=' "${pids[-1]}" "webhook receiver")
webhook=${webhook#WEBHOOK_URL=}

db="$out/soak.db"
env -i PATH="$PATH" ARCHIVIST_DB="$db" "$binary" init >/dev/null
env -i PATH="$PATH" ARCHIVIST_DB="$db" CABLECAST_API_URL="$api_url" \
    ARCHIVIST_NOTIFY_URLS="$webhook" \
    "$binary" monitor --interval 1 --listen 127.0.0.1:0 >"$out/monitor.log" 2>&1 &
monitor=$!
pids+=("$monitor")
page=$(wait_for_line "$out/monitor.log" 'status page on http://' "$monitor" "monitor")
page=$(sed -E 's|.*status page on (http://[^/ ]*)/.*|\1|' <<<"$page")

{
    echo "binary: $binary ($("$binary" --version))"
    echo "station: $api_url (proxy to $station), about $vods VODs, HTTP 500 every ${error_every} answers (0: none; listings too: $on_listings) ${station_args[*]:-}"
    echo "webhook: $webhook, down ${WEBHOOK_DOWN_SECS}s of every $((WEBHOOK_UP_SECS + WEBHOOK_DOWN_SECS))s"
    echo "monitor: pid $monitor, page $page, interval 1 s; burst of $BURST_USERS connections every ${BURST_EVERY}s"
    echo "for $minutes min; samples every ${SAMPLE_SECS}s in $out/rss.csv"
} | tee "$out/summary.txt"

echo "seconds,rss_kib,threads" >"$out/rss.csv"
started=$SECONDS
next_burst=$BURST_EVERY
end=$((minutes * 60))
while :; do
    elapsed=$((SECONDS - started))
    kill -0 "$monitor" 2>/dev/null || die "the monitor exited: $(tail -n 5 "$out/monitor.log")"
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$monitor/status")
    threads=$(awk '/^Threads:/ { print $2 }' "/proc/$monitor/status")
    echo "$elapsed,$rss,$threads" >>"$out/rss.csv"
    [ "$elapsed" -lt "$end" ] || break
    if [ "$elapsed" -ge "$next_burst" ]; then
        "$binary" loadtest --url "$page" --users "$BURST_USERS" --duration 2 \
            >>"$out/bursts.log" 2>&1 || echo "soak: a burst failed at ${elapsed}s" >>"$out/bursts.log"
        next_burst=$((next_burst + BURST_EVERY))
    fi
    sleep "$SAMPLE_SECS"
done

# RSS at the first sample at or after each moment, and at the end.
report() {
    awk -F, -v at="$1" 'NR > 1 && $1 >= at { printf "%6ds  %7.1f MB  %3d threads\n", $1, $2 / 1024, $3; exit }' \
        "$out/rss.csv"
}
{
    echo "RSS of the monitor (MB = 1024 KiB):"
    for at in $REPORT_AT; do
        [ "$at" -le "$end" ] && report "$at"
    done
    tail -n 1 "$out/rss.csv" | awk -F, '{ printf "%6ds  %7.1f MB  %3d threads  (end)\n", $1, $2 / 1024, $3 }'
    awk -F, 'NR > 1 && $2 > max { max = $2 } END { printf "peak sampled: %.1f MB\n", max / 1024 }' "$out/rss.csv"
    echo "cycles: $(grep -c 'cycle' "$out/monitor.log" || true) log lines; errors: $(grep -c ' ERROR ' "$out/monitor.log" || true)"
    echo "webhook: $(tail -n 1 "$out/webhook.log")"
    echo "Cablecast: $(tail -n 1 "$out/proxy.log")"
} | tee -a "$out/summary.txt"
