import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError, commonEnv, env, loadConfig, parseEnv, Type } from "./index.js";
import {
  DEMO_SECRETS,
  demoSecretsWarning,
  estimateEntropyBits,
  productionSecretProblems,
  publishedSource,
  urlPassword,
} from "./secrets.js";

const strong = () => randomBytes(48).toString("base64");

const schema = Type.Object({
  ...commonEnv,
  JWT_SECRET: env.optional(env.secret({ minLength: 32, minBits: 128 })),
  ADMIN_PASSWORD: env.optional(env.secret({ minLength: 12 })),
  ODOO_PASSWORD: env.optional(env.secret()),
  SMTP_URL: env.optional(env.url(["smtp", "smtps"])),
});

const production = (source: Record<string, string>) =>
  parseEnv("svc", schema, {
    NODE_ENV: "production",
    JWT_SECRET: strong(),
    ADMIN_PASSWORD: strong(),
    ...source,
  });
const problemsOf = (source: Record<string, string>) => productionSecretProblems(production(source), schema);

describe("published values", () => {
  it("refuses a value equal to one published, or derived from it: re-cased, re-separated, with a prefix or suffix, or a piece of it", () => {
    const demo = DEMO_SECRETS.JWT_SECRET!;
    for (const derived of [
      demo,
      demo.toUpperCase(),
      demo.replaceAll("-", "_"),
      `prod-${demo}`,
      `${demo}-2026`,
      "demo-only-jwt-key-replace",
      "k7Qp2xZr9LmN4vBc8TgH1sWd6YeJ3fUa",
      "k7Qp2xZr9LmN4vBc8TgH1sWd", // a piece of a test value
      "Demo-Admin-Password!",
    ]) {
      expect(publishedSource(derived), derived).toBeDefined();
    }
  });

  it("refuses a value holding a placeholder word, wherever it is", () => {
    for (const value of [
      "CHANGEME-please-0000000000000000",
      "my-example-key-zz",
      "x-REPLACE_ME-x",
      "sampleToken",
    ]) {
      expect(publishedSource(value), value).toBe("placeholder");
    }
  });

  it("matches short published values only whole: a random secret holding 'pw' or 'x' is fine", () => {
    expect(publishedSource("pw")).toBeDefined();
    expect(publishedSource("PW")).toBeDefined();
    expect(publishedSource("x7pwQz")).toBeUndefined();
    expect(publishedSource(strong())).toBeUndefined();
  });

  it("finds the password inside a URL", () => {
    expect(urlPassword("postgres://postgres:demo-postgres-password@postgres:5432/finanzas")).toBe(
      "demo-postgres-password",
    );
    expect(urlPassword("redis://:demo%40pass@redis:6379")).toBe("demo@pass");
    expect(urlPassword("postgres://postgres@127.0.0.1:5432/finanzas")).toBeUndefined();
    expect(urlPassword("not a url")).toBeUndefined();
  });
});

