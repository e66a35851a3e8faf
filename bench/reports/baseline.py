"""
The general ledger as the Python system builds reports: psycopg2 with a named (server-side)
cursor, itersize 2 000, feeding openpyxl's write-only workbook. Run by bench/reports/run.ts.

    python3 baseline.py ledger <dsn> <date_from> <date_to> <generated "YYYY-MM-DD HH:MM"> <out.xlsx>
    python3 baseline.py count <file.xlsx>

`ledger` writes, per company, one sheet with the report-worker's title rows, header and columns
(date, entry, journal, partner, label, reference, debit, credit, running balance, amount currency,
currency); per account (by code) an initial-balance row, its journal items in date order and an
ending row. The balances per account come from one grouped query (the same rules as
@finanzas/ledger's accountBalances: balance-sheet accounts from every earlier item, income and
expense accounts from the period's fiscal year); the items from one query over the period in
(company, account code, date, id) order through the named cursor, and the running balance is added
up in Python with Decimal as the rows go by. Dates get the format yyyy-mm-dd and amounts #,##0.00
(WriteOnlyCell with number_format), the header row is frozen and has an autofilter. Prints one
JSON line: items, rows, seconds (connect to file closed), VmRSS at 250 000 items and at the end.

`count` streams each worksheet of a finished .xlsx and counts the rows whose column A holds a
number (a date): the journal items, whichever program wrote the file.
"""

import json
import re
import sys
import time
import zipfile
from decimal import Decimal

DATE_FORMAT = "yyyy-mm-dd"
MONEY_FORMAT = "#,##0.00"
QUARTER = 250_000

BALANCES = """
with per_account as (
  select l.company_id, l.account_id,
    coalesce(sum(l.balance) filter (where l.date < %(date_from)s and (not pl or l.date >= %(fy_start)s)), 0) as initial,
    coalesce(sum(l.debit) filter (where l.date >= %(date_from)s), 0) as debit,
    coalesce(sum(l.credit) filter (where l.date >= %(date_from)s), 0) as credit,
    count(*) filter (where l.date >= %(date_from)s) as items
  from odoo.account_move_line l
  join (select a.id, (coalesce(a.internal_group, '') in ('income', 'expense')
                      or coalesce(a.account_type, '') like 'income%%'
                      or coalesce(a.account_type, '') like 'expense%%') as pl
        from odoo.account_account a where a._deleted_at is null) a on a.id = l.account_id
  where l._deleted_at is null and l.parent_state = 'posted' and l.date <= %(date_to)s
  group by l.company_id, l.account_id
)
select p.company_id, co.name, cur.name, p.account_id, a.code, a.name, p.initial, p.debit, p.credit, p.items
from per_account p
join odoo.res_company co on co.id = p.company_id and co._deleted_at is null
left join odoo.res_currency cur on cur.id = co.currency_id and cur._deleted_at is null
join odoo.account_account a on a.id = p.account_id
where p.initial <> 0 or p.items > 0
order by p.company_id, a.code, p.account_id
"""

ITEMS = """
select l.company_id, l.account_id, l.date, l.move_name, j.code, pa.name, l.name, l.ref,
  coalesce(l.debit, 0), coalesce(l.credit, 0), coalesce(l.balance, 0),
  case when l.currency_id is distinct from l.company_currency_id then l.amount_currency end,
  case when l.currency_id is distinct from l.company_currency_id then cur.name end
from odoo.account_move_line l
join odoo.account_account a on a.id = l.account_id and a._deleted_at is null
left join odoo.account_journal j on j.id = l.journal_id and j._deleted_at is null
left join odoo.res_partner pa on pa.id = l.partner_id and pa._deleted_at is null
left join odoo.res_currency cur on cur.id = l.currency_id and cur._deleted_at is null
where l._deleted_at is null and l.parent_state = 'posted'
  and l.date >= %(date_from)s and l.date <= %(date_to)s
order by l.company_id, a.code, l.account_id, l.date, l.id
"""

COLUMNS = [
    ("Date", 11),
    ("Entry", 20),
    ("Journal", 9),
    ("Partner", 28),
    ("Label", 34),
    ("Reference", 16),
    ("Debit", 15),
    ("Credit", 15),
    ("Balance", 16),
    ("Amount currency", 15),
    ("Currency", 9),
]


def rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024)
    return 0


