"""Makes the TFDV golden data for weir's tf.SequenceExample tests.

Writes, under tests/tfdv/sequence/:
  baseline.tfrecord.gz, current.tfrecord.gz  generated tf.train.SequenceExamples
                                        (context: int, float, bytes, a list and
                                        a sometimes-missing feature; feature
                                        lists: tokens (bytes, 0-3 per step),
                                        clicks (one int per step), dwell (one
                                        float per step, sometimes absent) and
                                        a list that some examples lack)
  {baseline,current}.FeatureStats.pb    TFDV 1.16.1's statistics of each, the
                                        way TFX's StatisticsGen computes them:
                                        tfx_bsl's TFSequenceExampleRecord
                                        (sequence features under the
                                        "##SEQUENCE##" struct) into
                                        tfdv.GenerateStatistics, default options
  schema.pbtxt                          tfdv.infer_schema(baseline statistics)
  anomalies.pbtxt                       tfdv.validate_statistics(current, schema)
  records.json                          the sha256 of each serialized record and
                                        its TFX split bucket (int(sha256) % 3)

Run with TFDV 1.16.1 (scripts/tfdv-env makes a virtualenv with it):
  $(scripts/tfdv-env) tests/tfdv/make_sequence_goldens.py
The data comes from a fixed seed, so a rerun gives the same records.
"""

import hashlib
import json
import os
import random
import tempfile

import apache_beam as beam
import tensorflow as tf
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tfx_bsl.public import tfxio

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sequence")
ROWS = 2_000
WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "far", "home", "fast", "red"]


def sequence_example(rng, shift):
    ctx = {
        "user_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[rng.randrange(0, 500)])),
        "score": tf.train.Feature(float_list=tf.train.FloatList(value=[rng.gauss(shift, 1)])),
        "country": tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[rng.choice([b"us", b"de", b"fr", b"jp"])])
        ),
        "labels": tf.train.Feature(
            int64_list=tf.train.Int64List(value=[rng.randrange(0, 5) for _ in range(rng.randrange(0, 4))])
        ),
    }
    if rng.random() < 0.8 - 0.3 * shift:
        ctx["age"] = tf.train.Feature(float_list=tf.train.FloatList(value=[rng.uniform(18, 80)]))
    steps = rng.randrange(0, 6)
    tokens, clicks, dwell = [], [], []
    for _ in range(steps):
        words = WORDS if shift == 0 else WORDS + ["zebra"]
        tokens.append(
            tf.train.Feature(
                bytes_list=tf.train.BytesList(
                    value=[rng.choice(words).encode() for _ in range(rng.randrange(0, 4))]
                )
            )
        )
        clicks.append(tf.train.Feature(int64_list=tf.train.Int64List(value=[rng.randrange(0, 3)])))
        if rng.random() < 0.9:
            dwell.append(tf.train.Feature(float_list=tf.train.FloatList(value=[rng.expovariate(0.5)])))
        else:
            dwell.append(tf.train.Feature())
    lists = {
        "tokens": tf.train.FeatureList(feature=tokens),
        "clicks": tf.train.FeatureList(feature=clicks),
        "dwell": tf.train.FeatureList(feature=dwell),
    }
    if rng.random() < 0.5:
        lists["positions"] = tf.train.FeatureList(
            feature=[
                tf.train.Feature(int64_list=tf.train.Int64List(value=[rng.randrange(0, 9), rng.randrange(0, 9)]))
                for _ in range(rng.randrange(1, 4))
            ]
        )
    return tf.train.SequenceExample(
        context=tf.train.Features(feature=ctx),
        feature_lists=tf.train.FeatureLists(feature_list=lists),
    )


def statistics(path):
    source = tfxio.TFSequenceExampleRecord(file_pattern=path, telemetry_descriptors=["weir"])
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "stats")
        with beam.Pipeline() as p:
            _ = (
                p
                | source.BeamSource()
                | tfdv.GenerateStatistics(tfdv.StatsOptions())
                | tfdv.WriteStatisticsToBinaryFile(out)
            )
        return tfdv.load_stats_binary(out)


def main():
    os.makedirs(OUT, exist_ok=True)
    stats, records = {}, {}
    for name, seed, shift in [("baseline", 11, 0), ("current", 12, 1)]:
        rng = random.Random(seed)
        path = os.path.join(OUT, f"{name}.tfrecord.gz")
        digests = []
        with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")) as w:
            for _ in range(ROWS):
                rec = sequence_example(rng, shift).SerializeToString(deterministic=True)
                w.write(rec)
                h = hashlib.sha256(rec).hexdigest()
                digests.append([h, int(h, 16) % 3])
        records[name] = digests
        s = statistics(path)
        with open(os.path.join(OUT, f"{name}.FeatureStats.pb"), "wb") as f:
            f.write(s.SerializeToString(deterministic=True))
        stats[name] = s
    schema = tfdv.infer_schema(stats["baseline"])
    with open(os.path.join(OUT, "schema.pbtxt"), "w") as f:
        f.write(text_format.MessageToString(schema))
    anomalies = tfdv.validate_statistics(stats["current"], schema)
    with open(os.path.join(OUT, "anomalies.pbtxt"), "w") as f:
        f.write(text_format.MessageToString(anomalies))
    with open(os.path.join(OUT, "records.json"), "w") as f:
        json.dump({"tfdv_version": tfdv.__version__, "records": records}, f)
        f.write("\n")
    print(text_format.MessageToString(schema))
    print(text_format.MessageToString(anomalies))


if __name__ == "__main__":
    main()
