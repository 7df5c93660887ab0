#!/usr/bin/env bash
# Run on demand (never in CI): time to run a trivial command in a container,
# Porthole's full path (CLI process, API call, authorization, gateway, agent,
# PTY, exit status) against the baseline `runc exec` on the same container,
# measured in the same run. Also reports the exec agent's memory, idle and
# with one session open.
#   bench/exec_latency.sh [runs]
source "$(dirname "$0")/lib.sh"
runs="${1:-20}"
start_porthole_task

elapsed() {  # seconds for `runs` runs of "$@"
  local start end
  start=$(date +%s.%N)
  for _ in $(seq 1 "$runs"); do "$@" </dev/null >/dev/null 2>&1; done
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
porthole_s=$(elapsed "$bin/porthole" ecs execute-command --cluster bench --task "$task" --interactive --command true)
runc_s=$(elapsed runc --root "$runc_root" exec "$runtime" true)
per_run() { echo "$1 * 1000 / $runs" | bc -l; }
printf 'runs: %d\n' "$runs"
printf 'porthole execute-command: %.1f ms per run\n' "$(per_run "$porthole_s")"
printf 'runc exec (baseline):     %.1f ms per run\n' "$(per_run "$runc_s")"
printf 'ratio porthole/runc:      %.2f  (goal <= 0.5)\n' "$(echo "$porthole_s / $runc_s" | bc -l)"
# The agent gives its code pages and free heap back 2 s after its last
# session (src/agent/memory_release.h): read it idle as it is between sessions.
sleep 3
read -r rss anon file < <(agent_memory_kib)
printf 'exec agent, idle:         RSS %d KiB: %d anonymous, %d of its executable  (goal: RSS <= 3072)\n' "$rss" \
  "$anon" "$file"
# One session open (a shell sleeping): what it adds to the agent.
"$bin/porthole" ecs execute-command --cluster bench --task "$task" --interactive --command "sleep 6" \
  </dev/null >/dev/null 2>&1 &
session_pid=$!
sleep 4
read -r rss1 anon1 _ < <(agent_memory_kib)
wait "$session_pid" || true
printf 'exec agent, one session:  RSS %d KiB: %d anonymous  (+%d KiB; goal <= +1024)\n' "$rss1" "$anon1" \
  "$((rss1 - rss))"
