# scripts/lib/leftovers.sh: finds QEMU processes a test run left behind (`-name vmbranch-<uuid>`,
# DESIGN.md §5) and ends them by pid. Sourced, never run. Scoped to one run, because other
# engineers' runs and services on the same host have VMs of their own: a process counts as ours when
# it carries our run marker in its environment, or carries no marker and started after the run began.

# proc_start PID: start time of PID in clock ticks since boot (field 22 of /proc/PID/stat).
proc_start() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }              # drop "pid (comm) ": comm may hold spaces
  set -- $stat
  echo "${20}"
}

# run_leftovers RUN_ID SINCE_TICKS: prints "PID COMMAND" for each leftover QEMU process of the run.
run_leftovers() {
  local id=$1 since=$2 pid start marker
  for pid in $(pgrep -f 'qemu-system.*-name vmbranch-' || true); do
    start=$(proc_start "$pid") || continue
    marker=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^VMBRANCH_TEST_RUN=//p' || true)
    if [ "$marker" = "$id" ] || { [ -z "$marker" ] && [ "$start" -ge "$since" ]; }; then
      printf '%s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)"
    fi
  done
}

# any_alive PID...: true while at least one of the processes exists.
any_alive() {
  local pid
  for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}

# end_pids PID...: SIGTERM, up to 3 s grace, then SIGKILL.
end_pids() {
  local i
  kill -TERM "$@" 2>/dev/null || true
  for i in $(seq 30); do any_alive "$@" || return 0; sleep 0.1; done
  kill -KILL "$@" 2>/dev/null || true
}
