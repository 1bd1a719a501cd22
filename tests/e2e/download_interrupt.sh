#!/usr/bin/env bash
# Ctrl-C during the MNIST download: normtrain must stop within a second or two, exit 130 and
# leave no partial file in --data-dir. The mirror is a local server that trickles its answer.
# Usage: e2e_download_interrupt.sh NORMTRAIN_BINARY
# Exits 77 (skipped) when /usr/bin/python3, which plays the mirror, is absent.
set -euo pipefail
bin=$1
python=/usr/bin/python3
[ -x "$python" ] || { echo "SKIP: $python is needed to serve the slow mirror"; exit 77; }

work=$(mktemp -d)
server=""
run=""
cleanup() {
  for pid in $run $server; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The mirror: answers every GET with a 50 MB body sent 64 bytes every 20 ms, so a download is
# always under way. It writes the port it got to $work/port.
"$python" - "$work/port" <<'EOF' &
import http.server
import os
import socketserver
import sys
import time


class Trickle(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(50_000_000))
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"\x1f" * 64)
                self.wfile.flush()
                time.sleep(0.02)
        except OSError:
            pass  # the client hung up

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Trickle)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
EOF
server=$!
for _ in $(seq 1 250); do [ -s "$work/port" ] && break; sleep 0.02; done
[ -s "$work/port" ] || { echo "the trickling server did not start"; exit 1; }
port=$(cat "$work/port")

data=$work/data
mkdir "$data"
"$bin" --data-dir "$data" --mirror "http://127.0.0.1:$port/" --epochs 1 --device cpu --threads 1 \
  --out "$work/out" 2>"$work/stderr" &
run=$!

# Wait until the download has written part of its file.
started=0
for _ in $(seq 1 500); do
  if compgen -G "$data/*.part" >/dev/null && [ -n "$(find "$data" -name '*.part' -size +0c)" ]; then
    started=1
    break
  fi
  sleep 0.02
done
[ "$started" -eq 1 ] || { echo "the download never started"; cat "$work/stderr"; exit 1; }
sleep 0.3

sent=$(date +%s%N)
kill -INT "$run"
status=0
wait "$run" || status=$?
ended=$(date +%s%N)
run=""
elapsed_ms=$(((ended - sent) / 1000000))

fail() {
  echo "$1"
  echo "--- normtrain's stderr:"
  cat "$work/stderr"
  exit 1
}
[ "$elapsed_ms" -le 2000 ] || fail "normtrain took ${elapsed_ms} ms to stop after SIGINT, want <= 2000"
[ -z "$(ls -A "$data")" ] || fail "the data folder is not empty after the interrupt: $(ls -A "$data")"
[ "$status" -eq 130 ] || fail "exit status $status after SIGINT during the download, want 130"
echo "stopped ${elapsed_ms} ms after SIGINT with status $status; $data is empty"
