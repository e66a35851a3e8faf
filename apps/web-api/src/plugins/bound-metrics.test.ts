import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { BoundCounter, BoundHistogram } from "./bound-metrics.js";

const BUCKETS = [0.001, 0.005, 0.025, 0.1, 1];
const LABELS = ["method", "route", "status_code"] as const;

/**
 * The exposition with each line's labels sorted: the text format gives label order no meaning, and
 * prom-client's histogram puts `le` and the default labels first.
 */
function normalised(text: string): string {
  return text
    .split("\n")
    .map((line) => {
      const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
      if (!m) return line;
      const pairs = (m[2] as string).match(/\w+="(?:[^"\\]|\\.)*"/g) ?? [];
      return `${m[1]}{${[...pairs].sort().join(",")}} ${m[3]}`;
    })
    .join("\n");
}

/** The same observations through prom-client's own metrics and through the bound ones. */
function both() {
  const theirs = new Registry();
  const ours = new Registry();
  for (const registry of [theirs, ours]) registry.setDefaultLabels({ service: "web-api" });
  const histogram = new Histogram({
    name: "latency_seconds",
    help: "latency",
    labelNames: LABELS,
    buckets: BUCKETS,
    registers: [theirs],
  });
  const counter = new Counter({
    name: "hits_total",
    help: "hits",
    labelNames: ["route"],
    registers: [theirs],
  });
  const boundHistogram = new BoundHistogram("latency_seconds", "latency", LABELS, BUCKETS, ours);
  const boundCounter = new BoundCounter("hits_total", "hits", ["route"] as const, ours);
  return { theirs, ours, histogram, counter, boundHistogram, boundCounter };
}

describe("bound metrics", () => {
  it("print exactly what prom-client's Histogram and Counter print for the same observations", async () => {
    const m = both();
    const observations: [string, string, string, number][] = [
      ["GET", "/api/v1/invoices", "200", 0.0004],
      ["GET", "/api/v1/invoices", "200", 0.001], // on a bound: counted in that bucket (le is ≤)
      ["GET", "/api/v1/invoices", "200", 0.03],
      ["GET", "/api/v1/invoices", "304", 0.002],
      ["POST", "/api/v1/sync/runs", "202", 7.5], // above every bound: only in +Inf
      ["GET", 'route "with" quotes\\', "404", 0.2],
    ];
    const bound = new Map<string, ReturnType<typeof m.boundHistogram.bind>>();
    for (const [method, route, status_code, seconds] of observations) {
      m.histogram.observe({ method, route, status_code }, seconds);
      const key = `${method} ${route} ${status_code}`;
      if (!bound.has(key)) bound.set(key, m.boundHistogram.bind({ method, route, status_code }));
      bound.get(key)?.observe(seconds);
    }
    m.counter.inc({ route: "listInvoices" });
    m.counter.inc({ route: "listInvoices" }, 2);
    m.counter.inc({ route: "getDashboard" });
    const hits = m.boundCounter.bind({ route: "listInvoices" });
    hits.inc();
    hits.inc(2);
    // a second bind of the same labels is the same series
    m.boundCounter.bind({ route: "getDashboard" }).inc();
    const text = await m.ours.metrics();
    expect(normalised(text)).toBe(normalised(await m.theirs.metrics()));
    expect(text).toContain(
      'latency_seconds_bucket{method="GET",route="/api/v1/invoices",status_code="200",le="0.001",service="web-api"} 2',
    );
    expect(text).toContain(
      'latency_seconds_bucket{method="POST",route="/api/v1/sync/runs",status_code="202",le="1",service="web-api"} 0',
    );
    expect(text).toContain(
      'latency_seconds_count{method="POST",route="/api/v1/sync/runs",status_code="202",service="web-api"} 1',
    );
  });

  it("zero their series on resetMetrics, and refuse a second metric of the same name", async () => {
    const m = both();
    const hits = m.boundCounter.bind({ route: "listInvoices" });
    hits.inc(5);
    m.ours.resetMetrics();
    hits.inc();
    expect(await m.ours.metrics()).toContain('hits_total{route="listInvoices",service="web-api"} 1');
    expect(() => new BoundCounter("hits_total", "again", ["route"] as const, m.ours)).toThrow(
      /already been registered/,
    );
  });
});
