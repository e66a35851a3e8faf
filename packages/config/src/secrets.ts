import type { TObject, TSchema } from "@sinclair/typebox";

/**
 * What production refuses to start with: a secret that anyone who has read this repository knows,
 * or one too guessable to sign tokens with.
 *
 * A value published here (docker/demo.env, README.md, scripts, tests, benchmarks) stays known for
 * good, whatever later commits do: values are added to this list and never removed. A secret
 * "derives from" one of them when, compared case-insensitively on its letters and digits alone, it
 * contains it (the value with a prefix or suffix, or re-cased, or with other separators) or is a
 * piece of it (12 characters or more). Values under 5 letters and digits must match whole, so that
 * a random secret is never refused for holding "pw" somewhere. packages/deploy-tests scans the
 * repository and fails when a secret-looking value it finds is not refused here: a new demo or
 * test value must be added to this list (or contain one of the PLACEHOLDER_MARKERS).
 */
export const PUBLISHED_SECRETS: readonly { value: string; where: string }[] = [
  // docker/demo.env (docker/.env.example until the demo values moved out of it), README.md
  { value: "demo-postgres-password", where: "docker/demo.env" },
  { value: "demo-etl-password", where: "docker/demo.env" },
  { value: "demo-reader-password", where: "docker/demo.env" },
  { value: "demo-only-jwt-key-replace-with-openssl-rand-base64-48", where: "docker/demo.env" },
  { value: "demo-only-unsubscribe-key-replace-with-openssl-rand", where: "docker/demo.env" },
  { value: "demo-admin-password", where: "docker/demo.env, README.md and scripts/run-all.mjs" },
  { value: "admin", where: "docker/demo.env (the Odoo simulator's default password)" },
  // fixed values of tests that must see a password (redaction checks) or share one across processes
  { value: "Pr0xy-Pa55word", where: "packages/faults/test/odoo.test.ts" },
  { value: "faults-unsubscribe-key-0123456789abcdef", where: "packages/faults/test/shutdown.test.ts" },
  { value: "Tr0ub4dor&3-<key>", where: "packages/odoo/test/bounds.test.ts" },
  { value: "pw-4711", where: "packages/odoo/test/client.test.ts" },
  { value: "a-long-password-1", where: "README.md (creating a user)" },
  // tests and benchmarks
  { value: "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz", where: "the web-api tests" },
  { value: "unit-test-secret-0123456789-abcdefghijklmnop", where: "the web-api tests" },
  { value: "k7Qp2xZr9LmN4vBc8TgH1sWd6YeJ3fUa", where: "the web-api tests" },
  { value: "u2Xq8rTz5LmB7vNc1KgH4sPd9YeW3fJa", where: "the web-api tests" },
  { value: "changeme-changeme-changeme-changeme", where: "the web-api tests" },
  { value: "correct horse battery staple", where: "the web-api tests" },
  { value: "metrics-token-0123456789", where: "the web-api tests" },
  { value: "client-test-unsubscribe-secret-0123456789", where: "the web-api tests" },
  { value: "unsubscribe-secret-for-the-mail-api-tests-0123456789", where: "the web-api tests" },
  { value: "test-unsubscribe-secret-0123456789abcdef", where: "the mailer tests" },
  { value: "short-secret-value", where: "the config tests" },
  { value: "secret", where: "the etl-worker and service tests" },
  { value: "hunter2", where: "the runtime tests" },
  { value: "s3cr3t", where: "the logger tests" },
  { value: "s3-secret", where: "the logger tests" },
  { value: "S3RVER", where: "the storage tests (the S3 test server's credentials)" },
  { value: "pw", where: "the db tests" },
  { value: "p", where: "the db tests" },
  { value: "key", where: "the storage tests" },
  { value: "x", where: "the odoo tests" },
  { value: "wrong", where: "the odoo tests" },
  { value: "bench-secret-kQ2x9LmN4vBc8TgH1sWd6YeJ3fUa7Pz", where: "bench/api" },
  { value: "bench-unsubscribe-Zr5Tq8Wn2Kx7Vb4Hm9Lc3Jf6", where: "bench/api" },
  { value: "bench-password-0123456789", where: "bench/api" },
];

