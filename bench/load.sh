#!/usr/bin/env bash
# Run on demand (never in CI): one portholed holding many connected exec agents
# and active sessions. Every node, exec agent and client is simulated by
# porthole-loadgen (bench/loadgen), speaking the real protocol with real
# credentials: nodes join with join tokens and report their tasks, each
# container's agent opens its control channel with the credentials PollTasks
# gave it, clients call ExecuteCommand and type into their sessions, the agents
# echo. Prints portholed's RSS (baseline, with the agents connected and idle,
# with the sessions active), its CPU use over the active period and the
# keystroke echo latency.
#   bench/load.sh [agents] [sessions] [seconds]
# Environment: KEY_INTERVAL_MS (mean time from an echo to the next key, 1000),
# CONTAINERS (per task, 10), POLL_WAIT (the nodes' PollTasks waitSeconds; 20 is
# what porthole-node uses), NODE_POLLS (0: the nodes pause polling during the
# measured period, to see the gateway alone; 1), THREADS (the generator's, 2), PORTHOLE_BIN (where
# portholed, porthole and porthole-loadgen are; default build/bin).
# Needs root (to raise the descriptor limit).
source "$(dirname "$0")/lib.sh"
agents="${1:-100}"
sessions="${2:-10}"
seconds="${3:-10}"
key_interval_ms="${KEY_INTERVAL_MS:-1000}"
containers="${CONTAINERS:-10}"
poll_wait="${POLL_WAIT:-20}"
node_polls="${NODE_POLLS:-1}"
threads="${THREADS:-2}"
bin="${PORTHOLE_BIN:-$bin}"
# The generator is not part of the default build.
[ -n "${PORTHOLE_BIN:-}" ] || cmake --build "$bench_root/build" --target porthole-loadgen >/dev/null
for program in portholed porthole porthole-loadgen; do
  [ -x "$bin/$program" ] || { echo "load.sh: no $bin/$program (build it, or set PORTHOLE_BIN)" >&2; exit 1; }
done

