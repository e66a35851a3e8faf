import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServiceProcess, startNode } from "./process.js";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const PROCESS_TS = fileURLToPath(new URL("./process.ts", import.meta.url));

/** Whether a pid is a live process (a zombie waiting for its reaper counts as gone). */
function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
    return state !== undefined && state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

describe("startProcess: children end with the process that started them", () => {
  let dir: string;
  const started: ServiceProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "finanzas-process-"));
    await writeFile(join(dir, "sleeper.mjs"), "setInterval(() => {}, 1000);\n");
    // The parent starts a child, prints its pid, then ends as `how` says.
    await writeFile(
      join(dir, "parent.ts"),
      `import { startProcess } from ${JSON.stringify(PROCESS_TS)};
const child = startProcess(${JSON.stringify(join(dir, "sleeper.mjs"))}, {});
console.log("child " + child.child.pid);
if (process.env.HOW === "exit") setTimeout(() => process.exit(3), 300);
else setInterval(() => {}, 1000);
`,
    );
  });
  afterAll(async () => {
    for (const p of started) await p.stop("SIGKILL").catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  async function parentWithChild(how: "signal" | "exit") {
    const parent = startNode(["--import", "tsx", join(dir, "parent.ts")], { HOW: how }, { cwd: REPO });
    started.push(parent);
    const deadline = Date.now() + 15_000;
    let match: RegExpMatchArray | null = null;
    while (!match && Date.now() < deadline) {
      match = parent.output().match(/child (\d+)/);
      if (!match) await new Promise((r) => setTimeout(r, 50));
    }
    if (!match) throw new Error(`the parent did not start its child:\n${parent.output()}`);
    const childPid = Number(match[1]);
    expect(alive(childPid)).toBe(true);
    return { parent, childPid };
  }

  it.each(["SIGTERM", "SIGINT"] as const)(
    "%s to the parent ends its child, and the parent dies of it",
    async (signal) => {
      const { parent, childPid } = await parentWithChild("signal");
      parent.child.kill(signal);
      const exit = await parent.exited;
      expect(exit.signal).toBe(signal);
      expect(await goneWithin(childPid, 5_000)).toBe(true);
    },
  );

  it("process.exit in the parent ends its child, with the parent's exit code kept", async () => {
    const { parent, childPid } = await parentWithChild("exit");
    const exit = await parent.exited;
    expect(exit.code).toBe(3);
    expect(await goneWithin(childPid, 5_000)).toBe(true);
  });
});
