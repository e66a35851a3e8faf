import { describe, expect, it } from "vitest";
import { prefersOverJson } from "./accept.js";

describe("prefersOverJson", () => {
  it("is true for browsers following a link", () => {
    // Firefox, Chrome and Safari as they send it for a page
    for (const accept of [
      "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
      "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
      "text/html, application/json;q=0.5",
      "text/*",
    ]) {
      expect(prefersOverJson(accept, "text/html"), accept).toBe(true);
    }
  });

  it("is false for API clients, mail providers and anything without a preference for the page", () => {
    for (const accept of [
      undefined,
      "",
      "*/*",
      "application/json",
      "application/problem+json, text/html;q=0.5",
      "text/html;q=0.5, application/*",
      "text/html, application/json",
      "text/html;q=0",
      "text/plain",
    ]) {
      expect(prefersOverJson(accept, "text/html"), String(accept)).toBe(false);
    }
  });
});
