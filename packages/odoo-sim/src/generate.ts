import type { OdooVersion } from "./models.js";
import { PyFloat, type PyValue } from "./py.js";
import { refreshFullReconciles } from "./reconcile.js";
import type { Store } from "./store.js";
import type { Table } from "./table.js";
import { NULL_DATE } from "./table.js";
import { US_PER_DAY, US_PER_SEC } from "./time.js";
import { setValue } from "./values.js";

/** Deterministic PRNG (mulberry32): the only source of randomness. */
export function prng(seed: number): () => number {
  let a = (seed >>> 0) ^ 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GenerateOptions {
  seed: number;
  /** 1 ≈ 10 000 journal items; linear (100 ≈ 1 000 000). */
  scale: number;
}

export interface GenerationReport {
  ms: number;
  counts: Record<string, number>;
}

const FIRST_DAY = Date.UTC(2023, 0, 1) / 86_400_000;
const SPAN_DAYS = 731;
const ADMIN = 2;

interface CurrencySpec {
  name: string;
  full: string;
  symbol: string;
  rounding: number;
  position: "before" | "after";
  active: boolean;
  unit: string;
}

export const CURRENCIES: CurrencySpec[] = [
  { name: "EUR", full: "Euro", symbol: "€", rounding: 0.01, position: "after", active: true, unit: "Euros" },
  {
    name: "USD",
    full: "United States dollar",
    symbol: "$",
    rounding: 0.01,
    position: "before",
    active: true,
    unit: "Dollars",
  },
  {
    name: "GBP",
    full: "Pound sterling",
    symbol: "£",
    rounding: 0.01,
    position: "before",
    active: true,
    unit: "Pounds",
  },
  {
    name: "JPY",
    full: "Japanese yen",
    symbol: "¥",
    rounding: 1,
    position: "before",
    active: true,
    unit: "Yen",
  },
  {
    name: "PLN",
    full: "Polish złoty",
    symbol: "zł",
    rounding: 0.01,
    position: "after",
    active: true,
    unit: "Złotys",
  },
  {
    name: "CHF",
    full: "Swiss franc",
    symbol: "CHF",
    rounding: 0.01,
    position: "after",
    active: false,
    unit: "Francs",
  },
  {
    name: "MXN",
    full: "Mexican peso",
    symbol: "$",
    rounding: 0.01,
    position: "before",
    active: false,
    unit: "Pesos",
  },
  {
    name: "KWD",
    full: "Kuwaiti dinar",
    symbol: "د.ك",
    rounding: 0.001,
    position: "after",
    active: false,
    unit: "Dinars",
  },
];
/** Units of each currency (by id, 1-based) per EUR. */
const PER_EUR = [1, 1.0842, 0.8571, 161.37, 4.3215, 0.9412, 18.42, 0.3331];

/** res.country records (ids 1..n in this order): name, ISO code, currency (CURRENCIES name or none), calling code. */
export const COUNTRIES: [string, string, string | false, number][] = [
  ["Spain", "ES", "EUR", 34],
  ["Germany", "DE", "EUR", 49],
  ["France", "FR", "EUR", 33],
  ["Poland", "PL", "PLN", 48],
  ["United Kingdom", "GB", "GBP", 44],
  ["Switzerland", "CH", "CHF", 41],
  ["Japan", "JP", "JPY", 81],
  ["Denmark", "DK", false, 45],
  ["Türkiye", "TR", false, 90],
  ["United States", "US", "USD", 1],
  ["Mexico", "MX", "MXN", 52],
  ["Brazil", "BR", false, 55],
  ["Kuwait", "KW", "KWD", 965],
];

const SPECIAL_PARTNERS: [string, string | false, string][] = [
  ["Müller & Söhne GmbH", "DE811907980", "de_DE"],
  ["Café Niño S.L.", "ESB12345678", "es_ES"],
  ["Łódź Logistyka Sp. z o.o.", "PL5260250274", "pl_PL"],
  ["Société Générale d'Équipements", "FR40303265045", "fr_FR"],
  ["Zürich Präzision AG", false, "de_DE"],
  ["東京トレーディング株式会社", false, "en_US"],
  ["O'Brien <Partners> & Co", "GB123456789", "en_US"],
  ["Ærø Design ApS", false, "en_US"],
  ["Ünal Tekstil A.Ş.", false, "en_US"],
  ["Bell\u0007Tone\u001f Audio Ltd", false, "en_US"],
];
const PREFIX = [
  "Acme",
  "Globex",
  "Initech",
  "Umbrella",
  "Stark",
  "Wayne",
  "Wonka",
  "Tyrell",
  "Cyberdyne",
  "Hooli",
  "Vandelay",
  "Soylent",
  "Nakatomi",
  "Oscorp",
  "Aperture",
  "Monarch",
  "Duff",
  "Gringotts",
  "Sirius",
  "Virtucon",
];
const MIDDLE = [
  "Trading",
  "Logistics",
  "Consulting",
  "Foods",
  "Systems",
  "Industries",
  "Retail",
  "Partners",
  "Labs",
  "Media",
  "Energía",
  "Técnica",
];
const SUFFIX = ["S.L.", "GmbH", "LLC", "S.A.", "Ltd", "SARL", "B.V.", "Inc."];
const FIRST = [
  "José",
  "Zoë",
  "Søren",
  "Ngozi",
  "Ana",
  "Jürgen",
  "Chloé",
  "Wojciech",
  "Mei",
  "Oluwaseun",
  "Laura",
  "Iñaki",
];
const LAST = [
  "García",
  "Schäfer",
  "Kowalski",
  "Okafor",
  "Dubois",
  "Nakamura",
  "Smith",
  "Fernández",
  "Ødegaard",
  "Rossi",
];
const CITIES = [
  "Madrid",
  "Berlin",
  "Łódź",
  "Paris",
  "Zürich",
  "São Paulo",
  "New York",
  "Kraków",
  "Sevilla",
  "München",
];
const PRODUCTS = [
  "Consulting hours",
  "Licencia anual — Plan Pro",
  "Widget Ø 12 mm",
  "Support & maintenance",
  "Formación in situ",
  "Cloud hosting (monthly)",
  "Café para oficina",
  "Schulung Grundkurs",
  'Hardware: laptop 14"',
  "Transport Łódź → Madrid",
];
const ENTRY_LABELS = [
  "Accrual",
  "Depreciation",
  "Payroll",
  "Reclassification",
  "Bank fees",
  "Rent",
  "Opening balance",
];

/** Per company chart: code, name, type, reconcile. */
const CHART: [string, string, string, boolean][] = [
  ["101401", "Bank", "asset_cash", false],
  ["101501", "Cash", "asset_cash", false],
  ["101402", "Outstanding Receipts", "asset_current", true],
  ["101403", "Outstanding Payments", "asset_current", true],
  ["121000", "Account Receivable", "asset_receivable", true],
  ["131000", "Tax Paid", "asset_current", false],
  ["110100", "Stock Valuation", "asset_current", false],
  ["151000", "Fixed Asset", "asset_fixed", false],
  ["211000", "Account Payable", "liability_payable", true],
  ["251000", "Tax Received", "liability_current", false],
  ["252000", "Salaries Payable", "liability_current", false],
  ["301000", "Capital", "equity", false],
  ["999999", "Undistributed Profits/Losses", "equity_unaffected", false],
  ["400000", "Product Sales", "income", false],
  ["410000", "Service Revenue", "income", false],
  ["450000", "Other Income", "income_other", false],
  ["600000", "Expenses", "expense", false],
  ["610000", "Rent", "expense", false],
  ["620000", "Salaries", "expense", false],
  ["630000", "Depreciation", "expense_depreciation", false],
  ["640000", "Cost of Revenue", "expense_direct_cost", false],
  ["641000", "Bank Fees", "expense", false],
  ["619000", "Old Rent (do not use)", "expense", false],
];
const GROUP: Record<string, string> = {
  asset: "asset",
  liability: "liability",
  equity: "equity",
  income: "income",
  expense: "expense",
  off: "off_balance",
};

class Stamp {
  constructor(private readonly t: Table) {}
  set(row: number, create: number, write: number): void {
    this.t.i32("create_uid")[row] = ADMIN;
    this.t.i32("write_uid")[row] = ADMIN;
    this.t.f64("create_date")[row] = create;
    this.t.f64("write_date")[row] = write;
  }
}

function put(t: Table, values: Record<string, unknown>, create: number, write = create): number {
  const row = t.append();
  for (const [k, v] of Object.entries(values)) setValue(t, t.def.byName.get(k)!, row, v);
  new Stamp(t).set(row, create, write);
  return row;
}

const dayStart = (day: number) => day * US_PER_DAY;

/**
 * Fills the store. Everything derives from (seed, scale): same inputs, same records, ids and
 * timestamps. Scale 1 ≈ 10 000 journal items and grows linearly (partners and analytic accounts
 * grow too, more slowly).
 */
export function generate(store: Store, opts: GenerateOptions): GenerationReport {
  const t0 = performance.now();
  const rnd = prng(opts.seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const version: OdooVersion = store.version;
  const installUs = dayStart(FIRST_DAY - 30) + 9 * 3600 * US_PER_SEC + 123_456;

  // --- currencies ------------------------------------------------------------------------
  const cur = store.table("res.currency");
  for (const c of CURRENCIES) {
    put(
      cur,
      {
        name: c.name,
        full_name: c.full,
        symbol: c.symbol,
        rounding: c.rounding,
        position: c.position,
        currency_unit_label: c.unit,
        active: c.active,
      },
      installUs,
    );
  }
  const decimals = (currencyId: number) => {
    const r = CURRENCIES[currencyId - 1]!.rounding;
    return r >= 1 ? 0 : Math.round(Math.log10(1 / r));
  };

  // --- countries (fixed, no randomness) --------------------------------------------------------
  const countries = store.table("res.country");
  const countryByCode = new Map<string, number>();
  for (const [name, code, currency, phone] of COUNTRIES) {
    const row = put(
      countries,
      {
        name,
        code,
        currency_id: currency ? CURRENCIES.findIndex((c) => c.name === currency) + 1 : false,
        phone_code: phone,
      },
      installUs,
    );
    countryByCode.set(code, countries.ids[row]!);
  }

  // --- companies, users ------------------------------------------------------------------
  const companies = [
    { name: "Finanzas Demo S.L.", currency: 1, vat: "ESB87654321", email: "info@finanzas-demo.es" },
    { name: "Finanzas Américas LLC", currency: 2, vat: "US12-3456789", email: "ap@finanzas-americas.com" },
  ];
  const partners = store.table("res.partner");
  companies.forEach((c, i) => {
    put(
      partners,
      {
        name: c.name,
        complete_name: c.name,
        is_company: true,
        company_type: "company",
        vat: c.vat,
        email: c.email,
        active: true,
        lang: i === 0 ? "es_ES" : "en_US",
        company_id: false,
      },
      installUs,
    );
  });
  put(
    partners,
    {
      name: "Administrator",
      complete_name: "Administrator",
      company_type: "person",
      email: "admin@example.com",
      active: true,
      lang: "en_US",
    },
    installUs,
  );
  const companyTable = store.table("res.company");
  companies.forEach((c, i) => {
    put(
      companyTable,
      {
        name: c.name,
        sequence: i + 1,
        partner_id: i + 1,
        currency_id: c.currency,
        vat: c.vat,
        email: c.email,
        active: true,
      },
      installUs,
    );
  });
  const users = store.table("res.users");
  put(
    users,
    {
      name: "OdooBot",
      login: "__system__",
      partner_id: 3,
      company_id: 1,
      company_ids: [1, 2],
      active: false,
    },
    installUs,
  );
  put(
    users,
    {
      name: "Administrator",
      login: "admin",
      partner_id: 3,
      company_id: 1,
      company_ids: [1, 2],
      active: true,
    },
    installUs,
  );
  for (const [ci, c] of companies.entries()) {
    const rates = new Map<number, number>();
    const base = PER_EUR[c.currency - 1]!;
    PER_EUR.forEach((r, idx) => {
      rates.set(idx + 1, r / base);
    });
    store.rates.set(ci + 1, rates);
  }

  // --- partners --------------------------------------------------------------------------
  const nPartners = Math.max(30, Math.round(30 + 300 * opts.scale));
  const customers: number[] = [];
  const suppliers: number[] = [];
  const companyPartners: number[] = [];
  const partnerCompany: number[] = [];
  for (let i = 0; i < nPartners; i++) {
    const created = installUs + (i + 1) * 3_600 * US_PER_SEC + int(0, 999_999);
    const special = SPECIAL_PARTNERS[i];
    const asPerson = !special && companyPartners.length > 5 && rnd() < 0.2;
    let name: string;
    let parent: number | false = false;
    if (special) name = special[0];
    else if (asPerson) name = `${pick(FIRST)} ${pick(LAST)}`;
    else name = `${pick(PREFIX)} ${pick(MIDDLE)} ${pick(SUFFIX)}`;
    if (asPerson && rnd() < 0.7) parent = pick(companyPartners);
    const parentName = parent ? (partners.ref("complete_name")[partners.rowOf(parent)] as string) : "";
    const archived = i === SPECIAL_PARTNERS.length || (!special && rnd() < 0.07);
    if (i === SPECIAL_PARTNERS.length) name = "Archivado Antiguo S.A.";
    const roll = rnd();
    const isCustomer = roll < 0.65 || i < 4;
    const isSupplier = roll > 0.5 || (i >= 2 && i < 6);
    const company = rnd() < 0.85 ? 0 : rnd() < 0.4 ? 1 : 2;
    const row = put(
      partners,
      {
        name,
        complete_name: parent ? `${parentName}, ${name}` : name,
        parent_id: parent,
        ref:
          isSupplier && !isCustomer
            ? `S${String(i + 1).padStart(5, "0")}`
            : `C${String(i + 1).padStart(5, "0")}`,
        vat: special
          ? special[1]
          : !asPerson && rnd() < 0.6
            ? `ES${String(int(10_000_000, 99_999_999))}${"ABCDEFGHJ"[int(0, 8)]}`
            : false,
        email: rnd() < 0.8 ? `contact${i + 1}@example.com` : false,
        phone: rnd() < 0.5 ? `+34 6${String(int(10_000_000, 99_999_999))}` : false,
        street: rnd() < 0.7 ? `Calle Mayor ${int(1, 200)}` : false,
        city: pick(CITIES),
        zip: String(int(10000, 99999)),
        country_code: special ? (special[1] || "").slice(0, 2) || false : "ES",
        lang: special ? special[2] : pick(["en_US", "es_ES", "de_DE", "fr_FR"]),
        is_company: !asPerson,
        company_type: asPerson ? "person" : "company",
        company_id: company || false,
        customer_rank: isCustomer ? int(1, 40) : 0,
        supplier_rank: isSupplier ? int(1, 25) : 0,
        comment: i === 1 ? "<p>Cliente preferente: factura electrónica</p>" : false,
        active: !archived,
      },
      created,
      created + (rnd() < 0.3 ? int(1, 200) * US_PER_DAY : 0),
    );
    const id = partners.ids[row]!;
    partners.i32("commercial_partner_id")[row] = parent || id;
    if (!asPerson) companyPartners.push(id);
    if (isCustomer) customers.push(id);
    if (isSupplier) suppliers.push(id);
    partnerCompany[id] = company;
  }
  // fix commercial partner of the first three (company partners, admin)
  for (let r = 0; r < 3; r++) partners.i32("commercial_partner_id")[r] = partners.ids[r]!;
  // country_id: the country of the (already generated) country_code, whose value Odoo takes from
  // country_id.code; partners without a country code have no country. Derived, never drawn, so
  // the random sequence (and every later value) is untouched.
  const partnerCountry = partners.i32("country_id");
  const partnerCode = partners.ref("country_code");
  for (let r = 0; r < partners.size; r++) {
    const code = partnerCode[r];
    partnerCountry[r] = typeof code === "string" ? (countryByCode.get(code) ?? 0) : 0;
  }

  // --- chart of accounts, journals, analytic accounts --------------------------------------
  const accounts = store.table("account.account");
  const accountIds: Record<number, Record<string, number>> = { 1: {}, 2: {} };
  for (const company of [1, 2]) {
    for (const [code, name, type, reconcile] of CHART) {
      const old = code === "619000";
      const values: Record<string, unknown> = {
        name: company === 2 && code === "400000" ? "Product Sales (US)" : name,
        account_type: type,
        internal_group: GROUP[type.split("_")[0]!] ?? "asset",
        reconcile,
        currency_id: false,
        note: false,
      };
      if (version >= 18) {
        values.company_ids = [company];
        values.code_store = { [company]: code };
      } else {
        values.code = code;
        values.company_id = company;
      }
      if (version >= 19) values.active = !old;
      else values.deprecated = old;
      const row = put(accounts, values, installUs + company * US_PER_SEC);
      accountIds[company]![code] = accounts.ids[row]!;
    }
  }
  const acc = (company: number, code: string) => accountIds[company]![code]!;

  const journals = store.table("account.journal");
  const journalIds: Record<number, Record<string, number>> = { 1: {}, 2: {} };
  const JOURNALS: [string, string, string, string][] = [
    ["INV", "Customer Invoices", "sale", "400000"],
    ["BILL", "Vendor Bills", "purchase", "600000"],
    ["BNK1", "Bank", "bank", "101401"],
    ["CSH1", "Cash", "cash", "101501"],
    ["MISC", "Miscellaneous Operations", "general", "999999"],
    ["EXCH", "Exchange Difference", "general", "641000"],
  ];
  for (const company of [1, 2]) {
    JOURNALS.forEach(([code, name, type, account], i) => {
      const row = put(
        journals,
        {
          name: company === 2 ? `${name} (US)` : name,
          code,
          type,
          sequence: (i + 1) * 5,
          default_account_id: acc(company, account),
          currency_id: false,
          company_id: company,
          active: code !== "EXCH" || company === 1,
        },
        installUs + 10 * US_PER_SEC,
      );
      journalIds[company]![code] = journals.ids[row]!;
    });
  }

  const analytic = store.table("account.analytic.account");
  const analyticByCompany: Record<number, number[]> = { 1: [], 2: [] };
  const ANALYTIC = [
    "Proyecto Alfa",
    "Marketing",
    "I+D — Laboratorio",
    "Oficina Zürich",
    "Ventas Online",
    "Logística Łódź",
  ];
  const nAnalytic = ANALYTIC.length + Math.round(2 * Math.sqrt(opts.scale));
  for (let i = 0; i < nAnalytic; i++) {
    const company = i < 2 ? 0 : (i % 2) + 1;
    const row = put(
      analytic,
      {
        name: ANALYTIC[i] ?? `Project ${i + 1}`,
        code: `AA${String(i + 1).padStart(3, "0")}`,
        partner_id: i === 0 ? 4 : false,
        company_id: company || false,
        currency_id: company === 2 ? 2 : 1,
        active: i !== 5,
      },
      installUs + 20 * US_PER_SEC,
    );
    const id = analytic.ids[row]!;
    if (company === 0) {
      analyticByCompany[1]!.push(id);
      analyticByCompany[2]!.push(id);
    } else analyticByCompany[company]!.push(id);
  }
  const distributions: Record<number, PyValue[]> = { 1: [], 2: [] };
  for (const company of [1, 2]) {
    const ids = analyticByCompany[company]!;
    const pool = distributions[company]!;
    for (let i = 0; i < 12; i++) {
      const a = ids[i % ids.length]!;
      const b = ids[(i * 7 + 3) % ids.length]!;
      if (i % 3 === 0 || a === b) pool.push({ [String(a)]: new PyFloat(100) });
      else if (i % 3 === 1) pool.push({ [String(a)]: new PyFloat(60), [String(b)]: new PyFloat(40) });
      else if (version >= 17) pool.push({ [`${a},${b}`]: new PyFloat(100) });
      else pool.push({ [String(a)]: new PyFloat(33.33), [String(b)]: new PyFloat(66.67) });
    }
  }

  // --- moves, lines, payments ---------------------------------------------------------------
  const targetLines = Math.max(50, Math.round(10_000 * opts.scale));
  const moves = store.presize("account.move", Math.ceil(targetLines / 3.5) + 64);
  const lines = store.presize("account.move.line", targetLines + 64);
  const payments = store.presize("account.payment", Math.ceil(targetLines / 12) + 64);
  const partials = store.presize("account.partial.reconcile", Math.ceil(targetLines / 9) + 64);
  const seq = new Map<string, number>();
  const nextName = (code: string, day: number) => {
    const year = new Date(day * 86_400_000).getUTCFullYear();
    const key = `${code}/${year}`;
    const n = (seq.get(key) ?? 0) + 1;
    seq.set(key, n);
    return `${key}/${String(n).padStart(5, "0")}`;
  };
  const EMPTY: number[] = [];
  const taxIdsByRate = new Map<number, number[]>([
    [0.21, [1]],
    [0.1, [2]],
    [0, EMPTY],
    [0.08, [3]],
  ]);
  let prevWrite = 0;
  let matching = 0;

  interface LineSpec {
    account: number;
    name: string | undefined;
    displayType: string;
    /** minor units of the document currency (signed: + debit) */
    amountMinor: number;
    /** company currency cents (signed) */
    balanceCents: number;
    qty: number;
    priceUnit: number;
    subtotal: number;
    total: number;
    taxIds: number[];
    analytic: PyValue | undefined;
    maturity: number;
    residualShare: number;
    reconciled: boolean;
    matching: string | undefined;
    partner: number;
  }

  const writeMove = (m: {
    company: number;
    journal: number;
    type: string;
    state: string;
    partner: number;
    currency: number;
    day: number;
    dueDay: number;
    name: string;
    ref: string | undefined;
    paymentState: string;
    untaxed: number;
    tax: number;
    total: number;
    residual: number;
    sign: number;
    createUs: number;
    writeUs: number;
    payment: number;
    lines: LineSpec[];
    isInvoice: boolean;
  }) => {
    const row = moves.append();
    const id = moves.ids[row]!;
    const dp = decimals(m.currency);
    const companyCurrency = companies[m.company - 1]!.currency;
    const rate = store.rates.get(m.company)!.get(m.currency)!;
    const toCompany = (docAmount: number) => Math.round((docAmount / rate) * 100) / 100;
    moves.ref("name")[row] = m.name;
    moves.ref("ref")[row] = m.ref;
    moves.i32("date")[row] = m.day;
    moves.ref("state")[row] = m.state;
    moves.ref("move_type")[row] = m.type;
    moves.i32("journal_id")[row] = m.journal;
    moves.i32("company_id")[row] = m.company;
    moves.i32("currency_id")[row] = m.currency;
    moves.i32("company_currency_id")[row] = companyCurrency;
    moves.i32("partner_id")[row] = m.partner;
    moves.i32("commercial_partner_id")[row] = m.partner
      ? partners.i32("commercial_partner_id")[partners.rowOf(m.partner)]!
      : 0;
    moves.i32("invoice_date")[row] = m.isInvoice ? m.day : NULL_DATE;
    moves.i32("invoice_date_due")[row] = m.isInvoice ? m.dueDay : NULL_DATE;
    moves.ref("payment_reference")[row] = m.isInvoice && m.name !== "/" ? m.name : undefined;
    moves.ref("payment_state")[row] = m.paymentState;
    const scale = 10 ** dp;
    const f = moves.f64.bind(moves);
    f("amount_untaxed")[row] = m.untaxed / scale;
    f("amount_tax")[row] = m.tax / scale;
    f("amount_total")[row] = m.total / scale;
    f("amount_residual")[row] = m.residual / scale;
    f("amount_untaxed_signed")[row] = m.sign * toCompany(m.untaxed / scale);
    f("amount_tax_signed")[row] = m.sign * toCompany(m.tax / scale);
    f("amount_total_signed")[row] = m.sign * toCompany(m.total / scale);
    f("amount_residual_signed")[row] = m.sign * toCompany(m.residual / scale);
    moves.i32(version >= 18 ? "origin_payment_id" : "payment_id")[row] = m.payment;
    moves.u8(version >= 18 ? "checked" : "to_check")[row] =
      version >= 18 ? (m.state === "posted" ? 1 : 0) : 0;
    moves.i32("create_uid")[row] = ADMIN;
    moves.i32("write_uid")[row] = ADMIN;
    moves.f64("create_date")[row] = m.createUs;
    moves.f64("write_date")[row] = m.writeUs;

    lines.reserve(m.lines.length);
    const lm = lines.i32("move_id");
    const lmn = lines.ref("move_name");
    const ldate = lines.i32("date");
    const lref = lines.ref("ref");
    const lstate = lines.ref("parent_state");
    const ljournal = lines.i32("journal_id");
    const lcompany = lines.i32("company_id");
    const lccur = lines.i32("company_currency_id");
    const lacc = lines.i32("account_id");
    const lpartner = lines.i32("partner_id");
    const lname = lines.ref("name");
    const ldt = lines.ref("display_type");
    const ldebit = lines.f64("debit");
    const lcredit = lines.f64("credit");
    const lbal = lines.f64("balance");
    const lamc = lines.f64("amount_currency");
    const lcur = lines.i32("currency_id");
    const lqty = lines.f64("quantity");
    const lpu = lines.f64("price_unit");
    const lsub = lines.f64("price_subtotal");
    const ltot = lines.f64("price_total");
    const ltax = lines.ref("tax_ids");
    const lana = lines.ref("analytic_distribution");
    const lmat = lines.i32("date_maturity");
    const lres = lines.f64("amount_residual");
    const lresc = lines.f64("amount_residual_currency");
    const lrec = lines.u8("reconciled");
    const lmatch = version >= 17 ? lines.ref("matching_number") : null;
    const lpay = version <= 17 ? lines.i32("payment_id") : null;
    const lcu = lines.i32("create_uid");
    const lwu = lines.i32("write_uid");
    const lcd = lines.f64("create_date");
    const lwd = lines.f64("write_date");
    for (const s of m.lines) {
      const r = lines.append();
      lm[r] = id;
      lmn[r] = m.name;
      ldate[r] = m.day;
      lref[r] = m.ref;
      lstate[r] = m.state;
      ljournal[r] = m.journal;
      lcompany[r] = m.company;
      lccur[r] = companyCurrency;
      lacc[r] = s.account;
      lpartner[r] = s.partner;
      lname[r] = s.name;
      ldt[r] = s.displayType;
      const bal = s.balanceCents / 100;
      lbal[r] = bal;
      ldebit[r] = Math.max(bal, 0);
      lcredit[r] = bal < 0 ? -bal : 0;
      lamc[r] = s.amountMinor / scale;
      lcur[r] = m.currency;
      lqty[r] = s.qty;
      lpu[r] = s.priceUnit;
      lsub[r] = s.subtotal;
      lsub[r] = s.subtotal;
      ltot[r] = s.total;
      ltax[r] = s.taxIds;
      lana[r] = s.analytic;
      lmat[r] = s.maturity;
      lres[r] = Math.round(s.balanceCents * s.residualShare) / 100;
      lresc[r] = Math.round(s.amountMinor * s.residualShare) / scale;
      lrec[r] = s.reconciled ? 1 : 0;
      if (lmatch) lmatch[r] = s.matching;
      if (lpay) lpay[r] = m.payment;
      lcu[r] = ADMIN;
      lwu[r] = ADMIN;
      lcd[r] = m.createUs;
      lwd[r] = m.writeUs;
    }
    return id;
  };

  /** Splits company-currency cents so that every line converts and the move sums to zero. */
  const balanceLines = (specs: LineSpec[], company: number, currency: number) => {
    const rate = store.rates.get(company)!.get(currency)!;
    const scale = 10 ** decimals(currency);
    let sumMinor = 0;
    let sumCents = 0;
    for (let i = 0; i < specs.length - 1; i++) {
      const s = specs[i]!;
      s.balanceCents = Math.round((s.amountMinor / scale / rate) * 100);
      sumMinor += s.amountMinor;
      sumCents += s.balanceCents;
    }
    const last = specs[specs.length - 1]!;
    last.amountMinor = -sumMinor;
    last.balanceCents = -sumCents;
  };

  /** The partial table's column arrays, fetched once (again only when the table grows). */
  let pcols = partialColumns();
  function partialColumns() {
    const i = (n: string) => partials.i32(n);
    const f = (n: string) => partials.f64(n);
    return {
      ids: partials.ids,
      debit: i("debit_move_id"),
      credit: i("credit_move_id"),
      debitCur: i("debit_currency_id"),
      creditCur: i("credit_currency_id"),
      amount: f("amount"),
      debitAmc: f("debit_amount_currency"),
      creditAmc: f("credit_amount_currency"),
      company: i("company_id"),
      maxDate: i("max_date"),
      cu: i("create_uid"),
      wu: i("write_uid"),
      cd: f("create_date"),
      wd: f("write_date"),
    };
  }
  /**
   * One account.partial.reconcile: `cents` (company currency) and `minor` (document currency, both
   * lines share it here) matched between a debit line and a credit line, counting from `maxDay`
   * (the later of the two lines' dates), written by the transaction at `us`.
   */
  const reconcile = (
    debitLine: number,
    creditLine: number,
    cents: number,
    minor: number,
    currency: number,
    company: number,
    maxDay: number,
    us: number,
  ) => {
    const r = partials.append();
    if (partials.ids !== pcols.ids) pcols = partialColumns(); // the table grew: new arrays
    const c = pcols;
    c.debit[r] = debitLine;
    c.credit[r] = creditLine;
    c.debitCur[r] = currency;
    c.creditCur[r] = currency;
    c.amount[r] = cents / 100;
    const amountCurrency = minor / 10 ** decimals(currency);
    c.debitAmc[r] = amountCurrency;
    c.creditAmc[r] = amountCurrency;
    c.company[r] = company;
    c.maxDate[r] = maxDay;
    c.cu[r] = ADMIN;
    c.wu[r] = ADMIN;
    c.cd[r] = us;
    c.wd[r] = us;
  };

  /** Invoice payment-term lines: their ids and what is matched on each (company cents, document minor units). */
  const matched = (firstRow: number, specs: LineSpec[]) => {
    const out: { id: number; cents: number; minor: number }[] = [];
    for (let i = 0; i < specs.length; i++) {
      const s = specs[i]!;
      if (s.displayType !== "payment_term") continue;
      out.push({
        id: lines.ids[firstRow + i]!,
        // what is left is exactly the line's amount_residual(_currency) written by writeMove
        cents: s.balanceCents - Math.round(s.balanceCents * s.residualShare),
        minor: s.amountMinor - Math.round(s.amountMinor * s.residualShare),
      });
    }
    return out;
  };

  /** A later transaction (payment, reversal) touching an invoice bumps it and its lines (stored computed fields). */
  const bump = (moveId: number, firstRow: number, nLines: number, us: number) => {
    const row = moves.rowOf(moveId);
    if (us <= moves.f64("write_date")[row]!) return;
    moves.f64("write_date")[row] = us;
    const lwd = lines.f64("write_date");
    for (let r = firstRow; r < firstRow + nLines; r++) lwd[r] = us;
  };

  const spec = (partial: Partial<LineSpec> & { account: number; amountMinor: number }): LineSpec => ({
    name: undefined,
    displayType: "product",
    balanceCents: 0,
    qty: 1,
    priceUnit: 0,
    subtotal: 0,
    total: 0,
    taxIds: EMPTY,
    analytic: undefined,
    maturity: NULL_DATE,
    residualShare: 0,
    reconciled: false,
    matching: undefined,
    partner: 0,
    ...partial,
  });

  interface Reversal {
    invoice: number;
    name: string;
    type: string;
    specs: LineSpec[];
    terms: { id: number; cents: number; minor: number }[];
    company: number;
    journal: number;
    prefix: string;
    partner: number;
    currency: number;
    untaxed: number;
    tax: number;
    total: number;
    day: number;
    us: number;
  }

  /** The reversal of a posted invoice (credit note; an entry for a refund), matched with it term line by term line. */
  const writeReversal = (r: Reversal) => {
    const rspecs = r.specs.map((s) => ({
      ...s,
      amountMinor: -s.amountMinor,
      balanceCents: -s.balanceCents,
      residualShare: 0,
      maturity: s.displayType === "payment_term" ? r.day : s.maturity,
    }));
    const isInvoice = r.type !== "entry";
    const id = writeMove({
      company: r.company,
      journal: r.journal,
      type: r.type,
      state: "posted",
      partner: r.partner,
      currency: r.currency,
      day: r.day,
      dueDay: r.day,
      name: nextName(r.prefix, r.day),
      ref: `Reversal of: ${r.name}`,
      paymentState: isInvoice ? "paid" : "not_paid",
      untaxed: isInvoice ? r.untaxed : r.total,
      tax: isInvoice ? r.tax : 0,
      total: r.total,
      residual: 0,
      sign: isInvoice ? (r.type === "in_refund" ? 1 : -1) : 1,
      createUs: r.us,
      writeUs: r.us,
      payment: 0,
      lines: rspecs,
      isInvoice,
    });
    moves.i32("reversed_entry_id")[moves.rowOf(id)] = r.invoice;
    const first = lines.size - rspecs.length;
    let k = 0;
    for (let i = 0; i < rspecs.length; i++) {
      if (rspecs[i]!.displayType !== "payment_term") continue;
      const t = r.terms[k++]!;
      const line = lines.ids[first + i]!;
      // t.cents > 0: the invoice line is the debit side
      if (t.cents > 0) reconcile(t.id, line, t.cents, t.minor, r.currency, r.company, r.day, r.us);
      else reconcile(line, t.id, -t.cents, -t.minor, r.currency, r.company, r.day, r.us);
    }
  };

  let lineCount = 0;
  const pendingPayments: (() => void)[] = [];
  while (lineCount < targetLines) {
    const progress = lineCount / targetLines;
    const day = FIRST_DAY + Math.min(SPAN_DAYS - 1, Math.floor(progress * SPAN_DAYS));
    const company = rnd() < 0.72 ? 1 : 2;
    const companyCurrency = companies[company - 1]!.currency;
    const roll = rnd();
    const type =
      roll < 0.45
        ? "out_invoice"
        : roll < 0.5
          ? "out_refund"
          : roll < 0.76
            ? "in_invoice"
            : roll < 0.79
              ? "in_refund"
              : "entry";
    const isInvoice = type !== "entry";
    const sr = rnd();
    const state = sr < 0.8 ? "posted" : sr < 0.92 ? "draft" : "cancel";
    const sale = type.startsWith("out");
    const partnerPool = sale ? customers : suppliers;
    let partner = isInvoice || rnd() < 0.5 ? pick(partnerPool) : 0;
    if (partner && partnerCompany[partner] && partnerCompany[partner] !== company)
      partner = pick(companyPartners.slice(0, 8));
    const currency =
      isInvoice && rnd() < 0.15
        ? pick([1, 2, 3, 4, 5].filter((c) => c !== companyCurrency))
        : companyCurrency;
    const dp = decimals(currency);
    const scale = 10 ** dp;
    const journalCode = type === "entry" ? "MISC" : sale ? "INV" : "BILL";
    const journal = journalIds[company]![journalCode]!;
    const namePrefix = type === "out_refund" ? "RINV" : type === "in_refund" ? "RBILL" : journalCode;
    const name = state === "draft" ? "/" : nextName(namePrefix, day);
    const createUs = dayStart(day) + int(7 * 3600, 19 * 3600) * US_PER_SEC + int(0, 999_999);
    let writeUs =
      state === "posted" && rnd() < 0.6
        ? createUs + int(60, 20 * 86_400) * US_PER_SEC + int(0, 999_999)
        : createUs;
    if (prevWrite > createUs && rnd() < 0.05) writeUs = prevWrite; // same transaction as the previous move
    const specs: LineSpec[] = [];
    let untaxed = 0;
    let taxTotal = 0;
    let paymentState = "not_paid";
    let residualShare = 1;
    let dueDay = day;
    const sign = type === "out_invoice" || type === "in_refund" ? -1 : 1;
    let ref: string | undefined;
    if (isInvoice) {
      const taxes = new Map<number, number>();
      if (rnd() < 0.03)
        specs.push(
          spec({
            account: 0,
            amountMinor: 0,
            name: "Servicios — Q1",
            displayType: "line_section",
            qty: 0,
            partner,
          }),
        );
      const nProducts = int(1, 4);
      for (let k = 0; k < nProducts; k++) {
        const qty = int(1, 10);
        const priceUnit = dp === 0 ? int(500, 200_000) : int(1_000, 200_000) / 100;
        const subtotal = Math.round(qty * priceUnit * scale);
        const rate = company === 1 ? pick([0.21, 0.21, 0.1, 0]) : pick([0.08, 0]);
        const tax = Math.round(subtotal * rate);
        taxes.set(rate, (taxes.get(rate) ?? 0) + tax);
        untaxed += subtotal;
        taxTotal += tax;
        const account = acc(
          company,
          sale ? pick(["400000", "410000"]) : pick(["600000", "610000", "640000"]),
        );
        specs.push(
          spec({
            account,
            amountMinor: sign * subtotal,
            name: pick(PRODUCTS),
            qty,
            priceUnit,
            subtotal: subtotal / scale,
            total: (subtotal + tax) / scale,
            taxIds: taxIdsByRate.get(rate) ?? EMPTY,
            analytic: rnd() < 0.4 ? pick(distributions[company]!) : undefined,
            partner,
          }),
        );
      }
      for (const [rate, tax] of taxes) {
        if (tax === 0) continue;
        specs.push(
          spec({
            account: acc(company, sale ? "251000" : "131000"),
            amountMinor: sign * tax,
            name: company === 1 ? `IVA ${Math.round(rate * 100)}%` : `Sales Tax ${Math.round(rate * 100)}%`,
            displayType: "tax",
            qty: 0,
            partner,
          }),
        );
      }
      const total = untaxed + taxTotal;
      if (state === "posted") {
        const p = rnd();
        paymentState =
          p < 0.35
            ? "not_paid"
            : p < 0.47
              ? "partial"
              : p < 0.85
                ? "paid"
                : p < 0.95
                  ? "in_payment"
                  : "reversed";
        if (version >= 18 && paymentState === "not_paid" && rnd() < 0.05) paymentState = "blocked";
      }
      residualShare =
        paymentState === "partial"
          ? int(20, 80) / 100
          : paymentState === "not_paid" || paymentState === "blocked"
            ? 1
            : 0;
      if (state !== "posted") residualShare = 1;
      dueDay = day + pick([0, 15, 30, 30, 45, 60]);
      const counterpart = acc(company, sale ? "121000" : "211000");
      const split = rnd() < 0.2 && total > 100 ? [0.3, 0.7] : [1];
      const matchingNumber =
        paymentState === "paid" || paymentState === "in_payment" || paymentState === "reversed"
          ? `A${++matching}`
          : paymentState === "partial"
            ? `P${++matching}`
            : undefined;
      split.forEach((share, idx) => {
        specs.push(
          spec({
            account: counterpart,
            amountMinor: -sign * Math.round(total * share),
            name: state === "draft" ? undefined : name,
            displayType: "payment_term",
            qty: 0,
            maturity: idx === split.length - 1 ? dueDay : day + 15,
            residualShare: state === "posted" || state === "draft" ? residualShare : 0,
            reconciled: state === "posted" && residualShare === 0,
            matching: matchingNumber,
            partner,
          }),
        );
      });
      ref = sale
        ? type === "out_refund"
          ? `Reversal of: INV/${new Date(day * 86_400_000).getUTCFullYear()}/${String(int(1, 999)).padStart(5, "0")}`
          : undefined
        : `F-${int(1000, 99999)}`;
    } else {
      const n = int(2, 4);
      const label = pick(ENTRY_LABELS);
      ref = `${label} ${new Date(day * 86_400_000).toISOString().slice(0, 7)}`;
      for (let k = 0; k < n; k++) {
        const code = pick([
          "600000",
          "610000",
          "620000",
          "630000",
          "252000",
          "101401",
          "301000",
          "450000",
          "110100",
        ]);
        specs.push(
          spec({
            account: acc(company, code),
            amountMinor: (rnd() < 0.5 ? 1 : -1) * int(1_000, 500_000),
            name: label,
            partner,
          }),
        );
      }
      untaxed = specs.slice(0, -1).reduce((s, l) => s + Math.abs(l.amountMinor), 0);
    }
    balanceLines(specs, company, currency);
    const total = untaxed + taxTotal;
    if (!isInvoice) {
      const debit = specs.reduce((s, l) => s + Math.max(l.amountMinor, 0), 0);
      untaxed = debit;
    }
    const residual = isInvoice ? Math.round(total * residualShare) : 0;
    const moveId = writeMove({
      company,
      journal,
      type,
      state,
      partner,
      currency,
      day,
      dueDay,
      name,
      ref,
      paymentState,
      untaxed,
      tax: taxTotal,
      total: isInvoice ? total : untaxed,
      residual,
      sign: isInvoice ? (type === "out_invoice" || type === "in_refund" ? 1 : -1) : 1,
      createUs,
      writeUs,
      payment: 0,
      lines: specs,
      isInvoice,
    });
    const firstRow = lines.size - specs.length;
    lineCount += specs.length;
    prevWrite = writeUs;

    // A payment for (part of) the invoice, booked a few days later.
    if (
      isInvoice &&
      state === "posted" &&
      (paymentState === "paid" || paymentState === "in_payment" || paymentState === "partial")
    ) {
      const terms = matched(firstRow, specs);
      // the payment matches exactly what the term lines no longer owe
      const paidCents = terms.reduce((a, t) => a + t.cents, 0);
      const paidMinor = terms.reduce((a, t) => a + t.minor, 0);
      const paid = Math.abs(paidMinor);
      const payDay = Math.min(FIRST_DAY + SPAN_DAYS - 1, day + int(0, 40));
      const matchingNumber = specs[specs.length - 1]!.matching;
      const inbound = type === "out_invoice" || type === "in_refund";
      const payCreate = dayStart(payDay) + int(7 * 3600, 19 * 3600) * US_PER_SEC + int(0, 999_999);
      // paying bumps the invoice (stored computed amount_residual / payment_state)
      bump(moveId, firstRow, specs.length, payCreate);
      pendingPayments.push(() => {
        const payRow = payments.append();
        const paymentId = payments.ids[payRow]!;
        const bank = journalIds[company]!.BNK1!;
        const pname = nextName(version >= 18 ? "PBNK1" : "BNK1", payDay);
        const outstanding = acc(company, inbound ? "101402" : "101403");
        const counterpart = acc(company, sale ? "121000" : "211000");
        const pspecs = [
          spec({
            account: outstanding,
            amountMinor: paidMinor,
            balanceCents: paidCents,
            name: `Payment ${name}`,
            partner,
          }),
          spec({
            account: counterpart,
            amountMinor: -paidMinor,
            balanceCents: -paidCents,
            name: `Payment ${name}`,
            displayType: "payment_term",
            reconciled: true,
            matching: matchingNumber,
            partner,
          }),
        ];
        const pmove = writeMove({
          company,
          journal: bank,
          type: "entry",
          state: "posted",
          partner,
          currency,
          day: payDay,
          dueDay: payDay,
          name: pname,
          ref: name,
          paymentState: "not_paid",
          untaxed: paid,
          tax: 0,
          total: paid,
          residual: 0,
          sign: 1,
          createUs: payCreate,
          writeUs: payCreate,
          payment: paymentId,
          lines: pspecs,
          isInvoice: false,
        });
        // the payment's receivable/payable line is matched with each term line of the invoice
        const payLine = lines.ids[lines.size - 1]!;
        for (const t of terms) {
          if (inbound) reconcile(t.id, payLine, t.cents, t.minor, currency, company, payDay, payCreate);
          else reconcile(payLine, t.id, -t.cents, -t.minor, currency, company, payDay, payCreate);
        }
        const pstate = version >= 18 ? (paymentState === "in_payment" ? "in_process" : "paid") : "posted";
        const values: Record<string, unknown> = {
          name: pname,
          date: payDay,
          amount: paid / scale,
          payment_type: inbound ? "inbound" : "outbound",
          partner_type: sale ? "customer" : "supplier",
          partner_id: partner,
          journal_id: bank,
          company_id: company,
          currency_id: currency,
          state: pstate,
          move_id: pmove,
          destination_account_id: counterpart,
          is_reconciled: paymentState !== "in_payment",
          is_matched: paymentState === "paid",
        };
        values[version >= 18 ? "memo" : "ref"] = name;
        for (const [k, v] of Object.entries(values)) {
          const fdef = payments.def.byName.get(k)!;
          if (fdef.type === "date") payments.i32(k)[payRow] = v as number;
          else setValue(payments, fdef, payRow, v);
        }
        new Stamp(payments).set(payRow, payCreate, payCreate);
      });
      lineCount += 2;
    }

    // A reversed invoice is matched with its reversal (credit note; a refund's reversal is an entry).
    if (isInvoice && state === "posted" && paymentState === "reversed") {
      const revDay = Math.min(FIRST_DAY + SPAN_DAYS - 1, day + int(0, 40));
      const revCreate = dayStart(revDay) + int(7 * 3600, 19 * 3600) * US_PER_SEC + int(0, 999_999);
      const revType = type === "out_invoice" ? "out_refund" : type === "in_invoice" ? "in_refund" : "entry";
      bump(moveId, firstRow, specs.length, revCreate);
      // values, not loop variables: a closure over the loop's variables would slow the whole loop
      const reversal: Reversal = {
        invoice: moveId,
        name,
        type: revType,
        specs,
        terms: matched(firstRow, specs),
        company,
        journal,
        prefix: revType === "out_refund" ? "RINV" : revType === "in_refund" ? "RBILL" : journalCode,
        partner,
        currency,
        untaxed,
        tax: taxTotal,
        total,
        day: revDay,
        us: revCreate,
      };
      pendingPayments.push(() => writeReversal(reversal));
      lineCount += specs.length;
    }
    // flush payments in small batches so their moves interleave with later moves
    if (pendingPayments.length >= 8 || lineCount >= targetLines) {
      for (const fn of pendingPayments.splice(0)) fn();
    }
  }
  for (const fn of pendingPayments.splice(0)) fn();

  // Odoo 18+: payments that never got a journal entry
  if (version >= 18) {
    const extra = Math.max(3, Math.round(20 * opts.scale));
    for (let i = 0; i < extra; i++) {
      const company = i % 2 === 0 ? 1 : 2;
      const day = FIRST_DAY + int(0, SPAN_DAYS - 1);
      const created = dayStart(day) + int(8 * 3600, 18 * 3600) * US_PER_SEC + int(0, 999_999);
      const state = pick(["draft", "draft", "canceled", "rejected"]);
      put(
        payments,
        {
          name: false,
          amount: int(1000, 90_000) / 100,
          payment_type: "inbound",
          partner_type: "customer",
          partner_id: pick(customers),
          journal_id: journalIds[company]!.BNK1!,
          company_id: company,
          currency_id: companies[company - 1]!.currency,
          state,
          move_id: false,
          memo: `Transfer ${i + 1}`,
          destination_account_id: acc(company, "121000"),
          is_reconciled: false,
          is_matched: false,
        },
        created,
      );
      payments.i32("date")[payments.size - 1] = day;
    }
  }

  // account.full.reconcile from the partials written above (derived: no randomness, no new write_date)
  refreshFullReconciles(store, null);

  const counts: Record<string, number> = {};
  for (const [name, t] of store.tables) {
    t.touch();
    counts[name] = t.live;
  }
  return { ms: performance.now() - t0, counts };
}
