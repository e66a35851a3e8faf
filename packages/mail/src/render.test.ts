import { describe, expect, it } from "vitest";
import { addDecimals } from "./decimal.js";
import { DEFAULT_TEMPLATES } from "./defaults.js";
import { htmlToText } from "./html-text.js";
import { checkTemplate, renderTemplate, TemplateError } from "./render.js";

const context = {
  partner: { id: 7, name: 'Ácme <b>"Tools"</b> & Co', lang: "es_ES" },
  company: { id: 1, name: "Finanzas Demo S.L.", currency: "EUR" },
  as_of: "2024-03-05",
  items: [
    {
      document: "INV/2024/0001",
      reference: null,
      date: "2024-01-10",
      due_date: "2024-02-09",
      days_overdue: 25,
      open_amount: "1234.50",
      currency: "EUR",
    },
  ],
  overdue_items: [] as unknown[],
  totals: [{ company: "Finanzas Demo S.L.", currency: "EUR", open: "1234.50", overdue: "1234.50" }],
  level: { level: 2, days: 15 },
  unsubscribe_url: "https://api.example.com/api/v1/mail/unsubscribe?token=abc.def",
};
context.overdue_items = context.items;

describe("renderTemplate", () => {
  it("formats money and dates in the partner's language, exactly", async () => {
    const source = {
      subject: "{{ as_of | day: 'long' }}",
      html: "{{ '12345678901234567.10' | money: 'EUR' }}",
      text: null,
    };
    const es = await renderTemplate(source, context, "es_ES");
    expect(es.subject).toBe("5 de marzo de 2024");
    expect(es.html.replace(/\s/g, " ")).toBe("12.345.678.901.234.567,10 €");
    const en = await renderTemplate(source, context, "en_US");
    expect(en.subject).toBe("March 5, 2024");
    expect(en.html).toBe("€12,345,678,901,234,567.10");
    const short = { subject: "{{ as_of | day }}", html: "", text: null };
    expect((await renderTemplate(short, context, "es_ES")).subject).toBe("05/03/2024");
    expect((await renderTemplate(short, context, "en_US")).subject).toBe("03/05/2024");
  });

  it("escapes values in the HTML part, not in the subject or text", async () => {
    const out = await renderTemplate(
      { subject: "Hola {{ partner.name }}", html: "<p>{{ partner.name }}</p>", text: "{{ partner.name }}" },
      context,
      "es_ES",
    );
    expect(out.html).toBe("<p>Ácme &lt;b&gt;&#34;Tools&#34;&lt;/b&gt; &amp; Co</p>");
    expect(out.subject).toBe('Hola Ácme <b>"Tools"</b> & Co');
    expect(out.text).toBe('Ácme <b>"Tools"</b> & Co');
  });

  it("derives the text part from the HTML when the template has none", async () => {
    const out = await renderTemplate(
      {
        subject: "s",
        html: '<p>Hola&nbsp;{{ partner.id }}</p><table><tr><td>A</td><td>B</td></tr></table><ul><li>uno</li></ul><a href="{{ unsubscribe_url }}">baja</a>',
        text: null,
      },
      context,
      "es_ES",
    );
    expect(out.text).toBe(
      "Hola 7\n\nA\tB\n\n- uno\nbaja <https://api.example.com/api/v1/mail/unsubscribe?token=abc.def>\n",
    );
  });

  it("cannot run code, read files or reach prototypes", async () => {
    const hostile = [
      "{{ partner.constructor.constructor('return process')().exit }}",
      "{{ partner.__proto__ }}{{ items.constructor }}",
    ];
    for (const html of hostile) {
      const out = await renderTemplate({ subject: "x", html, text: null }, context, "en_US").then(
        (r) => r.html,
        (error: unknown) => (error instanceof TemplateError ? "" : "unexpected error"),
      );
      expect(out).toBe("");
    }
    await expect(
      renderTemplate({ subject: "x", html: "{% include '/etc/passwd' %}", text: null }, context, "en_US"),
    ).rejects.toThrow(TemplateError);
    await expect(
      renderTemplate({ subject: "x", html: "{% render 'package.json' %}", text: null }, context, "en_US"),
    ).rejects.toThrow(TemplateError);
    // an unknown filter is an error, not silently nothing
    expect(() => checkTemplate({ subject: "{{ 1 | exec }}", html: "", text: null })).toThrow(/exec/);
  });

  it("stops a render that runs away in time or size", async () => {
    const loop = "{% for a in (1..100000) %}{% for b in (1..100000) %}x{% endfor %}{% endfor %}";
    const started = Date.now();
    await expect(renderTemplate({ subject: "x", html: loop, text: null }, context, "en_US")).rejects.toThrow(
      TemplateError,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect(
      renderTemplate({ subject: "x", html: "x".repeat(300_000), text: null }, context, "en_US"),
    ).rejects.toThrow(/longer than/);
  });

  it("ships a Spanish and an English variant of the statement and of every reminder level, all rendering", async () => {
    const keys = new Set(DEFAULT_TEMPLATES.map((t) => t.key));
    expect([...keys].sort()).toEqual(["reminder-1", "reminder-2", "reminder-3", "reminder-4", "statement"]);
    for (const key of keys) {
      expect(
        DEFAULT_TEMPLATES.filter((t) => t.key === key)
          .map((t) => t.lang)
          .sort(),
      ).toEqual(["en", "es"]);
    }
    for (const t of DEFAULT_TEMPLATES) {
      const out = await renderTemplate(t, context, t.lang === "es" ? "es_ES" : "en_US");
      expect(out.html).toContain("INV/2024/0001");
      expect(out.text.replace(/\s/g, " ")).toContain(t.lang === "es" ? "1234,50 €" : "€1,234.50");
      expect(out.html).toContain("Ácme &lt;b&gt;");
      if (t.kind === "reminder") expect(out.text).toContain(context.unsubscribe_url);
    }
  });
});

describe("exact sums", () => {
  it("adds decimal strings without a float", () => {
    expect(addDecimals(["0.1", "0.2"])).toBe("0.3");
    expect(addDecimals(["1234.50", "-1234.5", "0.005"])).toBe("0.005");
    expect(addDecimals(["-3", "1.25"])).toBe("-1.75");
    expect(addDecimals([])).toBe("0");
  });
});

describe("htmlToText", () => {
  it("keeps entities decoded and drops scripts", () => {
    expect(htmlToText("<script>x()</script><p>a &amp; b &#8364; &euro;</p>")).toBe("a & b € €\n");
  });
});
