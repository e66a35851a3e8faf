import { describe, expect, it } from "vitest";
import { contentDisposition, InvalidKeyError, validateKey } from "./storage.js";

describe("validateKey", () => {
  it("accepts relative paths of safe segments", () => {
    for (const key of [
      "reports/2026/12/0b7e7a52-2f6b-4a86-9d2b-1f6a1c1e2d3f.xlsx",
      "a",
      "statements/partner_42/2026-12.v2.xlsx",
    ]) {
      expect(validateKey(key)).toBe(key);
    }
  });

  it("names what is wrong with a key", () => {
    const reason = (key: string) => {
      try {
        validateKey(key);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidKeyError);
        return (error as Error).message.split(" (expected")[0];
      }
      return "accepted";
    };
    expect(reason("")).toBe('invalid storage key "": it is empty');
    expect(reason("/srv/x.xlsx")).toBe('invalid storage key "/srv/x.xlsx": it is an absolute path');
    expect(reason("a\\b.xlsx")).toBe('invalid storage key "a\\\\b.xlsx": it contains a backslash');
    expect(reason("a/../b")).toBe('invalid storage key "a/../b": it has a ".." segment');
    expect(reason("a/./b")).toBe('invalid storage key "a/./b": segment "." starts with "."');
    expect(reason("a//b")).toBe(
      'invalid storage key "a//b": it has an empty segment (a trailing or double /)',
    );
    expect(reason("a/b c")).toBe('invalid storage key "a/b c": it contains " "');
    expect(reason("informe-ñ.xlsx")).toBe('invalid storage key "informe-ñ.xlsx": it contains "ñ"');
    expect(reason("x".repeat(1025))).toMatch(/it is longer than 1024$/);
  });
});

describe("contentDisposition", () => {
  it("gives an ASCII filename and the exact UTF-8 name in filename*", () => {
    expect(contentDisposition("Informe.xlsx")).toBe(
      `attachment; filename="Informe.xlsx"; filename*=UTF-8''Informe.xlsx`,
    );
    expect(contentDisposition("Antigüedad de saldos – diciembre 2026.xlsx")).toBe(
      `attachment; filename="Antiguedad de saldos _ diciembre 2026.xlsx"; ` +
        `filename*=UTF-8''Antig%C3%BCedad%20de%20saldos%20%E2%80%93%20diciembre%202026.xlsx`,
    );
  });

  it("cannot be broken out of by quotes, separators or line breaks in the name", () => {
    const header = contentDisposition('a"; filename="evil.exe\r\nX-Injected: 1/../b\\c (1)*\'%.xlsx');
    expect(header).not.toMatch(/[\r\n]/);
    expect(header).toBe(
      `attachment; filename="a_; filename=_evil.exe__X-Injected: 1_.._b_c (1)*'_.xlsx"; ` +
        `filename*=UTF-8''a%22%3B%20filename%3D%22evil.exe__X-Injected%3A%201_.._b_c%20%281%29%2A%27%25.xlsx`,
    );
    expect(contentDisposition("  ")).toBe(`attachment; filename="download"; filename*=UTF-8''download`);
  });
});
