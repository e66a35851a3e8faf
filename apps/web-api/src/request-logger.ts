import type { FastifyBaseLogger, FastifyReply, FastifyRequest, FastifyServerOptions } from "fastify";

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

/** What Fastify's own serializers make of `req` and `res` in a request's lines (pino's own does `err`). */
const serializers = {
  req: (request: FastifyRequest) => ({
    method: request.method,
    url: request.url,
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  }),
  res: (reply: FastifyReply) => ({ statusCode: reply.statusCode }),
};

/**
 * Fastify options that log each request through `logger` without giving Fastify a logger of its
 * own. When Fastify has one, it attaches `finish` and `error` listeners to every response (to time
 * it and to write "request completed"), whether or not anything is written: about a tenth of the
 * cheapest request's CPU. Here Fastify keeps its null logger, every request still gets its lazy
 * child of `logger` (request id bound, Fastify's serializers), and `accessLog` says whether the
 * app must ask for Fastify's completion lines (`logger` at info or below) with an onResponse hook,
 * which brings those listeners back only when their lines are wanted.
 */
export function requestLogging(logger: FastifyBaseLogger): {
  childLoggerFactory: NonNullable<FastifyServerOptions["childLoggerFactory"]>;
  accessLog: boolean;
} {
  const parent = logger.child({}, { serializers }) as Parent;
  return {
    childLoggerFactory: (_nullLogger, bindings, options) =>
      new LazyRequestLogger(parent, bindings, options) as unknown as FastifyBaseLogger,
    accessLog: parent.isLevelEnabled?.("info") ?? true,
  };
}
