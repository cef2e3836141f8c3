// CPU-seconds from /proc, for the benches' diagnostics: of a live process, and of the waited-for
// children of this one.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const TICK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number | string): number[] {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  return s
    .slice(s.lastIndexOf(")") + 2)
    .split(" ")
    .map(Number);
}

/** utime + stime of a running process; throws when it is not running. */
export function cpuSeconds(pid: number | string): number {
  const f = statFields(pid);
  return (f[11]! + f[12]!) / TICK;
}

/** cutime + cstime: the CPU of this process's children that have exited and been waited for. */
export function childrenCpuSeconds(): number {
  const f = statFields("self");
  return (f[13]! + f[14]!) / TICK;
}
