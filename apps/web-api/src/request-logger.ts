import type { FastifyBaseLogger, FastifyServerOptions } from "fastify";

type Bindings = Parameters<FastifyBaseLogger["child"]>[0];
type ChildLoggerOptions = NonNullable<Parameters<FastifyBaseLogger["child"]>[1]>;

type Parent = FastifyBaseLogger & {
  isLevelEnabled?(level: string): boolean;
  levels?: { values: Record<string, number> };
};
type Args = unknown[];

/**
 * Fastify's per-request logger, created lazily: the pino child (with the request id binding, and
 * the redaction set up for it) is only built when the request writes a line at an enabled level.
 * At LOG_LEVEL=warn a request that logs nothing costs nothing; one that logs a warning or an error
 * gets the same child, so the same `reqId` in its lines, as with Fastify's default factory.
 */
export class LazyRequestLogger {
  private real: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: Parent,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  /** Whether a child has been built (tests). */
  get materialised(): boolean {
    return this.real !== undefined;
  }

  private child_(): FastifyBaseLogger {
    this.real ??= this.parent.child(this.bindings, this.options);
    return this.real;
  }

  private enabled(level: string): boolean {
    if (this.real) return true;
    const own = this.options.level;
    if (own === undefined) return this.parent.isLevelEnabled ? this.parent.isLevelEnabled(level) : true;
    const values = this.parent.levels?.values;
    const wanted = values?.[level];
    const threshold = values?.[own];
    return wanted === undefined || threshold === undefined || wanted >= threshold;
  }

  private write(level: "fatal" | "error" | "warn" | "info" | "debug" | "trace", args: Args): void {
    if (!this.enabled(level)) return;
    (this.child_()[level] as (...a: Args) => void)(...args);
  }

  get level(): string {
    return this.real?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.child_().level = level;
  }

  fatal(...args: Args): void {
    this.write("fatal", args);
  }
  error(...args: Args): void {
    this.write("error", args);
  }
  warn(...args: Args): void {
    this.write("warn", args);
  }
  info(...args: Args): void {
    this.write("info", args);
  }
  debug(...args: Args): void {
    this.write("debug", args);
  }
  trace(...args: Args): void {
    this.write("trace", args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.child_().child(bindings, options);
  }
}

export const lazyChildLoggerFactory: NonNullable<FastifyServerOptions["childLoggerFactory"]> = (
  logger,
  bindings,
  options,
) => new LazyRequestLogger(logger as Parent, bindings, options) as unknown as FastifyBaseLogger;