# One descriptor per connection on both sides (an agent's control channel; a
# session's two data channels), with room for the API calls. portholed itself
# refuses connections beyond 16384 (HttpsServerOptions::max_connections).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
needed=$((agents + 2 * sessions + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$needed" ]; then
  echo "load.sh: $needed descriptors needed, the limit is $(ulimit -n) (raise it as root)" >&2
  exit 1
fi

# The per-container session limit must admit sessions/agents sessions on one container.
per_container=$(((sessions + agents - 1) / agents))
[ "$per_container" -lt 10 ] && per_container=10

# portholed of our own, as `porthole up` lays out its data directory.
"$bin/portholed" --data-dir "$work/control-plane" --listen 127.0.0.1:0 --sessions-per-container "$per_container" \
  >"$work/portholed.out" 2>"$work/portholed.log" &
up_pid=$!  # stopped by lib.sh's cleanup
for _ in $(seq 1 100); do grep -q '^ready ' "$work/portholed.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^ready //p' "$work/portholed.out")
[ -n "$url" ] || { echo "load.sh: portholed did not start: $(tail -5 "$work/portholed.log")" >&2; exit 1; }
echo "$url" >"$work/endpoint"
eval "$("$bin/porthole" env --data-dir "$work")"
pid=$up_pid

"$bin/porthole" ecs create-cluster --cluster-name loadgen >/dev/null
definitions=$(python3 -c "
import json, sys
print(json.dumps([{'name': 'c%d' % i, 'image': 'busybox', 'command': ['sleep', '3600']} for i in range(int(sys.argv[1]))]))
" "$containers")
"$bin/porthole" ecs register-task-definition --family loadgen --container-definitions "$definitions" >/dev/null

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
cpu_ticks() { sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'; }  # utime + stime
fds() { ls "/proc/$pid/fd" | wc -l; }
# name rss_kib cpu_ticks fds time
sample() { echo "$1 $(rss_kib) $(cpu_ticks) $(fds) $(date +%s.%N)" >>"$work/samples"; }
sample baseline

echo "porthole-loadgen: $agents agents, $sessions sessions, ${seconds} s measured, a key every ~${key_interval_ms} ms" \
  "per session ($containers containers per task; nodes long-poll with waitSeconds $poll_wait," \
  "$([ "$node_polls" = 0 ] && echo paused || echo polling) while measured)" >&2
set +e
"$bin/porthole-loadgen" --endpoint "$url" --ca "$AWS_CA_BUNDLE" --credentials "$AWS_SHARED_CREDENTIALS_FILE" \
  --config "$AWS_CONFIG_FILE" --cluster loadgen --task-definition loadgen --agents "$agents" --sessions "$sessions" \
  --duration "$seconds" --key-interval-ms "$key_interval_ms" --poll-wait "$poll_wait" --threads "$threads" \
  --polls-while-measuring "$([ "$node_polls" = 0 ] && echo false || echo true)" \
  2>"$work/loadgen.log" |
  while read -r line; do
    case "$line" in
      "phase "*)
        name=${line#phase }; name=${name%% *}
        sample "$name"
        echo "  $line" >&2 ;;
      "{"*) echo "$line" >"$work/result.json" ;;
    esac
  done
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ] || [ ! -s "$work/result.json" ]; then
  echo "load.sh: porthole-loadgen failed (status $status)" >&2
  tail -20 "$work/loadgen.log" >&2
  echo "--- portholed.log (tail)" >&2
  tail -20 "$work/portholed.log" >&2
  [ -s "$work/result.json" ] && cat "$work/result.json"
  exit 1
fi

field() { awk -v n="$1" -v c="$2" '$1 == n {print $c}' "$work/samples"; }
r() { json_field "$1" <"$work/result.json"; }
hz=$(getconf CLK_TCK)
base=$(field baseline 2); tasks=$(field tasks-running 2); idle=$(field agents-connected 2); active=$(field measure-end 2)
cpu=$(echo "($(field measure-end 3) - $(field measure-start 3)) / $hz / ($(field measure-end 5) - $(field measure-start 5)) * 100" | bc -l)
connected=$(r 'd["agentsConnected"]'); active_sessions=$(r 'd["sessionsActive"]')
mib() { echo "$1 / 1024" | bc -l; }
per() { [ "$2" -gt 0 ] && echo "($1) / $2" | bc -l || echo nan; }
printf 'portholed RSS, baseline (cluster and task definition):  %8.1f MiB\n' "$(mib "$base")"
printf 'portholed RSS, %d tasks running, no agent yet:        %8.1f MiB\n' "$(r 'd["tasks"]')" "$(mib "$tasks")"
printf 'portholed RSS, %d agents connected and idle:          %8.1f MiB  (%.1f KiB per agent over the tasks alone, %.1f KiB with its task state)\n' \
  "$connected" "$(mib "$idle")" "$(per "$idle - $tasks" "$connected")" "$(per "$idle - $base" "$connected")"
printf 'portholed RSS, %d sessions active:                    %8.1f MiB  (%.1f KiB per session)\n' \
  "$active_sessions" "$(mib "$active")" "$(per "$active - $idle" "$active_sessions")"
printf 'portholed descriptors: %d with the agents idle, %d with the sessions active\n' \
  "$(field agents-connected 4)" "$(field measure-end 4)"
printf 'portholed CPU over the active period: %.1f %% of one core  (the generator: %s %%)\n' "$cpu" "$(r 'd["loadgenCpuPct"]')"
printf 'echo latency: p50 %s ms  p90 %s ms  p99 %s ms  max %s ms  (%s samples, %s lost, %s retransmissions)\n' \
  "$(r 'd["p50"]')" "$(r 'd["p90"]')" "$(r 'd["p99"]')" "$(r 'd["max"]')" "$(r 'd["samples"]')" "$(r 'd["lost"]')" \
  "$(r 'd["retransmissions"]')"
printf 'setup: tasks %s s, agents %s s, sessions %s s; describe-tasks shows %s managed agents RUNNING (a sample); errors: %s\n' \
  "$(r 'd["setupSeconds"]["tasks"]')" "$(r 'd["setupSeconds"]["agents"]')" "$(r 'd["setupSeconds"]["sessions"]')" \
  "$(r 'd["describedAgentsRunning"]')" "$(r 'd["errors"]')"
[ "$(r 'd["errors"]')" = 0 ] || r 'json.dumps(d["errorDetail"])' >&2
cat "$work/result.json"
