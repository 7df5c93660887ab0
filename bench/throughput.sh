#!/usr/bin/env bash
# Run on demand (never in CI): bytes through an interactive session.
# `dd if=/dev/zero bs=64k` runs on a PTY and its output is read to a pipe,
# three ways in the same run: through a Porthole session (porthole ecs
# execute-command, agent in the container), through `ssh -tt` with
# aes128-gcm (an sshd of ours on loopback, over an open master connection),
# and through a local PTY (`script`). Medians of several runs.
# The writer is dd with 64 KiB blocks on every side (busybox's in the
# container, coreutils' on the host: the same speed): busybox's `head -c`
# writes in small pieces and through a local PTY alone takes three times as
# long as coreutils' head, so a head on each side would compare the programs.
#   [TTY_MODES=sane|raw] bench/throughput.sh [MiB] [runs]
source "$(dirname "$0")/lib.sh"
mib="${1:-256}"
runs="${2:-3}"
bytes=$((mib * 1024 * 1024))
# The PTY's modes are set the same on every side: ssh with no terminal of
# its own sends none, so sshd's PTY is raw (no output processing), while
# Porthole's and script's start cooked, and with `opost` the kernel looks at
# every byte written (n_tty_write: a third of the writer's time). An
# interactive user's terminal is cooked on every side, which is the default
# here; TTY_MODES=raw measures the transports without output processing.
modes="${TTY_MODES:-sane}"
writer="sh -c 'stty $modes; dd if=/dev/zero bs=65536 count=$((mib * 16)) 2>/dev/null'"
start_porthole_task
start_sshd

seconds() {  # wall seconds of "$@", output to /dev/null; checks the byte count
  local start end got
  start=$(date +%s.%N)
  got=$("$@" </dev/null 2>/dev/null | wc -c)
  end=$(date +%s.%N)
  [ "$got" -ge "$bytes" ] || { echo "short output ($got of $bytes bytes) from: $*" >&2; exit 1; }
  echo "$end - $start" | bc -l
}
porthole_runs=() ssh_runs=() pty_runs=()
for _ in $(seq 1 "$runs"); do
  porthole_runs+=("$(seconds "$bin/porthole" ecs execute-command --cluster bench --task "$task" --interactive \
    --command "$writer")")
  ssh_runs+=("$(seconds "${ssh[@]}" -tt "$writer")")
  pty_runs+=("$(seconds script -qec "$writer" /dev/null)")
done
p=$(printf '%s\n' "${porthole_runs[@]}" | median)
s=$(printf '%s\n' "${ssh_runs[@]}" | median)
l=$(printf '%s\n' "${pty_runs[@]}" | median)
rate() { echo "$mib / $1" | bc -l; }
printf '%d MiB, median of %d runs, PTY modes: stty %s\n' "$mib" "$runs" "$modes"
printf 'porthole session:        %6.2f s  %6.1f MiB/s\n' "$p" "$(rate "$p")"
printf 'ssh -tt (aes128-gcm):    %6.2f s  %6.1f MiB/s\n' "$s" "$(rate "$s")"
printf 'local PTY (script):      %6.2f s  %6.1f MiB/s\n' "$l" "$(rate "$l")"
printf 'ratio porthole/ssh:      %6.2f  (goal >= 1.0)\n' "$(echo "$s / $p" | bc -l)"
printf 'ratio porthole/local:    %6.2f  (goal >= 0.9)\n' "$(echo "$l / $p" | bc -l)"
