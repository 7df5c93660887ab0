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

source ./scripts/local_stack.sh
up_pid=""
cleanup() {
  kill -TERM "$up_pid" 2>/dev/null || true
  wait "$up_pid" 2>/dev/null || true
}
trap cleanup EXIT
start_local_stack "$PORTHOLE_DATA_DIR" "$port"
echo "porthole: control plane at $AWS_ENDPOINT_URL (logs: $log)"

porthole="$bin/porthole"
"$porthole" ecs create-cluster --cluster-name demo >/dev/null
"$porthole" ecs register-task-definition --family demo-shell --container-definitions \
  '[{"name":"app","image":"busybox","command":["sleep","86400"],"stopTimeout":2,"linuxParameters":{"initProcessEnabled":true}}]' >/dev/null
task=$("$porthole" ecs run-task --cluster demo --task-definition demo-shell --enable-execute-command |
  json_field 'd["tasks"][0]["taskArn"]')
echo "porthole: started task $task; waiting for its exec agent"
wait_for_exec_agent demo "$task"
echo "porthole: opening a shell in container 'app' (type exit to leave)"
set +e
"$porthole" ecs execute-command --cluster demo --task "$task" --container app --interactive --command /bin/sh
status=$?
set -e
"$porthole" ecs stop-task --cluster demo --task "$task" >/dev/null || true
exit "$status"
