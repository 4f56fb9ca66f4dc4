# Shared by the exchange scenarios (source it after scenario_begin): JSON fields of the
# last command's output, free ports, and the servers a scenario starts (PIDS), stopped
# on exit.

json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$WORK/last.log"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PIDS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null || true; done
}
trap 'stop_all; rm -rf "$WORK"' EXIT
