import { readFileSync } from "node:fs";

/**
 * CPU seconds (user + system, all threads) a process has used so far, with its reaped children;
 * 0 when it is gone. Read from /proc, so a benchmark can tell what each process itself cost
 * whatever share of the cores it got.
 */
export function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    // After "(comm) ": state is field 3, so utime/stime/cutime/cstime (14–17) sit at 11–14 here.
    return [11, 12, 13, 14].reduce((n, i) => n + Number(fields[i] ?? 0), 0) / 100;
  } catch {
    return 0;
  }
}
