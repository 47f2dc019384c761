# scripts/lib/leftovers.sh: finds QEMU processes a test run left behind (`-name vmbranch-<uuid>`,
# docs/testing.md) and ends them by pid. Sourced, never run. Strictly scoped to one run: other
# engineers' runs and services on the same host have VMs of their own, and a start time proves
# nothing about ownership. A process is ours only when its environment carries our run marker
# (VMBRANCH_TEST_RUN), which QEMU inherits because backend/host/qemu spawns it with the test's
# environment.

# run_marker PID: the VMBRANCH_TEST_RUN value in PID's environment, or nothing.
run_marker() { tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | sed -n 's/^VMBRANCH_TEST_RUN=//p' || true; }

# vmbranch_qemu_pids: every running vmbranch QEMU process, whoever started it.
vmbranch_qemu_pids() { pgrep -f 'qemu-system.*-name vmbranch-' || true; }

# run_leftovers RUN_ID: prints "PID COMMAND" for each QEMU process left behind by run RUN_ID.
run_leftovers() {
  local pid
  for pid in $(vmbranch_qemu_pids); do
    [ "$(run_marker "$pid")" = "$1" ] || continue
    printf '%s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)"
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
