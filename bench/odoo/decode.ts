/**
 * XML-RPC decode throughput: the fast decoder of @finanzas/odoo vs the `xmlrpc` package's own
 * sax-based parser, on the same ~30 MB response (20 000 account.move.line-like records marshalled
 * exactly as CPython/Odoo write them), in the same run. Checks both give deep-equal results.
 *
 *   pnpm --filter @finanzas/odoo bench            (or: pnpm exec tsx bench/odoo/decode.ts [records])
 */

import { createRequire } from "node:module";
import { Readable } from "node:stream";
import { isDeepStrictEqual } from "node:util";
import { decodeMethodResponse } from "../../packages/odoo/src/xmlrpc-decode.js";
import { moveLines, pythonResponse } from "../../packages/odoo/test/python-marshal.js";

const require = createRequire(new URL("../../packages/odoo/package.json", import.meta.url));
type Deserializer = new () => {
  deserializeMethodResponse(stream: Readable, cb: (error: unknown, value: unknown) => void): void;
};
const PackageDeserializer = require("xmlrpc/lib/deserializer.js") as Deserializer;

const records = Number(process.argv[2] ?? 20_000);
const xml = pythonResponse(moveLines(records));
const buffer = Buffer.from(xml);
const mb = buffer.length / 1e6;

function packageDecode(): Promise<unknown> {
  return new Promise((resolve, reject) => {
    new PackageDeserializer().deserializeMethodResponse(Readable.from([buffer]), (error, value) =>
      error ? reject(error) : resolve(value),
    );
  });
}

function fastDecode(): unknown {
  const result = decodeMethodResponse(buffer);
  if (result.fault) throw new Error("unexpected fault");
  return result.value;
}

async function time(
  label: string,
  runs: number,
  fn: () => unknown,
): Promise<{ best: number; value: unknown }> {
  let best = Number.POSITIVE_INFINITY;
  let value: unknown;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    value = await fn();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    best = Math.min(best, ms);
  }
  const rate = mb / (best / 1000);
  console.log(
    `${label.padEnd(28)} best of ${runs}: ${best.toFixed(1).padStart(7)} ms  ${rate.toFixed(1).padStart(7)} MB/s`,
  );
  return { best, value };
}

console.log(
  `response: ${records} account.move.line records, ${mb.toFixed(1)} MB (CPython marshalling layout)`,
);
console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
// warm-up both (JIT), then measure
fastDecode();
await packageDecode();
const pkg = await time("xmlrpc package (sax)", 3, packageDecode);
const fast = await time("@finanzas/odoo fast decoder", 10, fastDecode);
const same = isDeepStrictEqual(fast.value, pkg.value);
console.log(`results deep-equal: ${same}`);
const ratio = pkg.best / fast.best;
const fastRate = mb / (fast.best / 1000);
console.log(`speed-up: ${ratio.toFixed(1)}x`);
// the targets: >= 50 MB/s and >= 7x the package's parser, with identical results
if (!same || fastRate < 50 || ratio < 7) {
  console.log("FAILED: below target (>= 50 MB/s, >= 7x, deep-equal results)");
  process.exitCode = 1;
}
