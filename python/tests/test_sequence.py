"""tf.SequenceExample splits served by a real `weir serve` (issue 25).

`weir examplegen --payload-format sequence_example` writes an ExampleGen
output of the generated SequenceExamples in tests/tfdv/sequence/ (made by
TensorFlow); the server reads the payload format from its manifest and
serves context features as columns and sequence features as
list<list<...>> children of the "##SEQUENCE##" struct. TFDV counted 2,000
examples, 4,941 steps and 7,305 tokens in that file.
"""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from serve_process import serving, weir_bin  # noqa: E402
from weir_client import Dataset  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "tfdv", "sequence",
                      "baseline.tfrecord.gz")


@pytest.fixture(scope="module")
def sequence_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("seqroot")
    subprocess.run([weir_bin(), "examplegen", "-i", GOLDEN, "-o", str(root / "seq"),
                    "--payload-format", "sequence_example"], check=True,
                   stdout=subprocess.DEVNULL)
    with serving(root) as url:
        yield url


def test_sequence_features_arrive_as_lists_of_lists(sequence_server):
    rows = steps = tokens = 0
    for split in ("train", "eval"):
        for batch in Dataset(sequence_server, "seq", split, batch_size=256):
            seq = batch.column(batch.schema.get_field_index("##SEQUENCE##"))
            t = seq.field("tokens")
            assert str(t.type) in ("list<item: list<item: string>>",
                                   "list<item: list<item: binary>>"), t.type
            rows += len(batch)
            flat_steps = t.flatten()
            steps += len(flat_steps)
            tokens += len(flat_steps.flatten())
            assert "user_id" in batch.schema.names
    assert (rows, steps, tokens) == (2000, 4941, 7305)