/**
 * The demo's secrets, variable by variable, exactly as docker/demo.env sets them (a deploy test
 * holds the two together). For a URL: the password inside it (DATABASE_ADMIN_URL's is docker/demo.env's
 * POSTGRES_PASSWORD; DATABASE_URL is what compose gives a service from DATABASE_READER_URL, or
 * the etl-worker from DATABASE_ETL_URL: DEMO_SECRET_ALTERNATIVES). With ALLOW_DEMO_SECRETS=true,
 * and only then, production accepts these values, each for its own variable, and nothing else that
 * is published or weak.
 */
export const DEMO_SECRETS: Readonly<Record<string, string>> = {
  DATABASE_URL: "demo-reader-password",
  DATABASE_ADMIN_URL: "demo-postgres-password",
  DATABASE_ETL_URL: "demo-etl-password",
  DATABASE_READER_URL: "demo-reader-password",
  JWT_SECRET: "demo-only-jwt-key-replace-with-openssl-rand-base64-48",
  MAIL_UNSUBSCRIBE_SECRET: "demo-only-unsubscribe-key-replace-with-openssl-rand",
  ADMIN_PASSWORD: "demo-admin-password",
  ODOO_PASSWORD: "admin",
};

/**
 * Other demo values a variable may hold: compose gives the etl-worker its database role's URL
 * (DATABASE_ETL_URL) as DATABASE_URL, the other services the reader's.
 */
export const DEMO_SECRET_ALTERNATIVES: Readonly<Record<string, readonly string[]>> = {
  DATABASE_URL: ["demo-etl-password"],
};

/** Words that mark a value as a stand-in, wherever they appear in it (case and separators ignored). */
export const PLACEHOLDER_MARKERS = [
  "demo",
  "example",
  "changeme",
  "changeit",
  "replace",
  "placeholder",
  "insecure",
  "dummy",
  "sample",
] as const;

const letters = (value: string) => value.toLowerCase().replace(/[^a-z0-9]/g, "");

/**
 * Where a published value the secret equals or derives from was published, or which placeholder
 * word it holds; undefined when neither. Never returns any part of the value itself.
 */
export function publishedSource(value: string): string | undefined {
  const mine = letters(value);
  if (mine === "") return undefined;
  for (const { value: published, where } of PUBLISHED_SECRETS) {
    const theirs = letters(published);
    if (theirs.length < 5 ? mine === theirs : mine.includes(theirs)) return where;
    if (mine.length >= 12 && theirs.includes(mine)) return where;
  }
  if (PLACEHOLDER_MARKERS.some((marker) => mine.includes(marker))) return "placeholder";
  return undefined;
}

// ---- entropy estimate ---------------------------------------------------------------------------

/** Words an attacker tries first: common passwords and the vocabulary of this system's config. */
const COMMON_WORDS = new Set(
  `password passwd pass passphrase secret secrets admin administrator root user users login logon letmein
  welcome qwerty asdf zxcv test tests testing demo example sample default changeme change replace key keys
  token tokens jwt api app dev develop development prod production staging stage local localhost server
  database data postgres postgresql redis mail email smtp unsubscribe metrics signing sign hmac sha base
  openssl rand random only with this that the and for not you your our my company finanzas odoo finance
  access refresh session master super hello world love dragon monkey football baseball sunshine princess
  iloveyou trustno shadow abc xyz foo bar baz qux lorem ipsum temp tmp new old first one two three four five
  six seven eight nine ten zero alpha beta gamma delta omega spring summer autumn winter monday friday
  january december secure security private public internal service worker report reports scheduler
  web docker compose kube cloud linux windows apple google azure amazon minio supabase value string`.split(
    /\s+/,
  ),
);

const KEYBOARD_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890", "!@#$%^&*()"];

const log2 = Math.log2;
const isLetter = (c: string) => /[A-Za-z]/.test(c);

/** The alphabet a brute-force attacker would need for this string: the classes of characters in it. */
function poolSize(value: string): number {
  let size = 0;
  if (/[a-z]/.test(value)) size += 26;
  if (/[A-Z]/.test(value)) size += 26;
  if (/[0-9]/.test(value)) size += 10;
  if (/[^A-Za-z0-9]/.test(value)) size += 33;
  return Math.max(size, 2);
}

/** Lowercase (or Capitalised) letters with vowels where English has them: read as text, not as noise. */
function wordLike(run: string): boolean {
  if (run.length < 5 || !/^[A-Za-z][a-z]+$/.test(run)) return false;
  const vowels = run.match(/[aeiouy]/gi)?.length ?? 0;
  const ratio = vowels / run.length;
  const cluster = Math.max(...run.split(/[aeiouy]/i).map((part) => part.length));
  return ratio >= 0.3 && ratio <= 0.6 && cluster <= 3;
}

