import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Runs Python code (CPython's own xmlrpc.client is the reference marshaller) and returns what it
 * printed as JSON on its last line. `URL` is defined in the script.
 */
export async function python<T = unknown>(url: string, code: string): Promise<T> {
  const script = `import json, sys, xmlrpc.client as xc\nURL = ${JSON.stringify(url)}\n${code}`;
  const { stdout } = await run("python3", ["-c", script], { timeout: 20_000, maxBuffer: 64 * 1024 * 1024 });
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as T;
}

export async function xmlrpcRaw(
  url: string,
  path: string,
  body: string,
): Promise<{ status: number; text: string; type: string }> {
  const res = await fetch(`${url}${path}`, { method: "POST", headers: { "Content-Type": "text/xml" }, body });
  return { status: res.status, text: await res.text(), type: res.headers.get("content-type") ?? "" };
}

export function methodCall(method: string, params: string[]): string {
  return `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params
    .map((p) => `<param><value>${p}</value></param>`)
    .join("")}</params></methodCall>`;
}

export async function jsonrpc(
  url: string,
  service: string,
  method: string,
  args: unknown[],
): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/jsonrpc`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", method: "call", id: 7, params: { service, method, args } }),
  });
  return (await res.json()) as Record<string, unknown>;
}

/** execute_kw over JSON-RPC with the default credentials. */
export async function kw(
  url: string,
  model: string,
  method: string,
  args: unknown[],
  kwargs: Record<string, unknown> = {},
) {
  const r = await jsonrpc(url, "object", "execute_kw", ["odoo", 2, "admin", model, method, args, kwargs]);
  if (r.error) throw new Error(JSON.stringify(r.error));
  return r.result as unknown;
}