describe("estimated entropy", () => {
  it("counts repeated, sequential, keyboard and word-like text for little", () => {
    for (const weak of [
      "a".repeat(40),
      "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",
      "qwertyuiopasdfghjklzxcvbnm1234567890",
      "changeme-changeme-changeme-changeme",
      "Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3",
      "thequickbrownfoxjumpsoverthelazydog-thequickbrownfox",
      "my-company-finanzas-production-jwt-signing-key",
    ]) {
      expect(estimateEntropyBits(weak), weak).toBeLessThan(128);
    }
  });

  it("gives random secrets their due: openssl rand -base64 48, -base64 32, -hex 32, base64url of 24 bytes", () => {
    for (let i = 0; i < 200; i++) {
      expect(estimateEntropyBits(randomBytes(48).toString("base64"))).toBeGreaterThan(256);
      expect(estimateEntropyBits(randomBytes(32).toString("base64"))).toBeGreaterThan(192);
      expect(estimateEntropyBits(randomBytes(32).toString("hex"))).toBeGreaterThan(192);
      expect(estimateEntropyBits(randomBytes(24).toString("base64url"))).toBeGreaterThan(128);
    }
  });

  it("stays fast on a long value (reads the first 256 characters)", () => {
    const started = performance.now();
    for (let i = 0; i < 20; i++) estimateEntropyBits(randomBytes(4096).toString("base64"));
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe("productionSecretProblems", () => {
  it("accepts strong values of your own", () => {
    expect(
      problemsOf({
        ODOO_PASSWORD: strong(),
        SMTP_URL: `smtps://mailer:${randomBytes(12).toString("hex")}@smtp.example.org`,
      }),
    ).toEqual([]);
  });

  it("names every refused variable, says why, and never shows a value", () => {
    const source = {
      JWT_SECRET: DEMO_SECRETS.JWT_SECRET!,
      ADMIN_PASSWORD: `${DEMO_SECRETS.ADMIN_PASSWORD}-2026`,
      ODOO_PASSWORD: "Admin",
      SMTP_URL: "smtp://mailer:ChangeMe-now@smtp.example.org",
    };
    const problems = problemsOf(source);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^JWT_SECRET equals or derives from a value published in docker\/demo.env/);
    expect(problems[0]).toContain("ALLOW_DEMO_SECRETS=true");
    expect(problems[1]).toMatch(/^ADMIN_PASSWORD equals or derives from a value published/);
    expect(problems[2]).toMatch(/^ODOO_PASSWORD equals or derives from a value published/);
    expect(problems[3]).toMatch(/^the password in SMTP_URL is a placeholder/);
    const text = problems.join("\n");
    for (const value of [...Object.values(source), "ChangeMe-now", "Admin"])
      expect(text).not.toContain(value);
  });

  it("refuses a guessable signing key, saying how many bits it has and how to make one", () => {
    const keyboard = "qwertyuiopasdfghjklzxcvbnm1234567890";
    const [problem] = problemsOf({ JWT_SECRET: keyboard });
    expect(problem).toMatch(
      /^JWT_SECRET is too guessable: about \d+ bits of entropy estimated, at least 128 needed .*openssl rand -base64 48/,
    );
    // ADMIN_PASSWORD declares no minBits: a passphrase is fine there
    const passphrase = ["quiet", "lantern", "orbit", "meadow"].join(" ");
    expect(problemsOf({ ADMIN_PASSWORD: passphrase })).toEqual([]);
  });

  it("lets the demo's values through with ALLOW_DEMO_SECRETS=true, each for its own variable only", () => {
    const demo = {
      JWT_SECRET: DEMO_SECRETS.JWT_SECRET!,
      ADMIN_PASSWORD: DEMO_SECRETS.ADMIN_PASSWORD!,
      ODOO_PASSWORD: DEMO_SECRETS.ODOO_PASSWORD!,
    };
    expect(problemsOf(demo)).toHaveLength(3);
    expect(problemsOf({ ...demo, ALLOW_DEMO_SECRETS: "true" })).toEqual([]);
    // not another variable's demo value, a derived one, a test value or a weak one
    for (const [name, value] of [
      ["JWT_SECRET", DEMO_SECRETS.MAIL_UNSUBSCRIBE_SECRET!],
      ["JWT_SECRET", `${DEMO_SECRETS.JWT_SECRET}x`],
      ["ADMIN_PASSWORD", "correct horse battery staple"],
      ["JWT_SECRET", "a".repeat(40)],
    ] as const) {
      const problems = problemsOf({ [name]: value, ALLOW_DEMO_SECRETS: "true" });
      expect(problems, `${name}=${value}`).toHaveLength(1);
      expect(problems[0]!.startsWith(name)).toBe(true);
    }
  });

  it("checks nothing outside production (services warn and make up secrets there)", () => {
    const config = parseEnv("svc", schema, { NODE_ENV: "development", JWT_SECRET: DEMO_SECRETS.JWT_SECRET! });
    expect(productionSecretProblems(config, schema)).toEqual([]);
  });
});

describe("ALLOW_DEMO_SECRETS warning", () => {
  it("names the variables running on demo values, or says the flag does nothing", () => {
    const demo = production({ JWT_SECRET: DEMO_SECRETS.JWT_SECRET!, ALLOW_DEMO_SECRETS: "true" });
    expect(demoSecretsWarning("web-api", demo, schema)).toMatch(
      /^web-api: WARNING: ALLOW_DEMO_SECRETS=true: running on the published demo values of JWT_SECRET \(docker\/demo.env\)/,
    );
    expect(demoSecretsWarning("web-api", production({ ALLOW_DEMO_SECRETS: "true" }), schema)).toBe(
      "web-api: ALLOW_DEMO_SECRETS=true, but no demo value is in use: remove it",
    );
    expect(demoSecretsWarning("web-api", production({}), schema)).toBeUndefined();
  });

  it("loadConfig reports the problems of `check` like the schema's (the service then exits 1)", () => {
    const exit = process.exit;
    const write = process.stderr.write;
    let written = "";
    let code: number | undefined;
    process.stderr.write = ((chunk: string) => {
      written += chunk;
      return true;
    }) as typeof process.stderr.write;
    process.exit = ((c?: number) => {
      code = c;
      throw new ConfigError("exit", []);
    }) as typeof process.exit;
    try {
      expect(() =>
        loadConfig(
          "svc",
          schema,
          { NODE_ENV: "production", JWT_SECRET: DEMO_SECRETS.JWT_SECRET! },
          (config) => productionSecretProblems(config, schema),
        ),
      ).toThrow();
    } finally {
      process.exit = exit;
      process.stderr.write = write;
    }
    expect(code).toBe(1);
    expect(written).toMatch(/^svc: invalid configuration \(1 problem\):\n {2}- JWT_SECRET equals or derives/);
    expect(written).not.toContain(DEMO_SECRETS.JWT_SECRET!);
  });
});
