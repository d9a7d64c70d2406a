"""Flight SQL on `weir serve`, checked with the ADBC Flight SQL driver (the
Python package `adbc-driver-flightsql`), as a notebook would use it.

    python3 flight_sql_check.py URI TOKEN WEIR_BIN ROOT

- the README's and docs/pipelines.md's example queries give the rows
  `weir sql --format json` gives on the same root;
- a prepared statement with a parameter gives the rows of the same query
  with the value written in;
- the metadata calls list the catalog, the schema, the six tables and
  their columns, and the table types;
- a connection without the token is refused as unauthenticated.

Prints one JSON line with what it checked; exits non-zero on a failure.
"""

import datetime
import json
import subprocess
import sys
import warnings

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi as flight_sql

warnings.simplefilter("ignore")
uri, token, weir, root = sys.argv[1:5]

QUERIES = [
    "SELECT span_date, mean FROM statistics WHERE feature = 'fare' AND split = 'train' "
    "AND is_latest ORDER BY span_date",
    "SELECT span_date, mean FROM statistics WHERE feature = 'fare' AND split = 'train' "
    "AND is_latest AND span_date > DATE '2024-01-01' - INTERVAL '30 days' ORDER BY span_date",
    "SELECT DISTINCT span, span_date FROM drift WHERE feature = 'company' "
    "AND measurement = 'L_INFTY' AND value > 0.0 ORDER BY span",
    "SELECT * FROM runs WHERE status = 'failed'",
    "SELECT status, count(*) AS n FROM runs GROUP BY status ORDER BY status",
    "SELECT split, feature, histogram_type, low, high, sample_count FROM histograms "
    "WHERE feature = 'trip_miles' AND is_latest ORDER BY split, histogram_type, low, span",
    "SELECT span, split, feature, type, severity FROM anomalies ORDER BY span, split, feature, type",
]


def connect(with_token=True):
    kwargs = {}
    if with_token:
        kwargs[adbc_driver_flightsql.DatabaseOptions.AUTHORIZATION_HEADER.value] = (
            f"Bearer {token}"
        )
    return flight_sql.connect(uri, db_kwargs=kwargs)


def normal(rows):
    """Rows as weir sql's JSON writes them: dates as text, nulls left out."""

    def value(v):
        if isinstance(v, (datetime.date, datetime.datetime)):
            return v.isoformat()
        return v

    return [{k: value(v) for k, v in r.items() if v is not None} for r in rows]


def weir_sql(query):
    out = subprocess.run(
        [weir, "sql", "--root", root, "--format", "json", query],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


checked = {"queries": 0, "rows": 0}
with connect() as conn, conn.cursor() as cur:
    for q in QUERIES:
        cur.execute(q)
        got = normal(cur.fetch_arrow_table().to_pylist())
        want = weir_sql(q)
        assert got == want, f"{q}\nFlight SQL: {got[:3]}\nweir sql:   {want[:3]}"
        checked["queries"] += 1
        checked["rows"] += len(got)

    # A prepared statement with a parameter.
    q = "SELECT span, mean FROM statistics WHERE feature = 'fare' AND split = 'train' AND span >= $1 ORDER BY span"
    spans = sorted({r["span"] for r in weir_sql("SELECT span FROM runs")})
    cur.execute(q, parameters=(spans[1],))
    got = normal(cur.fetch_arrow_table().to_pylist())
    want = weir_sql(q.replace("$1", str(spans[1])))
    assert got == want and len(got) >= 2, (got, want)
    # The same statement again with another value.
    cur.execute(q, parameters=(spans[-1],))
    assert len(cur.fetchall()) == 1
    checked["prepared"] = len(got)

    # Metadata: catalog, schema, tables, columns, table types, server info.
    objects = conn.adbc_get_objects(depth="columns").read_all().to_pylist()
    catalogs = {c["catalog_name"]: c for c in objects}
    assert list(catalogs) == ["weir"], catalogs.keys()
    schemas = {s["db_schema_name"]: s for s in catalogs["weir"]["catalog_db_schemas"]}
    tables = {t["table_name"]: t for t in schemas["public"]["db_schema_tables"]}
    assert set(tables) == {"runs", "statistics", "histograms", "top_values", "anomalies", "drift"}, tables.keys()
    columns = {c["column_name"] for c in tables["statistics"]["table_columns"]}
    assert {"span", "span_date", "feature", "mean", "histogram"} <= columns, columns
    assert tables["histograms"]["table_type"] == "VIEW"
    assert tables["runs"]["table_type"] == "TABLE"
    assert set(conn.adbc_get_table_types()) == {"TABLE", "VIEW"}
    info = conn.adbc_get_info()
    assert info.get("vendor_name") == "weir", info
    schema = conn.adbc_get_table_schema("drift")
    assert "measurement" in schema.names, schema
    checked["tables"] = len(tables)

# No token: refused before any query runs.
try:
    with connect(with_token=False) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM runs")
        cur.fetchall()
    raise AssertionError("a query without the token was answered")
except AssertionError:
    raise
except Exception as e:  # adbc_driver_manager.ProgrammingError and friends
    assert "UNAUTHENTICATED" in str(e) or "Unauthenticated" in str(e), e
    checked["unauthenticated"] = True

print(json.dumps(checked))
