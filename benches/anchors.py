"""Issue 28's anchor benchmark, run by benches/anchors.sh (not part of CI).

Makes TPC-H lineitem with tpchgen-cli (scale factor --sf, default 1): all
rows as its Parquet file, the first --csv-rows (default 1M) as CSV. Then
times, alternating job by job for --runs rounds (default 3), each job a
process of its own (wall seconds and peak RSS from wait4):

- statistics of the CSV and of the Parquet file: weir's statistics (exact
  and --approx, `bench_job stats`: StatsBuilder as `weir stats` runs it),
  DuckDB SUMMARIZE, Polars describe, and a Polars read-only pass;
- ExampleGen of the CSV (TFRecord, gzip level 6: TFX's default, `bench_job
  examplegen`) against DataFusion's CSV -> Parquet at gzip(6).

Prints the medians and the ratios weir / anchor as Markdown tables (the
README's performance section) and writes them to bench-out/anchors.json.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

DUCKDB = """
import sys, duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
path = sys.argv[1]
read = "read_parquet" if path.endswith(".parquet") else "read_csv_auto"
rows = con.sql(f"SUMMARIZE SELECT * FROM {read}('{path}')").fetchall()
assert rows, "no summary"
"""

POLARS = """
import sys, polars as pl
path, what = sys.argv[1], sys.argv[2]
df = pl.read_parquet(path) if path.endswith(".parquet") else pl.read_csv(path)
assert df.height > 0
if what == "describe":
    assert df.describe().height > 0
"""


def run(cmd, scratch):
    """Runs cmd; gives (seconds, peak RSS in MB). Fails loudly."""
    if os.path.exists(scratch):
        shutil.rmtree(scratch)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err}")
    return seconds, usage.ru_maxrss / 1024


def make_data(args):
    data = os.path.join(args.dir, f"tpch-sf{args.sf}")
    parquet = os.path.join(data, "lineitem.parquet")
    csv = os.path.join(data, f"lineitem-{args.csv_rows}.csv")
    gen = os.path.join(os.path.dirname(sys.executable), "tpchgen-cli")
    if not os.path.exists(parquet):
        subprocess.run(
            [gen, "parquet", "-s", str(args.sf), "--tables", "lineitem", "--output-dir", data],
            check=True,
        )
    if not os.path.exists(csv):
        full = os.path.join(data, "csv")
        subprocess.run(
            [gen, "csv", "-s", str(args.sf), "--tables", "lineitem", "--output-dir", full],
            check=True,
        )
        with open(os.path.join(full, "lineitem.csv"), "rb") as src, open(csv + ".tmp", "wb") as dst:
            for i, line in enumerate(src):
                if i > args.csv_rows:
                    break
                dst.write(line)
        os.replace(csv + ".tmp", csv)
        shutil.rmtree(full)
    return csv, parquet


def jobs(args, csv, parquet):
    py = sys.executable
    tmp = os.path.join(args.dir, "anchors-out")
    out = []
    for kind, path in (("csv", csv), ("parquet", parquet)):
        o = os.path.join(tmp, f"stats-{kind}")
        out += [
            (f"stats {kind}", "weir exact", [args.job, "stats", path, o], o),
            (f"stats {kind}", "weir --approx", [args.job, "stats", path, o, "--approx"], o),
            (f"stats {kind}", "DuckDB SUMMARIZE", [py, "-c", DUCKDB, path], o),
            (f"stats {kind}", "Polars describe", [py, "-c", POLARS, path, "describe"], o),
            (f"stats {kind}", "Polars read only", [py, "-c", POLARS, path, "read"], o),
        ]
    o = os.path.join(tmp, "examplegen")
    out += [
        ("examplegen csv", "weir examplegen", [args.job, "examplegen", csv, o], o),
        ("examplegen csv", "DataFusion CSV->Parquet gzip(6)", [args.job, "csv-to-parquet", csv, o, "gzip(6)"], o),
    ]
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--job", required=True)
    p.add_argument("--dir", default="bench-out")
    p.add_argument("--sf", default="1")
    p.add_argument("--csv-rows", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--only", default="", help="run only works whose name contains this")
    args = p.parse_args()
    csv, parquet = make_data(args)
    todo = [j for j in jobs(args, csv, parquet) if args.only in j[0]]
    times = {(w, n): [] for w, n, _, _ in todo}
    rss = {(w, n): 0.0 for w, n, _, _ in todo}
    for r in range(args.runs):
        for work, name, cmd, scratch in todo:
            s, m = run(cmd, scratch)
            times[(work, name)].append(s)
            rss[(work, name)] = max(rss[(work, name)], m)
            print(f"round {r + 1}: {work:<16} {name:<34} {s:7.2f} s {m:7.0f} MB", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "sf": args.sf,
        "csv_rows": args.csv_rows,
        "runs": args.runs,
        "cores": os.cpu_count(),
        "median_seconds": {f"{w} | {n}": v for (w, n), v in med.items()},
        "peak_rss_mb": {f"{w} | {n}": v for (w, n), v in rss.items()},
    }
    with open(os.path.join(args.dir, "anchors.json"), "w") as f:
        json.dump(result, f, indent=1)

    def cell(w, n):
        if (w, n) not in med:
            return "—"
        return f"{med[(w, n)]:.2f} s, {rss[(w, n)]:.0f} MB"

    def ratio(w, a, b):
        if (w, a) not in med or (w, b) not in med:
            return "—"
        return f"{med[(w, a)] / med[(w, b)]:.2f}"

    print(f"\nTPC-H lineitem SF{args.sf} (tpchgen-cli): CSV = first {args.csv_rows:,} rows, "
          f"Parquet = all rows; median of {args.runs} alternating runs, "
          f"each a process (wall seconds, peak RSS); {os.cpu_count()} cores\n")
    names = ["weir exact", "weir --approx", "DuckDB SUMMARIZE", "Polars describe", "Polars read only"]
    print("| statistics | " + " | ".join(names) + " | exact / DuckDB | approx / Polars read |")
    print("|---" * (len(names) + 3) + "|")
    for kind in ("csv", "parquet"):
        w = f"stats {kind}"
        if not any(k[0] == w for k in med):
            continue
        print(f"| {kind} | " + " | ".join(cell(w, n) for n in names)
              + f" | {ratio(w, 'weir exact', 'DuckDB SUMMARIZE')} | {ratio(w, 'weir --approx', 'Polars read only')} |")
    w = "examplegen csv"
    if any(k[0] == w for k in med):
        a, b = "weir examplegen", "DataFusion CSV->Parquet gzip(6)"
        print(f"\n| ExampleGen of the CSV | {a} (TFRecord gzip 6) | {b} | ratio |")
        print("|---|---|---|---|")
        print(f"| csv | {cell(w, a)} | {cell(w, b)} | {ratio(w, a, b)} |")


if __name__ == "__main__":
    main()
