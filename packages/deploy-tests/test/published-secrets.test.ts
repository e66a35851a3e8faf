import { randomBytes } from "node:crypto";
import {
  DEMO_SECRETS,
  PUBLISHED_SECRETS,
  productionSecretProblems,
  publishedSource,
  Type,
} from "@finanzas/config";
import { describe, expect, it } from "vitest";
import { findSecrets, publishingFiles, repositorySecrets } from "../src/published-secrets.js";

// Whatever secret the repository publishes (docker/*.env*, compose's fallbacks, Markdown, scripts,
// tests, benchmarks), production must refuse: anyone can read it. A new demo or test value that
// @finanzas/config does not know (PUBLISHED_SECRETS, or a placeholder word in it) fails here.

const found = repositorySecrets();

describe("secrets published in the repository", () => {
  it("scans where secrets get published, and finds the ones known to be there", () => {
    const files = publishingFiles().map((f) => f.slice(f.indexOf("/", 1)));
    expect(files.some((f) => f.endsWith("docker/demo.env"))).toBe(true);
    expect(files.some((f) => f.endsWith("README.md"))).toBe(true);
    expect(files.some((f) => f.endsWith("apps/web-api/test/helpers.ts"))).toBe(true);
    const values = new Set(found.map((f) => f.value));
    for (const value of Object.values(DEMO_SECRETS)) expect(values, value).toContain(value);
    const where = new Set(found.map((f) => f.file.split("/")[0]));
    expect([...where].sort()).toEqual(expect.arrayContaining(["README.md", "apps", "docker", "packages"]));
  });

  it("every one of them is refused in production", () => {
    const accepted = found
      .filter((f) => publishedSource(f.value) === undefined)
      .map((f) => `${f.file}:${f.line} ${f.name} = ${JSON.stringify(f.value)}`);
    expect(
      accepted,
      "add these values to PUBLISHED_SECRETS in packages/config/src/secrets.ts (or make them random at run time)",
    ).toEqual([]);
    // …by the check every service runs, for a secret variable and for a password inside a URL.
    const schema = Type.Object({ TOKEN: Type.String({ secret: true }), URL: Type.String() });
    for (const { value } of found) {
      const url = `postgres://user:${encodeURIComponent(value)}@db:5432/finanzas`;
      const problems = productionSecretProblems({ NODE_ENV: "production", TOKEN: value, URL: url }, schema);
      expect(problems.map((p) => p.split(" ")[0]).sort(), value).toEqual(["TOKEN", "the"]);
      // (a value of a few letters may be a word of any message)
      if (value.length >= 6)
        expect(problems.join("\n"), "the messages never show the value").not.toContain(value);
    }
  });

  it("the scan notices a new value nobody listed (this check can fail)", () => {
    // New values, made now (a literal here would be published by this very file).
    const fresh = () => randomBytes(18).toString("base64url");
    const values = [fresh(), fresh(), fresh(), fresh()];
    const text = [
      `const JWT_SECRET = "${values[0]}";`,
      `NEW_API_TOKEN=${values[1]}`,
      `fetch(url, { body: JSON.stringify({ "password":"${values[2]}" }) })`,
      `DATABASE_URL=postgres://app:${values[3]}@db/finanzas`,
      'ODOO_URL: "http://odoo:8069", ODOO_DB: "demo"',
    ].join("\n");
    const scanned = findSecrets("docker/new.env", text);
    expect(scanned.map((f) => f.value)).toEqual(values);
    for (const { value } of scanned) expect(publishedSource(value), value).toBeUndefined();
  });

  it("lists each published value once", () => {
    const values = PUBLISHED_SECRETS.map((p) => p.value);
    expect(new Set(values).size).toBe(values.length);
  });
});
