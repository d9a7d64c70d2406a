"""Makes the TFDV golden statistics for weir's STANDARD-histogram tests.

Writes, under tests/tfdv/histograms/:
  baseline.tfrecord.gz, current.tfrecord.gz  generated tf.train.Examples (float_list
                                        and int64_list features: uniform,
                                        skewed, constant, with NaN, with
                                        infinities, few and many integers)
  {baseline,current}.FeatureStats.pb    TFDV 1.16.1's statistics of each
                                        (generate_statistics_from_tfrecord,
                                        default options)
  drift.json                            TFDV's own Jensen-Shannon divergence
                                        of every feature (validate_statistics
                                        with a drift comparator per feature)

Run with TFDV 1.16.1 (scripts/tfdv-env makes a virtualenv with it):
  $(scripts/tfdv-env) tests/tfdv/make_histogram_goldens.py
The data comes from a fixed seed, so a rerun gives the same records.
"""

import json
import math
import os
import random

import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "histograms")
ROWS = 10_000


def rows(seed, shift):
    rng = random.Random(seed)
    for i in range(ROWS):
        with_nan = rng.gauss(10 + shift, 3)
        if rng.random() < 0.1:
            with_nan = math.nan
        with_inf = rng.gauss(-5 - shift, 2)
        r = rng.random()
        if r < 0.01:
            with_inf = math.inf
        elif r < 0.015:
            with_inf = -math.inf
        yield {
            "uniform": [rng.uniform(0, 100 + 10 * shift)],
            "skewed": [rng.lognormvariate(shift / 4, 1.0)],
            "constant": [7.0],
            "with_nan": [with_nan],
            "with_inf": [with_inf],
            # Few distinct values: TFDV's quantiles summary stays exact.
            "few_ints": [min(9, int(rng.expovariate(0.4 + 0.1 * shift)))],
            # Many distinct values: TFDV's summary compacts (eps 0.01).
            "many_ints": [rng.randrange(0, 50_000 + 5_000 * shift)],
            # A list feature: several values per example.
            "list_floats": [rng.gauss(shift, 1) for _ in range(i % 4)],
        }


def example(row):
    f = {}
    for name, values in row.items():
        if name.endswith("ints"):
            f[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        else:
            f[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
    return tf.train.Example(features=tf.train.Features(feature=f))


def main():
    os.makedirs(OUT, exist_ok=True)
    stats = {}
    for name, seed, shift in [("baseline", 1, 0), ("current", 2, 1)]:
        path = os.path.join(OUT, f"{name}.tfrecord.gz")
        with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")) as w:
            for row in rows(seed, shift):
                w.write(example(row).SerializeToString(deterministic=True))
        s = tfdv.generate_statistics_from_tfrecord(path, stats_options=tfdv.StatsOptions())
        with open(os.path.join(OUT, f"{name}.FeatureStats.pb"), "wb") as f:
            f.write(s.SerializeToString(deterministic=True))
        stats[name] = s
    schema = tfdv.infer_schema(stats["baseline"])
    for feature in schema.feature:
        feature.drift_comparator.jensen_shannon_divergence.threshold = 1e-9
    anomalies = tfdv.validate_statistics(
        stats["current"], schema, previous_statistics=stats["baseline"]
    )
    drift = {}
    for info in anomalies.drift_skew_info:
        name = ".".join(info.path.step)
        for m in info.drift_measurements:
            if m.type == m.JENSEN_SHANNON_DIVERGENCE:
                drift[name] = m.value
    with open(os.path.join(OUT, "drift.json"), "w") as f:
        json.dump(
            {"tfdv_version": tfdv.__version__, "jensen_shannon_divergence": drift},
            f,
            indent=2,
            sort_keys=True,
        )
        f.write("\n")
    print(json.dumps(drift, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
