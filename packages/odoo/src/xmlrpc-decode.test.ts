import { describe, expect, it } from "vitest";
import { packageDecode } from "../test/helpers.js";
import { moveLines, pythonFault, pythonResponse } from "../test/python-marshal.js";
import {
  decodeMethodResponse,
  decodeRecords,
  looksLikeMethodResponse,
  XmlRpcParseError,
} from "./xmlrpc-decode.js";

const wrap = (value: string): string =>
  `<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value>${value}</value>\n</param>\n</params>\n</methodResponse>\n`;

const ours = (xml: string) => {
  const r = decodeMethodResponse(Buffer.from(xml));
  return r.fault ? { fault: { faultCode: r.faultCode, faultString: r.faultString } } : { value: r.value };
};

describe("decodeMethodResponse gives the xmlrpc package's result", () => {
  const cases: Record<string, string> = {
    int: "<int>42</int>",
    i4: "<i4>-7</i4>",
    "int with plus sign": "<int>+5</int>",
    "int beyond 15 digits": "<int>1234567890123456789</int>",
    "boolean true": "<boolean>1</boolean>",
    "boolean false": "<boolean>0</boolean>",
    "double 1e+16": "<double>1e+16</double>",
    "double tiny": "<double>5e-324</double>",
    "double 100.0": "<double>100.0</double>",
    "double -0.0": "<double>-0.0</double>",
    "double 0.30000000000000004": "<double>0.30000000000000004</double>",
    "double 17 digits": "<double>1.2345678901234567e-300</double>",
    "double huge": "<double>1.7976931348623157e+308</double>",
    "double padded": "<double> 2.5 </double>",
    entities:
      "<string>a &amp; b &lt;c&gt; &quot;q&quot; &apos;s&apos; &#233; &#xE9; &#x1F600; &#60;</string>",
    "entity-like text": "<string>AT&amp;T &amp;amp; fish &amp; chips</string>",
    "empty string": "<string></string>",
    "self-closing string": "<string/>",
    "untyped value": "  untyped &amp; text ",
    "empty untyped value": "",
    "non-ASCII": "<string>ñandú €𝄞 東京 Ünïcödé</string>",
    cdata: "<string><![CDATA[a<b & c]]>tail</string>",
    comment: "<string>a<!-- dropped -->b</string>",
    "empty struct": "<struct></struct>",
    "empty array": "<array><data></data></array>",
    "self-closing data": "<array><data/></array>",
    nested:
      "<struct><member><name>a</name><value><array><data><value><int>1</int></value><value><struct><member><name>b</name><value><boolean>0</boolean></value></member></struct></value></data></array></value></member><member><name>k &amp; v</name><value>plain</value></member></struct>",
    "whitespace everywhere":
      "\n  <struct>\n  <member>\n <name>x</name>\n  <value>\n <int>1</int>\n </value>\n </member>\n </struct>\n",
    "upper-case tags": "<STRUCT><MEMBER><NAME>x</NAME><VALUE><INT>3</INT></VALUE></MEMBER></STRUCT>",
    "duplicate keys, last wins":
      "<struct><member><name>x</name><value><int>1</int></value></member><member><name>x</name><value><int>2</int></value></member></struct>",
    nil: "<nil/>",
    i8: "<i8>9007199254740993</i8>",
  };
  for (const [name, value] of Object.entries(cases)) {
    it(name, async () => {
      const xml = wrap(value);
      const expected = await packageDecode(xml);
      expect(expected.error).toBeUndefined();
      expect(ours(xml)).toEqual({ value: expected.value });
    });
  }

  it("a fault", async () => {
    const xml = pythonFault(4, "You are not allowed to access 'Journal Item' <records> & more");
    expect(ours(xml)).toEqual(await packageDecode(xml));
    expect(ours(xml)).toEqual({
      fault: { faultCode: 4, faultString: "You are not allowed to access 'Journal Item' <records> & more" },
    });
  });

  it("a page of 2 000 journal items, as Buffer and as string", async () => {
    const xml = pythonResponse(moveLines(2000, 7));
    const expected = (await packageDecode(xml)).value;
    expect(decodeMethodResponse(Buffer.from(xml))).toEqual({ fault: false, value: expected });
    expect(decodeMethodResponse(xml)).toEqual({ fault: false, value: expected });
  });

  it("reuses struct keys across records without mixing up names that differ", () => {
    const xml = pythonResponse([
      { id: 1, name: "a" },
      { id: 2, nam: "b" },
      { id: 3, "name&": "c" },
      { id: 4, name: "d" },
    ]);
    expect(decodeMethodResponse(xml)).toEqual({
      fault: false,
      value: [
        { id: 1, name: "a" },
        { id: 2, nam: "b" },
        { id: 3, "name&": "c" },
        { id: 4, name: "d" },
      ],
    });
  });

  it("a __proto__ key is an own property, never the prototype", () => {
    const r = decodeMethodResponse(
      wrap("<struct><member><name>__proto__</name><value><int>1</int></value></member></struct>"),
    );
    const value = (r as { value: Record<string, unknown> }).value;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(["__proto__"]);
  });

  it("Python's inf and nan doubles decode as Python reads them", () => {
    expect(
      ours(
        wrap(
          "<array><data><value><double>inf</double></value><value><double>-inf</double></value><value><double>nan</double></value></data></array>",
        ),
      ),
    ).toEqual({
      value: [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN],
    });
  });
});

