#!/usr/bin/env bash
# README command (A): installs what is needed, builds, starts the embedded
# default (a local control plane and node), runs a busybox task with
# execute-command enabled and opens an interactive shell in its container.
# Leave the shell with `exit`; the task and both daemons are then stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh

export PORTHOLE_DATA_DIR="${PORTHOLE_DATA_DIR:-$HOME/.porthole}"
port="${PORTHOLE_PORT:-8443}"
bin="$PWD/build/bin"
log="$PORTHOLE_DATA_DIR/up.log"
mkdir -p "$PORTHOLE_DATA_DIR"

"$bin/porthole" up --data-dir "$PORTHOLE_DATA_DIR" --port "$port" >"$PORTHOLE_DATA_DIR/up.out" 2>"$log" &
up_pid=$!
cleanup() {
  kill -TERM "$up_pid" 2>/dev/null || true
  wait "$up_pid" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  grep -q '^ready ' "$PORTHOLE_DATA_DIR/up.out" 2>/dev/null && break
  if ! kill -0 "$up_pid" 2>/dev/null; then cat "$log" >&2; exit 1; fi
  sleep 0.1
done
grep -q '^ready ' "$PORTHOLE_DATA_DIR/up.out" || { echo "porthole up did not become ready" >&2; cat "$log" >&2; exit 1; }
eval "$("$bin/porthole" env --data-dir "$PORTHOLE_DATA_DIR")"
echo "porthole: control plane at $AWS_ENDPOINT_URL (logs: $log)"

porthole="$bin/porthole"
"$porthole" ecs create-cluster --cluster-name demo >/dev/null
"$porthole" ecs register-task-definition --family demo-shell --container-definitions \
  '[{"name":"app","image":"busybox","command":["sleep","86400"],"stopTimeout":2,"linuxParameters":{"initProcessEnabled":true}}]' >/dev/null
json_field() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
task=$("$porthole" ecs run-task --cluster demo --task-definition demo-shell --enable-execute-command |
  json_field 'd["tasks"][0]["taskArn"]')
echo "porthole: started task $task; waiting for its exec agent"
agent=""
for _ in $(seq 1 300); do
  agent=$("$porthole" ecs describe-tasks --cluster demo --tasks "$task" |
    json_field 'd["tasks"][0]["containers"][0]["managedAgents"][0]["lastStatus"]')
  [ "$agent" = RUNNING ] && break
  sleep 0.2
done
[ "$agent" = RUNNING ] || { echo "the exec agent did not start; see $log" >&2; exit 1; }
echo "porthole: opening a shell in container 'app' (type exit to leave)"
set +e
"$porthole" ecs execute-command --cluster demo --task "$task" --container app --interactive --command /bin/sh
status=$?
set -e
"$porthole" ecs stop-task --cluster demo --task "$task" >/dev/null || true
exit "$status"