const ESTIMATE_CHARS = 256;

/**
 * Estimated bits of entropy of a secret, as an attacker who knows the usual shapes would guess it:
 * each character costs log2 of its string's alphabet, except where a cheaper explanation exists:
 * a repeated character or chunk (`aaaa`, `abcabc`, a chunk seen before), a sequence (`abcd`,
 * `0123`, `9876`, a keyboard row), a common word (8 bits), a word-like run of letters (2.5 bits a
 * letter, about English text's rate), a separator used before (1 bit). The cheapest explanation
 * of the whole string is the estimate (dynamic programming over its positions). Only the first
 * 256 characters are read: beyond that the estimate is far above any threshold anyway.
 */
export function estimateEntropyBits(secret: string): number {
  const value = secret.slice(0, ESTIMATE_CHARS);
  const n = value.length;
  const charBits = log2(poolSize(value));
  const best = new Array<number>(n + 1).fill(Number.POSITIVE_INFINITY);
  best[0] = 0;
  const relax = (to: number, cost: number) => {
    if (cost < best[to]!) best[to] = cost;
  };
  const unitCost = new Map<string, number>();
  const costOf = (unit: string) => {
    let cost = unitCost.get(unit);
    if (cost === undefined) {
      cost = unit.length === 1 ? charBits : estimateEntropyBits(unit);
      unitCost.set(unit, cost);
    }
    return cost;
  };
  for (let i = 0; i < n; i++) {
    const here = best[i]!;
    if (!Number.isFinite(here)) continue;
    const c = value[i]!;
    // one character, by brute force; a separator seen before costs next to nothing
    const separatorSeen = !/[A-Za-z0-9]/.test(c) && value.slice(0, i).includes(c);
    relax(i + 1, here + (separatorSeen ? 1 : charBits));

    // a unit repeated from here: aaaa, abab, changeme-changeme-
    for (let unit = 1; unit <= 16 && i + 2 * unit <= n; unit++) {
      const chunk = value.slice(i, i + unit);
      let end = i + unit;
      while (end + unit <= n && value.slice(end, end + unit) === chunk) end += unit;
      const times = (end - i) / unit;
      if (times >= 2) {
        for (let k = 2; k <= times; k++) relax(i + k * unit, here + costOf(chunk) + log2(k));
      }
    }

    // a chunk that already occurred earlier in the string
    for (let len = 4; len <= 32 && i + len <= n; len++) {
      if (value.slice(0, i).includes(value.slice(i, i + len))) relax(i + len, here + log2(i * len) + 1);
      else break;
    }

    // a sequence of equal steps (abcd, 0123, zyx, aceg), from 3 characters on
    if (i + 2 < n) {
      const step = value.charCodeAt(i + 1) - value.charCodeAt(i);
      if (step !== 0 && Math.abs(step) <= 2) {
        let end = i + 2;
        while (end < n && value.charCodeAt(end) - value.charCodeAt(end - 1) === step) end++;
        for (let to = i + 3; to <= end; to++) relax(to, here + charBits + log2(to - i) + 1);
      }
    }

    // a stretch of a keyboard row, either way
    for (let len = 4; len <= 12 && i + len <= n; len++) {
      const piece = value.slice(i, i + len).toLowerCase();
      const reversed = [...piece].reverse().join("");
      if (KEYBOARD_ROWS.some((row) => row.includes(piece) || row.includes(reversed)))
        relax(i + len, here + 6 + log2(len));
    }

    // a common word, or a word-like run of letters
    if (isLetter(c)) {
      for (let len = 3; len <= 24 && i + len <= n; len++) {
        const piece = value.slice(i, i + len);
        if (!isLetter(piece[len - 1]!)) break;
        const lower = piece.toLowerCase();
        const cased = piece === lower ? 0 : 1;
        if (COMMON_WORDS.has(lower)) relax(i + len, here + 8 + cased);
        if (wordLike(piece)) relax(i + len, here + 4 + 2.5 * len + cased);
      }
    }
  }
  return best[n]!;
}

// ---- the production check -----------------------------------------------------------------------

/** The schema keywords env.secret sets (packages/config's env builders). */
interface SecretSchema {
  secret?: boolean;
  /** Estimated entropy a value must reach in production (estimateEntropyBits). */
  minBits?: number;
}