describe("malformed answers are errors that say where", () => {
  const bad: Record<string, [string, RegExp]> = {
    "HTML page": [
      "<html><head><title>502 Bad Gateway</title></head><body></body></html>",
      /root element is <html>/,
    ],
    truncated: [wrap("<struct><member><name>x</name><value><int>1</int>").slice(0, 80), /offset \d+/],
    "bad boolean": [wrap("<boolean>yes</boolean>"), /illegal boolean value 'yes'/],
    "bad int": [wrap("<int>x1</int>"), /expected an integer but got 'x1'/],
    "bad double": [wrap("<double>abc</double>"), /expected a double but got 'abc'/],
    "unknown type": [wrap("<float>1</float>"), /unexpected <float> inside <value>/],
    "two params": [
      "<methodResponse><params><param><value>a</value></param><param><value>b</value></param></params></methodResponse>",
      /more than one param/,
    ],
    "trailing garbage": [`${wrap("<int>1</int>")}<x/>`, /content after <\/methodResponse>/],
    empty: ["", /empty document/],
  };
  for (const [name, [xml, message]] of Object.entries(bad)) {
    it(name, () => {
      expect(() => decodeMethodResponse(xml)).toThrow(XmlRpcParseError);
      expect(() => decodeMethodResponse(xml)).toThrow(message);
      expect(() => decodeMethodResponse(xml)).not.toThrow(/Unknown XML-RPC tag/);
    });
  }

  it("looksLikeMethodResponse tells XML-RPC from other answers", () => {
    expect(looksLikeMethodResponse("<?xml version='1.0'?>\n<methodResponse>\n")).toBe(true);
    expect(
      looksLikeMethodResponse('\uFEFF<?xml version="1.0" encoding="utf-8"?><methodResponse><params>'),
    ).toBe(true);
    expect(looksLikeMethodResponse("<!DOCTYPE html><html><title>Odoo</title>")).toBe(false);
    expect(looksLikeMethodResponse('{"jsonrpc": "2.0"}')).toBe(false);
  });
});

