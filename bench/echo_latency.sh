#!/usr/bin/env bash
# Run on demand (never in CI): keystroke echo latency with many concurrent
# active sessions, Porthole against ssh -tt (aes128-gcm, one connection per
# session, to an sshd of ours on loopback), in the same run. Each session
# runs `stty raw -echo; cat` and types a key every ~100 ms (bench/echo_driver.py).
# Porthole's sessions are spread over tasks of 10 (its per-container limit).
#   bench/echo_latency.sh [sessions] [seconds]
source "$(dirname "$0")/lib.sh"
sessions="${1:-100}"
seconds="${2:-20}"
start_porthole
tasks=()
for _ in $(seq 1 $(((sessions + 9) / 10))); do tasks+=("$(run_exec_task)"); done
start_sshd
remote="sh -c 'stty raw -echo; exec cat'"
porthole_cmds=$(for i in $(seq 0 $((sessions - 1))); do
  printf '%s\n' "${tasks[$((i / 10))]}"
done | python3 -c "
import json, sys
print(json.dumps([['$bin/porthole', 'ecs', 'execute-command', '--cluster', 'bench', '--task', t.strip(),
                   '--interactive', '--command', sys.argv[1]] for t in sys.stdin]))" "$remote")
ssh_cmds=$(python3 -c "
import json, sys
print(json.dumps([sys.argv[2:] + ['-o', 'ControlPath=none', '-tt', sys.argv[1]]] * int('$sessions')))" \
  "$remote" "${ssh[@]}")
p=$(echo "$porthole_cmds" | python3 "$bench_root/bench/echo_driver.py" --seconds "$seconds")
s=$(echo "$ssh_cmds" | python3 "$bench_root/bench/echo_driver.py" --seconds "$seconds")
field() { echo "$1" | json_field "d['$2']"; }
printf '%d sessions, %s s each, a key every ~100 ms\n' "$sessions" "$seconds"
printf 'porthole: p50 %6.2f ms  p99 %6.2f ms  (%s samples, %s lost)\n' "$(field "$p" p50)" "$(field "$p" p99)" \
  "$(field "$p" samples)" "$(field "$p" lost)"
printf 'ssh -tt:  p50 %6.2f ms  p99 %6.2f ms  (%s samples, %s lost)\n' "$(field "$s" p50)" "$(field "$s" p99)" \
  "$(field "$s" samples)" "$(field "$s" lost)"
printf 'ratio p99 porthole/ssh: %.2f  (goal <= 1.0)\n' "$(echo "$(field "$p" p99) / $(field "$s" p99)" | bc -l)"
