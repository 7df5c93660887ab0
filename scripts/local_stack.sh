# Sourced by scripts/demo.sh and bench/lib.sh: the embedded default
# (`porthole up`) in the background, and waiting for a task's exec agent.
# Expects $bin (the programs' directory).

# The value of a Python expression over the JSON document on stdin (as d).
json_field() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# start_local_stack DATA_DIR PORT: starts `porthole up`, waits until it is
# ready and exports its environment (`porthole env`). Sets up_pid; stops the
# caller with the log when it does not come up.
start_local_stack() {
  local dir="$1" port="$2"
  mkdir -p "$dir"
  "$bin/porthole" up --data-dir "$dir" --port "$port" >"$dir/up.out" 2>"$dir/up.log" &
  up_pid=$!
  for _ in $(seq 1 100); do
    grep -q '^ready ' "$dir/up.out" 2>/dev/null && break
    if ! kill -0 "$up_pid" 2>/dev/null; then cat "$dir/up.log" >&2; exit 1; fi
    sleep 0.1
  done
  grep -q '^ready ' "$dir/up.out" || { echo "porthole up did not become ready" >&2; cat "$dir/up.log" >&2; exit 1; }
  eval "$("$bin/porthole" env --data-dir "$dir")"
}

# wait_for_exec_agent CLUSTER TASK: until the first container's exec agent is
# RUNNING (at most 60 s); stops the caller if it never is.
wait_for_exec_agent() {
  local status=""
  for _ in $(seq 1 300); do
    status=$("$bin/porthole" ecs describe-tasks --cluster "$1" --tasks "$2" |
      json_field 'd["tasks"][0]["containers"][0]["managedAgents"][0]["lastStatus"]')
    [ "$status" = RUNNING ] && return 0
    sleep 0.2
  done
  echo "the exec agent of $2 did not start (last status: ${status:-none})" >&2
  exit 1
}