describe("decodeRecords visits the records decodeMethodResponse returns", () => {
  /** Every record as decodeRecords hands it over (copied: the array is reused). */
  const visited = (
    xml: string | Buffer,
    fields: string[],
    idOnly: boolean[] = [],
  ): { count: number; rows: unknown[][] } => {
    const rows: unknown[][] = [];
    const count = decodeRecords(xml, { fields, idOnly, record: (values) => rows.push([...values]) });
    return { count, rows };
  };
  /** What the generic decoder gives, in the same shape: many2one pairs shortened where asked. */
  const generic = (xml: string | Buffer, fields: string[], idOnly: boolean[] = []): unknown[][] => {
    const r = decodeMethodResponse(xml);
    if (r.fault) throw new Error("fault");
    return (r.value as Record<string, unknown>[]).map((record) =>
      fields.map((f, i) => {
        const v = Object.hasOwn(record, f) ? record[f] : undefined;
        return idOnly[i] &&
          Array.isArray(v) &&
          v.length === 2 &&
          typeof v[0] === "number" &&
          v[0] > 0 &&
          typeof v[1] === "string"
          ? v[0]
          : v;
      }),
    );
  };

  it("a page of 2 000 journal items, many2one names stepped over", () => {
    const xml = pythonResponse(moveLines(2000, 11));
    const first = (decodeMethodResponse(xml) as { value: Record<string, unknown>[] }).value[0] ?? {};
    const fields = [...Object.keys(first), "not_sent"];
    const idOnly = fields.map((f) => Array.isArray(first[f]));
    expect(idOnly.filter(Boolean).length).toBeGreaterThan(2);
    const { count, rows } = visited(Buffer.from(xml), fields, idOnly);
    expect(count).toBe(2000);
    expect(rows).toEqual(generic(xml, fields, idOnly));
    expect(rows[0]?.at(-1)).toBeUndefined();
    // Without idOnly every value is exactly the generic decoder's.
    expect(visited(xml, fields).rows).toEqual(generic(xml, fields));
  });

  it("many2one values of other shapes arrive as the generic decoder gives them", () => {
    const xml = pythonResponse([
      { id: 1, m: [7, "Ñandú & Co <Ltd>"] },
      { id: 2, m: false },
      { id: 3, m: [0, "zero"] },
      { id: 4, m: [5, "a", "extra"] },
      { id: 5, m: 9 },
      { id: 6, m: [8, 3] },
      { id: 7, m: [] },
    ]);
    const withCdata = xml.replace("<string>zero</string>", "<string><![CDATA[ze<ro]]></string>");
    expect(visited(withCdata, ["id", "m"], [false, true]).rows).toEqual([
      [1, 7],
      [2, false],
      [3, [0, "ze<ro"]],
      [4, [5, "a", "extra"]],
      [5, 9],
      [6, [8, 3]],
      [7, []],
    ]);
    const cdataName = xml.replace("<string>a</string>", "<string><![CDATA[a]]></string>");
    expect(visited(cdataName, ["id", "m"], [false, true]).rows[3]).toEqual([4, [5, "a", "extra"]]);
  });

  it("compact XML, upper-case tags, members in any order, unknown and missing members", () => {
    const xml = wrap(
      "<array><data>" +
        "<value><struct><member><name>b</name><value><string>x</string></value></member><member><name>id</name><value><int>1</int></value></member></struct></value>" +
        "<value><STRUCT><MEMBER><NAME>id</NAME><VALUE><INT>2</INT></VALUE></MEMBER><MEMBER><NAME>extra</NAME><VALUE><array><data><value><int>1</int></value></data></array></VALUE></MEMBER></STRUCT></value>" +
        "<value><struct/></value>" +
        "<value><struct><member><name>m</name><value><array><data><value><int>3</int></value><value><string>Three</string></value></data></array></value></member><member><name>id</name><value><int>4</int></value></member></struct></value>" +
        "</data></array>",
    );
    expect(visited(xml, ["id", "b", "m"], [false, false, true])).toEqual({
      count: 4,
      rows: [
        [1, "x", undefined],
        [2, undefined, undefined],
        [undefined, undefined, undefined],
        [4, undefined, 3],
      ],
    });
  });

  it("an empty list visits nothing", () => {
    expect(visited(wrap("<array><data></data></array>"), ["id"])).toEqual({ count: 0, rows: [] });
    expect(visited(wrap("<array><data/></array>"), ["id"])).toEqual({ count: 0, rows: [] });
  });

  it("anything but a list of records is an error that says what it found", () => {
    expect(() => visited(wrap("<int>1</int>"), ["id"])).toThrow(/expected a list of records/);
    expect(() => visited(wrap("<array><data><value><int>1</int></value></data></array>"), ["id"])).toThrow(
      /expected a record \(<struct>\), found <int>/,
    );
    expect(() => visited(pythonFault(1, "no"), ["id"])).toThrow(/found <fault>/);
    const truncated = pythonResponse(moveLines(3, 1)).slice(0, -200);
    expect(() => visited(truncated, ["id"])).toThrow(XmlRpcParseError);
  });
});

