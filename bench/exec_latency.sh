#!/usr/bin/env bash
# Run on demand (never in CI): time to run a trivial command in a container,
# Porthole's full path (API call, authorization, gateway, agent, PTY) against
# the baseline `runc exec` on the same container, measured in the same run.
# Also reports the exec agent's resident memory. Needs root and a build.
#   bench/exec_latency.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
bin="$PWD/build/bin"
work=$(mktemp -d)
trap 'kill -TERM $up_pid 2>/dev/null; wait $up_pid 2>/dev/null; rm -rf "$work"' EXIT

"$bin/porthole" up --data-dir "$work" --port 0 >"$work/up.out" 2>"$work/up.log" &
up_pid=$!
for _ in $(seq 1 100); do grep -q '^ready ' "$work/up.out" 2>/dev/null && break; sleep 0.1; done
eval "$("$bin/porthole" env --data-dir "$work")"
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
"$bin/porthole" ecs create-cluster --cluster-name bench >/dev/null
"$bin/porthole" ecs register-task-definition --family bench --container-definitions \
  '[{"name":"app","image":"busybox","command":["sleep","3600"],"stopTimeout":2,"linuxParameters":{"initProcessEnabled":true}}]' >/dev/null
task=$("$bin/porthole" ecs run-task --cluster bench --task-definition bench --enable-execute-command | json 'd["tasks"][0]["taskArn"]')
for _ in $(seq 1 150); do
  status=$("$bin/porthole" ecs describe-tasks --cluster bench --tasks "$task" |
    json 'd["tasks"][0]["containers"][0]["managedAgents"][0]["lastStatus"]')
  [ "$status" = RUNNING ] && break
  sleep 0.2
done
runtime=$("$bin/porthole" ecs describe-tasks --cluster bench --tasks "$task" | json 'd["tasks"][0]["containers"][0]["runtimeId"]')

elapsed() {  # seconds for `runs` runs of "$@"
  local start end
  start=$(date +%s.%N)
  for _ in $(seq 1 "$runs"); do "$@" </dev/null >/dev/null 2>&1; done
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
porthole_s=$(elapsed "$bin/porthole" ecs execute-command --cluster bench --task "$task" --interactive --command true)
runc_s=$(elapsed runc --root "$work/node/runc" exec "$runtime" true)
agent_pid=$(pgrep -f /managed-agents/execute-command/porthole-exec-agent | head -n 1)
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$agent_pid/status")
printf 'runs: %d\n' "$runs"
printf 'porthole execute-command: %.1f ms per run\n' "$(echo "$porthole_s * 1000 / $runs" | bc -l)"
printf 'runc exec (baseline):     %.1f ms per run\n' "$(echo "$runc_s * 1000 / $runs" | bc -l)"
printf 'ratio porthole/runc:      %.2f\n' "$(echo "$porthole_s / $runc_s" | bc -l)"
printf 'exec agent RSS:           %d KiB\n' "$rss_kb"
