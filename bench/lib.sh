# Sourced by the bench scripts: a local Porthole stack with one running task,
# and an sshd on loopback as the baseline. Needs root and a build (./build).
set -euo pipefail
bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$bench_root/build/bin"
work=$(mktemp -d)
up_pid=""
sshd_pid=""
bench_cleanup() {
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
  if [ -n "$up_pid" ]; then kill -TERM "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap bench_cleanup EXIT

source "$bench_root/scripts/local_stack.sh"

# Median of the numbers on stdin.
median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# Starts `porthole up` with a cluster "bench" and a task definition "bench".
# Sets: runc_root.
start_porthole() {
  start_local_stack "$work" 0
  "$bin/porthole" ecs create-cluster --cluster-name bench >/dev/null
  "$bin/porthole" ecs register-task-definition --family bench --container-definitions \
    '[{"name":"app","image":"busybox","command":["sleep","3600"],"stopTimeout":2,"linuxParameters":{"initProcessEnabled":true}}]' >/dev/null
  runc_root="$work/node/runc"
}

# Runs one task and waits for its exec agent; prints the task's ARN.
run_exec_task() {
  local arn
  arn=$("$bin/porthole" ecs run-task --cluster bench --task-definition bench --enable-execute-command | json_field 'd["tasks"][0]["taskArn"]')
  wait_for_exec_agent bench "$arn"
  echo "$arn"
}

# start_porthole and one task. Sets: task (ARN), runtime (its runc id).
start_porthole_task() {
  start_porthole
  task=$(run_exec_task)
  runtime=$("$bin/porthole" ecs describe-tasks --cluster bench --tasks "$task" | json_field 'd["tasks"][0]["containers"][0]["runtimeId"]')
}

agent_pid() { pgrep -f /managed-agents/execute-command/porthole-exec-agent | head -n 1; }
# "RSS KiB, anonymous KiB, file KiB": the file-backed part is the agent's
# executable, one file bind-mounted into every container, so its pages are
# shared by all the agents of a node; the anonymous part is each agent's own.
agent_memory_kib() {
  awk '/^VmRSS/ {r=$2} /^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {print r, a, f}' "/proc/$(agent_pid)/status"
}

# An sshd of our own on a loopback port, root by key only, aes128-gcm.
# Sets: ssh (an array: the client command up to the host).
start_sshd() {
  mkdir -p /run/sshd "$work/ssh"
  ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/client_key"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$work/ssh/sshd_config" <<CONF
ListenAddress 127.0.0.1:$port
HostKey $work/ssh/host_key
AuthorizedKeysFile $work/ssh/client_key.pub
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Ciphers aes128-gcm@openssh.com
PidFile none
CONF
  # A low descriptor limit: sshd closes every possible descriptor per session.
  (ulimit -n 1024; exec /usr/sbin/sshd -D -e -f "$work/ssh/sshd_config") 2>"$work/ssh/sshd.log" &
  sshd_pid=$!
  ssh=(ssh -q -i "$work/ssh/client_key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
       -o Ciphers=aes128-gcm@openssh.com -o ControlMaster=auto -o "ControlPath=$work/ssh/master"
       -o ControlPersist=600 -p "$port" root@127.0.0.1)
  for _ in $(seq 1 50); do "${ssh[@]}" true 2>/dev/null && return 0; sleep 0.1; done
  echo "sshd did not start: $(cat "$work/ssh/sshd.log")" >&2
  exit 1
}
