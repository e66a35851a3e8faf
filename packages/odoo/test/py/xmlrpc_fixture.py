"""CPython's own XML-RPC, as the reference the client is tested against.

  python3 xmlrpc_fixture.py serve [odoo]
      Serves the functions below with xmlrpc.server.SimpleXMLRPCServer (allow_none=False, like
      Odoo) on a free 127.0.0.1 port, on every path (so /xmlrpc/2/object works too), and prints
      {"port": N} on the first line. With "odoo", strings are marshalled the way Odoo does:
      control characters other than tab, LF and CR are stripped.
  python3 xmlrpc_fixture.py client PORT METHOD ARGS_JSON
      Calls METHOD(*ARGS) with xmlrpc.client.ServerProxy and prints what Python's client sees as
      tagged JSON ({"$float": repr} for non-finite floats, {"$fault": [code, string]} for a fault,
      {"$error": "..."} when the client cannot parse the answer).
"""
import json
import math
import sys
import traceback
import xmlrpc.client
import xmlrpc.server

SAMPLES = {
    "scalars": [0, 1, -1, 2**31 - 1, -(2**31), True, False, "", "plain", 0.0, -0.0, 1.5, 100.0],
    "doubles": [1e16, 1e-300, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, 1e22, 1e21, 123456789.123,
                -2.5e-7, 0.000123, 33.33, 1 / 3, 2.0**53, 2.0**53 + 2],
    "special_doubles": [float("inf"), float("-inf")],
    "text": ["ñandú €𝄞 東京 Ünïcödé", "a & b < c > d \" e ' f", "&amp; literally", "tab\tnew\nline",
             "]]> cdata end", "  leading and trailing  ", "emoji 😀 and \u00a0nbsp", "<value>x</value>"],
    "control": ["bell\x07 and nul-free \x01\x02\x1f end", "form\x0cfeed", "keep\ttab\nlf\rcr"],
    "crlf": ["windows\r\nline\r\nends", "old mac\rline", "mixed\r\n\n\r"],
    "nested": {
        "empty_struct": {}, "empty_array": [], "empty_string": "",
        "many2one": [7, "Azure Interior, Deco Addict"], "false_m2o": False,
        "rows": [{"id": 1, "tags": [1, 2, 3], "child": {"deep": [[[]], [{}], [{"x": [1.25]}]]}},
                 {"id": 2, "tags": [], "child": {"deep": []}}],
        "analytic_distribution": {"12": 100.0, "12,37": 60.5},
        "keys with spaces & entities <ok>": "v",
        "ключ": "значение",
    },
    "big_list": list(range(2000)),
}


def odoo_dump_unicode(self, value, write, escape=xmlrpc.client.escape):
    # Odoo strips XML-illegal control characters before marshalling (XML 1.0 forbids them)
    value = "".join(c for c in value if ord(c) >= 32 or c in "\t\n\r")
    write("<value><string>")
    write(escape(value))
    write("</string></value>\n")


def sample(name):
    return SAMPLES[name]


def fault(code, message):
    raise xmlrpc.client.Fault(code, message)


def echo(*args):
    """What the server received, as Python's repr."""
    return repr(args)


def authenticate(db, login, password, user_agent_env):
    return 2 if (login, password) == ("admin", "admin") else False


def execute_kw(db, uid, password, model, method, args, kwargs):
    if method == "raise_value_error":
        # what Odoo's /xmlrpc/2 does with an unexpected exception: fault 1 carrying the traceback
        try:
            raise ValueError(f"Invalid field {args[0]!r} on model {model!r}")
        except ValueError:
            raise xmlrpc.client.Fault(1, traceback.format_exc()) from None
    return repr([db, uid, password, model, method, args, kwargs])


def serve(odoo_mode):
    if odoo_mode:
        xmlrpc.client.Marshaller.dispatch[str] = odoo_dump_unicode

    class Handler(xmlrpc.server.SimpleXMLRPCRequestHandler):
        rpc_paths = ()  # accept every path

        def log_message(self, *args):
            pass

    server = xmlrpc.server.SimpleXMLRPCServer(("127.0.0.1", 0), Handler, allow_none=False, logRequests=False)
    for fn in (sample, fault, echo, authenticate, execute_kw):
        server.register_function(fn)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


def tag(value):
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": repr(value)}
    if isinstance(value, list):
        return [tag(v) for v in value]
    if isinstance(value, dict):
        return {k: tag(v) for k, v in value.items()}
    return value


def client(port, method, args_json):
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/xmlrpc/2/object")
    try:
        result = tag(getattr(proxy, method)(*json.loads(args_json)))
    except xmlrpc.client.Fault as f:
        result = {"$fault": [f.faultCode, f.faultString]}
    except Exception as e:  # noqa: BLE001 - report what Python's client does with the answer
        result = {"$error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(len(sys.argv) > 2 and sys.argv[2] == "odoo")
    else:
        client(int(sys.argv[2]), sys.argv[3], sys.argv[4])
