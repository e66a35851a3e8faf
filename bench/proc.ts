import { readdirSync, readFileSync } from "node:fs";

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

/** CPU seconds of every PostgreSQL process (backends reaped by the postmaster count in its cutime). */
export const postgresCpu = (): number =>
  readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .reduce((n, d) => {
      try {
        return readFileSync(`/proc/${d}/comm`, "utf8").trim() === "postgres"
          ? n + cpuSecondsOf(Number(d))
          : n;
      } catch {
        return n;
      }
    }, 0);

/** Busy CPU seconds of the whole machine, all cores. */
export const machineBusy = (): number => {
  const [, ...ticks] = readFileSync("/proc/stat", "utf8").split("\n")[0]?.trim().split(/\s+/) ?? [];
  const n = ticks.map(Number);
  return (n.reduce((a, b) => a + b, 0) - (n[3] ?? 0) - (n[4] ?? 0)) / 100;
};
