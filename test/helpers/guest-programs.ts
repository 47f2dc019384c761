/**
 * Guest programs for system tests (busybox sh inside the `base` image) and parsers of what they
 * print on the serial console.
 */

/**
 * A stateful guest: a counter in memory, ticking every `periodS`; each tick appends a line to
 * `<dir>/log` tagged with how many VM forks (vmgenid changes) the kernel has seen, and prints
 * the tick, 8 random hex bytes, the fork count and how many log lines carry each tag.
 */
export function counterProgram(dir = "/data", periodS = 0.5): string[] {
  const script = [
    "i=0",
    "while true; do",
    "  i=$((i+1))",
    "  f=$(dmesg | grep -c 'virtual machine fork')",
    "  echo \"line $i fork$f\" >> " + dir + "/log",
    "  sync",
    "  r=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \\n')",
    "  echo \"tick=$i fork=$f rnd=$r f0=$(grep -c ' fork0$' " + dir + "/log) f1=$(grep -c ' fork1$' " + dir + "/log)\"",
    `  sleep ${periodS}`,
    "done",
  ].join("\n");
  return ["sh", "-c", script];
}

/** One parsed tick of `counterProgram`. */
export interface Tick {
  tick: number;
  fork: number;
  rnd: string;
  f0: number;
  f1: number;
}

/** Every tick line in a console log. */
export function parseTicks(log: string): Tick[] {
  return [...log.matchAll(/tick=(\d+) fork=(\d+) rnd=([0-9a-f]+) f0=(\d+) f1=(\d+)/g)].map((m) => ({
    tick: Number(m[1]),
    fork: Number(m[2]),
    rnd: m[3]!,
    f0: Number(m[4]),
    f1: Number(m[5]),
  }));
}
