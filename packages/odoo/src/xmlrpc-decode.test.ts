import { describe, expect, it } from "vitest";
import { packageDecode } from "../test/helpers.js";
import { moveLines, pythonFault, pythonResponse } from "../test/python-marshal.js";
import { decodeMethodResponse, looksLikeMethodResponse, XmlRpcParseError } from "./xmlrpc-decode.js";

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