describe("nesting is bounded: a clear parse error, never a stack overflow", () => {
  const nested = (levels: number) =>
    `${"<array><data><value>".repeat(levels)}<int>1</int>${"</value></data></array>".repeat(levels)}`;
  const structs = (levels: number) =>
    `${"<struct><member><name>k</name><value>".repeat(levels)}<int>1</int>${"</value></member></struct>".repeat(levels)}`;

  it("64 levels decode; 65 and 10 000 are 'value nested deeper than 64 levels'", () => {
    let v = decodeMethodResponse(wrap(nested(64))).value as unknown;
    let depth = 0;
    while (Array.isArray(v)) {
      v = v[0];
      depth++;
    }
    expect(depth).toBe(64);
    for (const levels of [65, 10_000]) {
      for (const xml of [wrap(nested(levels)), wrap(structs(levels))]) {
        const error = (() => {
          try {
            decodeMethodResponse(Buffer.from(xml));
          } catch (e) {
            return e;
          }
        })();
        expect(error).toBeInstanceOf(XmlRpcParseError);
        expect((error as Error).message).toMatch(
          /^invalid XML-RPC response: value nested deeper than 64 levels at offset \d+/,
        );
      }
    }
  });

  it("a record's field nested 10 000 levels fails the page the same way; maxDepth moves the limit", () => {
    const pageOf = (levels: number) =>
      wrap(
        `<array><data><value><struct><member><name>id</name><value><int>1</int></value></member><member><name>name</name><value>${nested(levels)}</value></member></struct></value></data></array>`,
      );
    const visit = (xml: string, maxDepth?: number) =>
      decodeRecords(
        Buffer.from(xml),
        { fields: ["id", "name"], record: () => {} },
        maxDepth ? { maxDepth } : {},
      );
    expect(() => visit(pageOf(10_000))).toThrow(/value nested deeper than 64 levels/);
    expect(() => visit(pageOf(150))).toThrow(/value nested deeper than 64 levels/);
    expect(visit(pageOf(150), 200)).toBe(1);
    // the answer's list and the record count: a field may nest 62 levels under the default
    expect(visit(pageOf(62))).toBe(1);
    expect(() => visit(pageOf(63))).toThrow(/nested deeper than 64/);
    expect(() => decodeMethodResponse(pageOf(63))).toThrow(/nested deeper than 64/);
  });

  it("bytes that are not UTF-8 decode as U+FFFD, the rest of the text intact", () => {
    const [head, tail] = wrap("@").split("@") as [string, string];
    const bytes = (...parts: (string | number[])[]) =>
      Buffer.concat([
        Buffer.from(head),
        ...parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))),
        Buffer.from(tail),
      ]);
    expect(decodeMethodResponse(bytes("<string>Caf", [0xc3, 0x28, 0xff], "é</string>")).value).toBe(
      "Caf\uFFFD(\uFFFDé",
    );
    const records: unknown[] = [];
    decodeRecords(
      bytes(
        "<array><data><value><struct><member><name>name</name><value><string>A",
        [0xff],
        "B</string></value></member></struct></value></data></array>",
      ),
      { fields: ["name"], record: (values) => records.push(values[0]) },
    );
    expect(records).toEqual(["A\uFFFDB"]);
  });
});
