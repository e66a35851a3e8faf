import type { Metric, Registry } from "prom-client";

/*
 * Metrics whose series are bound once and then updated with plain arithmetic: the hot path of every
 * request. prom-client's own `observe` and `inc` validate and hash the label object on every call
 * (1.5–2.5 µs of a cached read's server CPU in bench/api's profiles).
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

/** What both kinds share: registration, and one series per distinct label values, made on first bind. */
abstract class BoundMetric<L extends string, S extends { labels: Labels<L> }> {
  readonly aggregator = "sum";
  protected readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  protected seriesOf(labels: Labels<L>, make: (labels: Labels<L>) => S): S {
    const key = this.labelNames.map((n) => labels[n]).join("\u0000");
    let series = this.series.get(key);
    if (series === undefined) {
      series = make({ ...labels });
      this.series.set(key, series);
    }
    return series;
  }
}

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

export class BoundHistogram<L extends string> extends BoundMetric<L, HistogramSeries<L>> {
  readonly type = "histogram";

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  /** The series of these label values (created on first bind); its observe is a few comparisons. */
  bind(labels: Labels<L>): BoundObserver {
    const upper = this.buckets;
    const s = this.seriesOf(labels, (l) => ({
      labels: l,
      counts: new Float64Array(upper.length + 1),
      sum: 0,
      count: 0,
    }));
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
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
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

export class BoundCounter<L extends string> extends BoundMetric<L, { labels: Labels<L>; value: number }> {
  readonly type = "counter";

  bind(labels: Labels<L>): BoundIncrement {
    const s = this.seriesOf(labels, (l) => ({ labels: l, value: 0 }));
    return {
      inc(by = 1) {
        s.value += by;
      },
    };
  }

  get(): Exposition {
    const values = [...this.series.values()].map((s) => ({ labels: s.labels, value: s.value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const s of this.series.values()) s.value = 0;
  }
}
