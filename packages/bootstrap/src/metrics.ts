import type { Consumer } from "@finanzas/queue";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * A queue consumer's jobs in Prometheus terms: how many ended and how (completed, failed, returned
 * to the queue at shutdown), how long they ran, and how many run now. Per process: sum over the
 * replicas of a worker for the service's view (the queue's depth is on web-api's /metrics).
 */
export function observeJobs(
  registry: Registry,
  consumer: Pick<Consumer, "observe" | "active" | "worker">,
): void {
  const queue = consumer.worker.name;
  const ended = new Counter({
    name: "worker_jobs_total",
    help: "Job runs ended in this process, by job name and outcome: completed, failed (this attempt; BullMQ retries it while attempts remain), returned (to the queue at shutdown)",
    labelNames: ["queue", "job", "outcome"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "worker_job_duration_seconds",
    help: "How long a job ran in this process, by job name and outcome",
    labelNames: ["queue", "job", "outcome"] as const,
    buckets: [0.05, 0.25, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200],
    registers: [registry],
  });
  new Gauge({
    name: "worker_jobs_active",
    help: "Jobs running in this process now",
    labelNames: ["queue"] as const,
    registers: [registry],
    collect() {
      this.set({ queue }, consumer.active ?? 0);
    },
  });
  consumer.observe((end) => {
    const labels = { queue: end.queue, job: end.job, outcome: end.outcome };
    ended.inc(labels);
    duration.observe(labels, end.seconds);
  });
}