def ledger(dsn, date_from, date_to, generated, out):
    import psycopg2
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    started = time.perf_counter()
    conn = psycopg2.connect(dsn)
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    params = {"date_from": date_from, "date_to": date_to, "fy_start": date_from[:4] + "-01-01"}
    with conn.cursor() as c:
        c.execute(BALANCES, params)
        accounts = c.fetchall()

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    title_font = Font(bold=True, size=14)
    state = {"ws": None, "company": None, "row": 0, "ws_rows": 0}
    title_rows = []

    def cell(ws, value, number_format=None, font=None):
        c = WriteOnlyCell(ws, value=value)
        if number_format is not None:
            c.number_format = number_format
        if font is not None:
            c.font = font
        return c

    def close_sheet():
        ws = state["ws"]
        if ws is not None:
            header = len(title_rows) + 1
            ws.auto_filter.ref = "A%d:K%d" % (header, state["ws_rows"])

    def open_sheet(company_id, company_name, currency):
        # The autofilter and frozen pane belong to the sheet's XML head/tail: set before the rows,
        # with the range completed when the sheet ends (openpyxl writes it at save).
        close_sheet()
        ws = wb.create_sheet(("General ledger %s" % (company_name or company_id))[:31])
        title_rows[:] = [
            ["General ledger"],
            ["Company: %s%s" % (company_name or "(no name)", " — amounts in %s" % currency if currency else "")],
            ["From %s to %s" % (date_from, date_to)],
            ["Posted entries"],
            ["Generated %s UTC" % generated],
        ]
        header = len(title_rows) + 1
        for i, (_, width) in enumerate(COLUMNS):
            ws.column_dimensions[get_column_letter(i + 1)].width = width
        ws.freeze_panes = "A%d" % (header + 1)
        for i, texts in enumerate(title_rows):
            ws.append([cell(ws, t, font=title_font if i == 0 else None) for t in texts])
        ws.append([cell(ws, h, font=bold) for h, _ in COLUMNS])
        state.update(ws=ws, company=company_id, ws_rows=header)
        return ws

    def sheet_for(account):
        if state["ws"] is None or state["company"] != account[0]:
            return open_sheet(account[0], account[1], account[2])
        return state["ws"]

    def account_row(ws, account, label, values):
        code, name = account[4], account[5]
        text = ("%s %s" % (code or "", name or "")).strip()
        row = [None, text, None, None, label, None] + values
        ws.append([cell(ws, v, MONEY_FORMAT if i >= 6 else None, bold) for i, v in enumerate(row)])
        state["ws_rows"] += 1

    items = 0
    rss_quarter = None
    c = conn.cursor(name="general_ledger")
    c.itersize = 2000
    c.execute(ITEMS, params)
    rows = iter(c)
    pending = next(rows, None)
    for account in accounts:
        company_id, account_id, initial = account[0], account[3], account[6]
        ws = sheet_for(account)
        account_row(ws, account, "Initial balance", [None, None, initial])
        running = initial
        while pending is not None and pending[0] == company_id and pending[1] == account_id:
            (_, _, day, entry, journal, partner, label, ref, debit, credit, balance, amount_currency, currency) = pending
            running += balance
            ws.append([
                cell(ws, day, DATE_FORMAT),
                entry,
                journal,
                partner,
                label,
                ref,
                cell(ws, debit, MONEY_FORMAT),
                cell(ws, credit, MONEY_FORMAT),
                cell(ws, running, MONEY_FORMAT),
                None if amount_currency is None else cell(ws, amount_currency, MONEY_FORMAT),
                currency,
            ])
            state["ws_rows"] += 1
            items += 1
            if items == QUARTER:
                rss_quarter = rss_mb()
            pending = next(rows, None)
        account_row(ws, account, "Ending balance", [account[7], account[8], initial + account[7] - account[8]])
    if pending is not None:
        raise SystemExit("an item of account %s came after its account's rows" % (pending[1],))
    c.close()
    conn.rollback()
    conn.close()
    if state["ws"] is None:
        ws = wb.create_sheet("General ledger")
        ws.append(["No journal items in this period"])
    close_sheet()
    wb.save(out)
    seconds = time.perf_counter() - started
    print(json.dumps({
        "items": items,
        "seconds": seconds,
        "rssAtQuarterMb": rss_quarter,
        "rssAtEndMb": rss_mb(),
    }))


# A cell in column A whose value is a number: `<c r="A7" s="3"><v>44562</v>` (no t, or t="n").
NUMBER_IN_A = re.compile(rb'<c r="A\d+"(?: (?:s="\d+"|t="n"))*\s*><v>')


def count(path):
    total = 0
    sheets = 0
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if not re.match(r"xl/worksheets/sheet\d+\.xml$", name):
                continue
            sheets += 1
            rest = b""
            with z.open(name) as part:
                while True:
                    chunk = part.read(1 << 20)
                    if not chunk:
                        break
                    data = rest + chunk
                    cut = data.rfind(b"</row>")
                    if cut < 0:
                        rest = data
                        continue
                    total += len(NUMBER_IN_A.findall(data, 0, cut))
                    rest = data[cut:]
            total += len(NUMBER_IN_A.findall(rest))
    print(json.dumps({"items": total, "sheets": sheets}))


if __name__ == "__main__":
    if sys.argv[1] == "ledger":
        ledger(*sys.argv[2:7])
    elif sys.argv[1] == "count":
        count(sys.argv[2])
    else:
        raise SystemExit("usage: baseline.py ledger <dsn> <from> <to> <generated> <out> | count <file>")
