/**
 * A typed client of the Finanzas REST API for the frontend. Request and response types come from
 * the same TypeBox schemas the server validates and serialises with (the route catalog in
 * @finanzas/contracts), so a route's change breaks the frontend's build, not its users.
 *
 *   const api = createApiClient({ baseUrl: "https://finanzas.example.com", onSession: save });
 *   await api.login("me@example.com", "…");                      // keeps and refreshes the tokens
 *   const page = await api.call("listInvoices", { query: { overdue: true, limit: 50 } });
 *   page.items[0]?.amountTotal;                                   // string (exact decimal)
 *   const { mailingId } = await api.call("createMailing", { body: { kind: "reminder", dryRun: true } });
 *   const mailing = await api.call("getMailing", { params: { id: mailingId } });  // counts, preview
 *
 * Tokens: shortly before the access token expires, and when a call is refused with 401 because it
 * expired or was revoked, the client exchanges the refresh token once (calls that are refused
 * together wait for the same exchange: a refresh token is single use) and sends the call again
 * once with the new token; `onSession` sees the new pair. If the exchange is refused, the session
 * is over (`onSession(null)`) and the call's own 401 is thrown.
 */
import {
  ACCESS_TOKEN_PROBLEM_TYPES,
  ACCESS_TOKEN_PROBLEMS,
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
  /** Ends this session (its refresh token and access tokens) and forgets it. */
  logout(): Promise<void>;
  /**
   * Ends every session of the user, on every device (POST /auth/logout-all), then forgets this one.
   * Throws ApiError when it was not done; this session is then kept unless the server refused it
   * for good (as `call` does).
   */
  logoutAll(): Promise<void>;
  /**
   * Changes the user's password (POST /auth/password; the first thing to do when the login
   * answered `user.mustChangePassword`, since every other route answers 403 until then). Every
   * session of the user ends; this client carries on with the new pair the server answers.
   */
  changePassword(currentPassword: string, newPassword: string): Promise<TokenResponse>;
  readonly session: Session | null;
}

/**
 * The 401s after which a new access token may help: it expired, or it was revoked. Matched on the
 * problem's `type`; on its `detail` too, for servers from before the types.
 */
const REFRESHABLE_TYPES = new Set<string>([
  ACCESS_TOKEN_PROBLEM_TYPES.expired,
  ACCESS_TOKEN_PROBLEM_TYPES.revoked,
]);
const REFRESHABLE_DETAILS = new Set<string>([ACCESS_TOKEN_PROBLEMS.expired, ACCESS_TOKEN_PROBLEMS.revoked]);
const refreshable = (problem: Problem): boolean =>
  REFRESHABLE_TYPES.has(problem.type) ||
  (problem.type === "about:blank" && problem.detail !== undefined && REFRESHABLE_DETAILS.has(problem.detail));

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
    const type = response.headers.get("content-type") ?? "";
    // a page (the unsubscribe link's) is its text; everything else, problems included, is JSON
    if (response.ok && type !== "" && !/[/+]json\b/.test(type)) return text;
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

  /** The error a refused response stands for (what `parse` throws). */
  const errorOf = (response: Response): Promise<unknown> =>
    parse(response).then(
      () =>
        new ApiError(response.status, {
          type: "about:blank",
          title: response.statusText,
          status: response.status,
        }),
      (error: unknown) => error,
    );

  // One exchange at a time: a refresh token is single use, and presenting a rotated one again
  // revokes the whole session, so calls refused together all wait for the same exchange.
  let refreshing: Promise<boolean> | null = null;
  /**
   * Replaces `stale` (the session a call used) with a new pair; whether there is a session to retry
   * with. A refusal (401) ends the session; a failure of another kind (network, 5xx) keeps it.
   */
  const refresh = (stale: Session): Promise<boolean> => {
    if (refreshing) return refreshing;
    // Already replaced (another call refreshed while this one was on its way): no second exchange.
    if (session !== stale) return Promise.resolve(session !== null);
    const exchange = async (): Promise<boolean> => {
      try {
        const res = await raw("refresh", { body: { refreshToken: stale.refreshToken } });
        const tokens = res.ok ? ((await res.json()) as TokenResponse) : undefined;
        // Logged out or in again meanwhile: that session, not this exchange's, is the one to keep.
        if (session !== stale) return session !== null;
        if (tokens) setSession(fromTokens(tokens));
        else if (res.status === 401) setSession(null);
        return tokens !== undefined;
      } catch {
        return false;
      } finally {
        refreshing = null;
      }
    };
    refreshing = exchange();
    return refreshing;
  };

  const call: ApiClient["call"] = async (name, ...input) => {
    const route: ApiRoute = apiRoutes[name];
    const request = input[0] as RawInput | undefined;
    if (route.access === "public") return (await parse(await raw(name, request))) as never;
    if (session && session.expiresAt - Date.now() < 10_000) await refresh(session);
    const used = session;
    const response = await raw(name, request, used?.accessToken);
    if (response.status !== 401 || !used) return (await parse(response)) as never;
    // Refused before anything ran (the token is checked first), so sending it again is safe
    // whatever the method: once, after a refresh, and only when the token expired or was revoked.
    const refused = await errorOf(response);
    if (!(refused instanceof ApiError) || !refreshable(refused.problem) || !(await refresh(used)) || !session)
      throw refused;
    return (await parse(await raw(name, request, session.accessToken))) as never;
  };

  return {
    get session() {
      return session;
    },
    call,
    async login(email, password) {
      const tokens = (await parse(await raw("login", { body: { email, password } }))) as TokenResponse;
      setSession(fromTokens(tokens));
      return tokens;
    },
    async logout() {
      if (session) await raw("logout", { body: { refreshToken: session.refreshToken } }).catch(() => {});
      setSession(null);
    },
    async logoutAll() {
      await call("logoutAll");
      setSession(null);
    },
    async changePassword(currentPassword, newPassword) {
      const tokens = await call("changePassword", { body: { currentPassword, newPassword } });
      setSession(fromTokens(tokens));
      return tokens;
    },
  };
}

export type { ApiRouteName, ApiRoutes } from "@finanzas/contracts";
