import type { Metric, Registry } from "prom-client";

/*
 * Metrics whose series are bound once and then updated with plain arithmetic: the hot path of every
 * request. prom-client's own `observe` and `inc` validate and hash the label object on every call
 * (its histogram was 2–3 µs of a cached read's ~45 µs of server CPU in bench/api's profiles).
 * These register in a prom-client Registry like its own metrics, so /metrics prints them in the same
 * text format, with the registry's default labels. Series are never removed; `reset` zeroes them.
 */

type Labels<L extends string> = Record<L, string>;

/** What a prom-client Registry reads from a metric at scrape (the shape of its own `get()`). */
interface Exposition {
  name: string;
  help: string;
  type: "histogram" | "counter";
  aggregator: "sum";
  values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

const seriesKey = <L extends string>(names: readonly L[], labels: Labels<L>): string =>
  names.map((n) => labels[n]).join("\u0000");

interface HistogramSeries<L extends string> {
  labels: Labels<L>;
  /** Observations per bucket (not cumulative); the last slot is above the highest bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

export interface BoundObserver {
  observe(value: number): void;
}

export class BoundHistogram<L extends string> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, HistogramSeries<L>>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of these label values (created on first bind); its observe is a few comparisons. */
  bind(labels: Labels<L>): BoundObserver {
    const key = seriesKey(this.labelNames, labels);
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels: { ...labels }, counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    const s = series;
    const upper = this.buckets;
    return {
      observe(value: number) {
        let i = 0;
        while (i < upper.length && value > (upper[i] as number)) i++;
        (s.counts[i] as number)++;
        s.sum += value;
        s.count++;
      },
    };
  }

  get(): Exposition {
    const values: Exposition["values"] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i] as number;
        values.push({ labels: { ...s.labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...s.labels, le: "+Inf" }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: "histogram", aggregator: "sum", values };
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

export interface BoundIncrement {
  inc(by?: number): void;
}

export class BoundCounter<L extends string> {
  readonly type = "counter";
  readonly aggregator = "sum";
  private readonly series = new Map<string, { labels: Labels<L>; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  bind(labels: Labels<L>): BoundIncrement {
    const key = seriesKey(this.labelNames, labels);
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels: { ...labels }, value: 0 };
      this.series.set(key, series);
    }
    const s = series;
    return {
      inc(by = 1) {
        s.value += by;
      },
    };
  }

  get(): Exposition {
    const values = [...this.series.values()].map((s) => ({ labels: s.labels, value: s.value }));
    return { name: this.name, help: this.help, type: "counter", aggregator: "sum", values };
  }

  reset(): void {
    for (const s of this.series.values()) s.value = 0;
  }
}