/** The password of a URL (`scheme://user:password@host`), when it has one. */
export function urlPassword(value: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined;
  try {
    const password = new URL(value).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}

interface Candidate {
  /** The variable. */
  name: string;
  /** How a message names the value: `JWT_SECRET`, or `the password in DATABASE_URL`. */
  label: string;
  value: string;
  minBits?: number | undefined;
}

/** The secrets a configuration holds: env.secret variables, and passwords inside URL variables. */
function candidates(config: Record<string, unknown>, schema: TObject): Candidate[] {
  const found: Candidate[] = [];
  for (const [name, property] of Object.entries(schema.properties) as [string, TSchema & SecretSchema][]) {
    const value = config[name];
    if (typeof value !== "string" || value === "") continue;
    if (property.secret) {
      found.push({ name, label: name, value, minBits: property.minBits });
      continue;
    }
    const password = urlPassword(value);
    if (password) found.push({ name, label: `the password in ${name}`, value: password });
  }
  return found;
}

const isDemo = (candidate: Candidate) =>
  DEMO_SECRETS[candidate.name] === candidate.value ||
  (DEMO_SECRET_ALTERNATIVES[candidate.name]?.includes(candidate.value) ?? false);

function problemOf(candidate: Candidate): string | undefined {
  const source = publishedSource(candidate.value);
  if (source === "placeholder") {
    return `${candidate.label} is a placeholder (it holds a word such as demo, example, changeme or replace): set the real value`;
  }
  if (source) {
    const demo = isDemo(candidate)
      ? " (demo values run only with ALLOW_DEMO_SECRETS=true, see docker/demo.env)"
      : "";
    return `${candidate.label} equals or derives from a value published in ${source}, which anyone can read${demo}: set a value of your own`;
  }
  if (candidate.minBits !== undefined) {
    const bits = Math.floor(estimateEntropyBits(candidate.value));
    if (bits < candidate.minBits) {
      return `${candidate.label} is too guessable: about ${bits} bits of entropy estimated, at least ${candidate.minBits} needed (repeated, sequential or word-like text counts little): generate one with \`openssl rand -base64 48\``;
    }
  }
  return undefined;
}

/**
 * What `NODE_ENV=production` refuses in a parsed configuration: every env.secret variable (and the
 * password inside every URL variable: DATABASE_URL, REDIS_URL, SMTP_URL…) that equals or derives
 * from a published value (PUBLISHED_SECRETS, PLACEHOLDER_MARKERS), and every one declared with
 * `minBits` whose estimated entropy is lower. With ALLOW_DEMO_SECRETS=true a variable that holds
 * exactly its own demo value (DEMO_SECRETS) is let through; nothing else is. Messages name the
 * variable and never hold its value. Outside production: none (services warn and make up random
 * secrets where they can).
 */
export function productionSecretProblems(config: Record<string, unknown>, schema: TObject): string[] {
  if (config.NODE_ENV !== "production") return [];
  const allowDemo = config.ALLOW_DEMO_SECRETS === true;
  const problems: string[] = [];
  for (const candidate of candidates(config, schema)) {
    if (allowDemo && isDemo(candidate)) continue;
    const problem = problemOf(candidate);
    if (problem) problems.push(problem);
  }
  return problems;
}

/** The variables running on their demo value by ALLOW_DEMO_SECRETS=true (production only). */
export function demoSecretsInUse(config: Record<string, unknown>, schema: TObject): string[] {
  if (config.NODE_ENV !== "production" || config.ALLOW_DEMO_SECRETS !== true) return [];
  return candidates(config, schema)
    .filter(isDemo)
    .map((c) => c.name);
}

/** The warning a service prints at every start while ALLOW_DEMO_SECRETS=true does something (or nothing). */
export function demoSecretsWarning(
  service: string,
  config: Record<string, unknown>,
  schema: TObject,
): string | undefined {
  if (config.ALLOW_DEMO_SECRETS !== true) return undefined;
  if (config.NODE_ENV !== "production") {
    return `${service}: ALLOW_DEMO_SECRETS=true has no effect outside NODE_ENV=production: remove it`;
  }
  const names = demoSecretsInUse(config, schema);
  if (names.length === 0) {
    return `${service}: ALLOW_DEMO_SECRETS=true, but no demo value is in use: remove it`;
  }
  return `${service}: WARNING: ALLOW_DEMO_SECRETS=true: running on the published demo values of ${names.join(", ")} (docker/demo.env). Anyone who has read the repository knows them: never let this deployment be reached from a network, and never set ALLOW_DEMO_SECRETS outside the demo`;
}
