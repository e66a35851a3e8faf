// A local SMTP server that accepts everything and counts messages by Message-ID: the bench's
// receiving end, in its own process. Prints "ready <port>", then a JSON report per "report" line on
// stdin (messages, duplicates, and its own CPU time since the last "reset").

import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const { SMTPServer } = createRequire(new URL("../../apps/mailer/package.json", import.meta.url))(
  "smtp-server",
);

const seen = new Map();
let total = 0;
let cpuAtReset = process.cpuUsage();
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS", "AUTH"],
  logger: false,
  size: 50 * 1024 * 1024,
  onData(stream, _session, callback) {
    let head = "";
    stream.on("data", (chunk) => {
      if (head.length < 8192) head += chunk.toString("latin1");
    });
    stream.on("end", () => {
      const id = head.match(/^Message-ID:\s*(<[^>]+>)/im)?.[1] ?? "";
      seen.set(id, (seen.get(id) ?? 0) + 1);
      total++;
      callback(null, "2.0.0 Ok");
    });
  },
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`ready ${server.server.address().port}\n`);
});
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "report") {
    let duplicates = 0;
    for (const n of seen.values()) if (n > 1) duplicates += n - 1;
    const cpu = process.cpuUsage(cpuAtReset);
    process.stdout.write(
      `${JSON.stringify({ total, distinct: seen.size, duplicates, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`,
    );
  }
  if (line === "reset") {
    seen.clear();
    total = 0;
    cpuAtReset = process.cpuUsage();
  }
});
