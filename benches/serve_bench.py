"""Benchmark of `weir serve` against reading the same Parquet locally.

Writes a transformed-taxi-shaped Parquet split (3 float32 + 14 int64
columns, like the taxi transform's output) of ROWS records, starts `weir
serve` on 127.0.0.1 over it, and streams one epoch to 1 and to 4 concurrent
clients (processes, each one rank of 4 reading its share, and one client
reading the whole epoch), against `pyarrow.parquet` reading the file in the
client process, in the same run. Prints rows/s and GB/s of Arrow payload per
stream and in total, ratios to the local read, and the server's peak RSS.

usage: python benches/serve_bench.py [--rows 10000000] [--weir PATH]
"""

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))


def write_split(root, rows):
    split = os.path.join(root, "bench", "Split-train")
    os.makedirs(split)
    rng = np.random.default_rng(0)
    chunk = 1_000_000
    schema = None
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        cols = {}
        for name in ["fare_xf", "trip_miles_xf", "trip_seconds_xf"]:
            cols[name] = rng.standard_normal(n).astype(np.float32)
        for i in range(13):
            cols[f"int_xf_{i}"] = rng.integers(0, 100, n, dtype=np.int64)
        cols["tips_xf"] = rng.integers(0, 2, n, dtype=np.int64)
        t = pa.table(cols)
        if writer is None:
            schema = t.schema
            writer = pq.ParquetWriter(os.path.join(split, "part-0.parquet"), schema,
                                      compression="snappy")
        writer.write_table(t, row_group_size=256_000)
    writer.close()
    return os.path.join(split, "part-0.parquet")


def stream(url, rank, world, batch, queue):
    client = flight.FlightClient(url)
    cmd = json.dumps({"dataset": "bench", "split": "train", "batch_size": batch,
                      "world_size": world, "seed": 1}).encode()
    info = client.get_flight_info(flight.FlightDescriptor.for_command(cmd))
    started = time.time()
    reader = client.do_get(info.endpoints[rank].ticket)
    rows = nbytes = 0
    while True:
        try:
            chunk = reader.read_chunk()
        except StopIteration:
            break
        rows += chunk.data.num_rows
        nbytes += chunk.data.nbytes
    queue.put((rows, nbytes, time.time() - started))


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--batch-size", type=int, default=65_536)
    p.add_argument("--weir", default=os.path.expanduser("~/.cache/weir-target/debug/weir"))
    a = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="weir-serve-bench-")
    path = write_split(tmp, a.rows)
    # Baseline: the client reads the file itself.
    started = time.time()
    table = pq.read_table(path)
    local_s = time.time() - started
    local_bytes = table.nbytes
    del table
    local_gbs = local_bytes / local_s / 1e9
    print(f"local pyarrow.parquet read: {a.rows} rows in {local_s:.2f} s "
          f"({a.rows / local_s / 1e6:.1f} M rows/s, {local_gbs:.2f} GB/s)")
    server = subprocess.Popen([a.weir, "serve", "--root", tmp, "--bind", "127.0.0.1:0",
                               "--cache-dir", os.path.join(tmp, "cache")],
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        url = next(w for w in line.split() if w.startswith("grpc://"))
        for world in [1, 4]:
            q = mp.Queue()
            procs = [mp.Process(target=stream, args=(url, r, world, a.batch_size, q))
                     for r in range(world)]
            started = time.time()
            for pr in procs:
                pr.start()
            results = [q.get() for _ in procs]
            for pr in procs:
                pr.join()
            wall = time.time() - started
            rows = sum(r[0] for r in results)
            nbytes = sum(r[1] for r in results)
            per = [r[1] / r[2] / 1e9 for r in results]
            total_gbs = nbytes / wall / 1e9
            print(f"serve, {world} stream(s): {rows} rows in {wall:.2f} s; "
                  f"per stream {min(per):.2f}-{max(per):.2f} GB/s; total "
                  f"{rows / wall / 1e6:.1f} M rows/s, {total_gbs:.2f} GB/s "
                  f"= {total_gbs / local_gbs:.2f}x the local read")
        print(f"server peak RSS: {peak_rss_kb(server.pid) / 1024:.0f} MB")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
