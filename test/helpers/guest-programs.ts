/**
 * Guest programs for system tests (busybox sh inside the `base` image) and parsers of what they
 * print on the serial console.
 */
import type { VmbranchClient } from "../../sdk";

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

/**
 * Disk and memory of one instant: a loop that writes sequence number N to block N of `<dir>/seq`
 * (O_DIRECT and fsync, so the disk holds it, not only the page cache) and then keeps N in memory
 * (a shell variable). Before every write it reads blocks N-3 … N+1 back from the disk, bypassing
 * the page cache, and prints `MISMATCH` unless they hold exactly N-3 … N and nothing after: a
 * restore whose disk is older than its memory misses blocks its memory wrote, one whose disk is
 * newer has a block its memory never wrote; the first loop after the restore sees either (blocks
 * are never overwritten, so finishing an interrupted write hides nothing). The check resolves one
 * loop (about 100 ms under TCG on a busy 2-core host: a disk switched 300 ms before the capture
 * was caught, 30 ms was not). Prints `seq=N` every 20 writes.
 */
export function sequenceWriterProgram(dir = "/data"): string[] {
  return ["sh", "-c", sequenceLoop(`${dir}/seq`).join("\n")];
}

/**
 * `sequenceWriterProgram` on the raw block device of the volume mounted at `at`: it unmounts the
 * volume first, so no filesystem (and nothing a guest agent could freeze) sits between the writes
 * and the disk, and zeroes its first 8 MiB (the filesystem's blocks would read as writes no loop
 * made). Prints `RAW <device>` once it writes there.
 */
export function rawSequenceWriterProgram(at = "/data"): string[] {
  const script = [
    `dev=$(awk '$2 == "${at}" { print $1 }' /proc/mounts)`,
    `umount ${at} || { echo "RAW-FAILED"; exit 1; }`,
    // The device held a filesystem: zero where the sequence goes, so "nothing after N" holds.
    'dd if=/dev/zero of="$dev" bs=1M count=8 oflag=direct conv=fsync status=none || { echo "RAW-FAILED"; exit 1; }',
    'echo "RAW $dev"',
    ...sequenceLoop("$dev"),
  ];
  return ["sh", "-c", script.join("\n")];
}

function sequenceLoop(target: string): string[] {
  return [
    `put() { printf '%-511s\\n' "$1" | dd of=${target} bs=512 seek="$1" count=1 oflag=direct conv=notrunc,fsync status=none; }`,
    "for n in 0 1 2 3; do put $n; done",
    "mem=3",
    "while true; do",
    `  got=$(dd if=${target} bs=512 skip=$((mem-3)) count=5 iflag=direct status=none | tr -s ' \\n' '  ')`,
    "  want=\"$((mem-3)) $((mem-2)) $((mem-1)) $mem \"",
    "  if [ \"$got\" != \"$want\" ]; then echo \"MISMATCH disk=[$got] mem=$mem\"; fi",
    "  next=$((mem+1))",
    "  put $next",
    "  mem=$next",
    "  if [ $((mem % 20)) = 0 ]; then echo \"seq=$mem\"; fi",
    "done",
  ];
}

/** The whole serial console of instance `name` so far. */
export async function consoleOf(client: VmbranchClient, name: string): Promise<string> {
  return (await client.instances.log(name, { limit: 4 * 1024 * 1024 })).output;
}

/** The console of `name` once `done` holds for it; fails after `timeoutMs` saying `what` never came. */
export async function waitForConsole(client: VmbranchClient, name: string, done: (log: string) => boolean, what: string, timeoutMs = 180_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await consoleOf(client, name);
    if (done(log)) return log;
    if (Date.now() > deadline) throw new Error(`${name}: ${what} never came; the console ends with ${log.slice(-300)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The ticks of `name` (a `counterProgram` guest) once `pred` holds for them; fails after 90 s. */
export async function waitTicks(client: VmbranchClient, name: string, pred: (t: Tick[]) => boolean): Promise<Tick[]> {
  let ticks: Tick[] = [];
  await waitForConsole(client, name, (log) => pred((ticks = parseTicks(log))), "the ticks awaited", 90_000);
  return ticks;
}

/** The sequence numbers a `sequenceWriterProgram` printed in `log`. */
export function seqs(log: string): number[] {
  return [...log.matchAll(/seq=(\d+)/g)].map((m) => Number(m[1]));
}

/** The console of `name` once it holds at least `atLeast` sequence lines. */
export function waitSeq(client: VmbranchClient, name: string, atLeast: number, timeoutMs?: number): Promise<string> {
  return waitForConsole(client, name, (log) => seqs(log).length >= atLeast, `${atLeast} sequence lines`, timeoutMs);
}
