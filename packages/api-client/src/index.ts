/**
 * A typed client of the Finanzas REST API for the frontend. Request and response types come from
 * the same TypeBox schemas the server validates and serialises with (the route catalog in
 * @finanzas/contracts), so a route's change breaks the frontend's build, not its users.
 *
 *   const api = createApiClient({ baseUrl: "https://finanzas.example.com" });
 *   await api.login("me@example.com", "…");                      // keeps and refreshes the tokens
 *   const page = await api.call("listInvoices", { query: { overdue: true, limit: 50 } });
 *   page.items[0]?.amountTotal;                                   // string (exact decimal)
 */
import {
  type ApiRoute,
  type ApiRouteName,
  type ApiRoutes,
  apiRoutes,
  type TokenResponse,
} from "@finanzas/contracts";
import type { Static, TSchema } from "@sinclair/typebox";

type Part<R, K extends string> = R extends { [P in K]: infer T extends TSchema } ? Static<T> : never;
type Has<R, K extends string> = R extends { [P in K]: TSchema } ? true : false;

/** What a route takes: its path parameters, query string and body, each only when it has one. */
export type RequestOf<N extends ApiRouteName> = (Has<ApiRoutes[N], "params"> extends true
  ? { params: Part<ApiRoutes[N], "params"> }
  : { params?: never }) &
  (Has<ApiRoutes[N], "querystring"> extends true
    ? { query?: Partial<Part<ApiRoutes[N], "querystring">> }
    : { query?: never }) &
  (Has<ApiRoutes[N], "body"> extends true ? { body: Part<ApiRoutes[N], "body"> } : { body?: never }) & {
    /** Extra headers, e.g. If-None-Match. */
    headers?: Record<string, string>;
    signal?: AbortSignal;
  };

/** What a route answers on success. */
export type ResponseOf<N extends ApiRouteName> = ApiRoutes[N] extends { response: infer Resp }
  ? { [K in keyof Resp]: Resp[K] extends TSchema ? Static<Resp[K]> : never }[keyof Resp]
  : never;

type NeedsInput<N extends ApiRouteName> =
  Has<ApiRoutes[N], "params"> extends true ? true : Has<ApiRoutes[N], "body"> extends true ? true : false;

/** An RFC 9457 problem the API answered with. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: { field: string; message: string }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title);
    this.name = "ApiError";
  }
}

export interface ClientOptions {
  /** Origin of the API, e.g. https://finanzas.example.com (no trailing slash). */
  baseUrl: string;
  fetch?: typeof fetch;
  /** Called whenever the session changes (login, refresh, logout, revoked): persist it if you like. */
  onSession?: (session: Session | null) => void;
  session?: Session | null;
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** ms since epoch when the access token expires. */
  expiresAt: number;
}

/** Path with its `:name` parameters filled in. */
export function pathOf(route: ApiRoute, params: Record<string, unknown> = {}): string {
  return route.url.replace(/:(\w+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`missing path parameter ${name} for ${route.url}`);
    return encodeURIComponent(String(value));
  });
}

function queryString(query: Record<string, unknown> = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) search.append(key, String(v));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export interface ApiClient {
  /** Calls a route of the catalog by name with typed input and output. Throws ApiError on a problem. */
  call<N extends ApiRouteName>(
    name: N,
    ...input: NeedsInput<N> extends true ? [RequestOf<N>] : [RequestOf<N>?]
  ): Promise<ResponseOf<N>>;
  login(email: string, password: string): Promise<TokenResponse>;
  logout(): Promise<void>;
  readonly session: Session | null;
}

export function createApiClient(options: ClientOptions): ApiClient {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  let session: Session | null = options.session ?? null;
  const setSession = (next: Session | null) => {
    session = next;
    options.onSession?.(next);
  };
  const fromTokens = (t: TokenResponse): Session => ({
    accessToken: t.accessToken,
    refreshToken: t.refreshToken,
    expiresAt: Date.now() + t.expiresIn * 1000,
  });

  interface RawInput {
    params?: Record<string, unknown>;
    query?: Record<string, unknown>;
    body?: unknown;
    headers?: Record<string, string>;
    signal?: AbortSignal;
  }
  async function raw(name: ApiRouteName, input: RawInput = {}, token?: string) {
    const route: ApiRoute = apiRoutes[name];
    const url = `${options.baseUrl}${pathOf(route, input.params)}${queryString(input.query)}`;
    const headers: Record<string, string> = { accept: "application/json", ...input.headers };
    if (input.body !== undefined) headers["content-type"] = "application/json";
    if (token) headers.authorization = `Bearer ${token}`;
    return doFetch(url, {
      method: route.method,
      headers,
      ...(input.body !== undefined ? { body: JSON.stringify(input.body) } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
    });
  }

  async function parse(response: Response): Promise<unknown> {
    if (response.status === 204 || response.status === 304) return null;
    const text = await response.text();
    const body = text ? (JSON.parse(text) as unknown) : null;
    if (!response.ok) {
      const problem = (body ?? {
        type: "about:blank",
        title: response.statusText,
        status: response.status,
      }) as Problem;
      throw new ApiError(response.status, problem);
    }
    return body;
  }

  let refreshing: Promise<boolean> | null = null;
  const refresh = (): Promise<boolean> => {
    if (!session) return Promise.resolve(false);
    refreshing ??= (async () => {
      try {
        const res = await raw("refresh", { body: { refreshToken: session!.refreshToken } });
        if (!res.ok) {
          setSession(null);
          return false;
        }
        setSession(fromTokens((await res.json()) as TokenResponse));
        return true;
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  };

  return {
    get session() {
      return session;
    },
    async call(name, ...input) {
      const route: ApiRoute = apiRoutes[name];
      const needsToken = route.access !== "public";
      if (needsToken && session && session.expiresAt - Date.now() < 10_000) await refresh();
      let response = await raw(name, input[0] as never, needsToken ? session?.accessToken : undefined);
      if (response.status === 401 && needsToken && session && (await refresh())) {
        response = await raw(name, input[0] as never, session.accessToken);
      }
      return (await parse(response)) as never;
    },
    async login(email, password) {
      const tokens = (await parse(await raw("login", { body: { email, password } }))) as TokenResponse;
      setSession(fromTokens(tokens));
      return tokens;
    },
    async logout() {
      if (session) await raw("logout", { body: { refreshToken: session.refreshToken } }).catch(() => {});
      setSession(null);
    },
  };
}

export type { ApiRouteName, ApiRoutes } from "@finanzas/contracts";
