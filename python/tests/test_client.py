"""weir_client against a real `weir serve` process on 127.0.0.1.

The server binary is $WEIR_BIN (scripts/test sets it to the test build's
`weir`); the data is generated Parquet with ids 0..N, so exactly-once and
resume are checked by id.
"""

import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from serve_process import serving  # noqa: E402
from weir_client import Dataset, WeirError, list_datasets  # noqa: E402

N = 50_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    split = root / "gen" / "Split-train"
    split.mkdir(parents=True)
    ids = pa.array(range(N), pa.int64())
    x = pa.array([i * 0.25 for i in range(N)], pa.float64())
    name = pa.array([f"n{i % 97}" for i in range(N)], pa.string())
    pq.write_table(pa.table({"id": ids, "x": x, "name": name}), split / "part-0.parquet",
                   row_group_size=7_000)
    (root / "token").write_text("py-token\n")
    with serving(root, "--token-file", str(root / "token")) as url:
        yield url


def ids_of(batches):
    out = []
    for b in batches:
        out.extend(b.column(b.schema.get_field_index("id")).to_pylist())
    return out


def test_lists_datasets(server):
    listed = list_datasets(server, token="py-token")
    assert [(d["dataset"], d["split"], d["records"]) for d in listed] == [("gen", "train", N)]


def test_unauthenticated_is_refused(server):
    with pytest.raises(WeirError, match="Bearer"):
        list(Dataset(server, "gen", "train", token=None))


def test_ranks_together_see_every_record_once(server):
    seen = []
    for rank in range(3):
        ds = Dataset(server, "gen", "train", batch_size=1000, rank=rank, world_size=3,
                     seed=1, token="py-token")
        batches = list(ds)
        assert all(b.num_rows == 1000 for b in batches[:-1])
        seen.extend(ids_of(batches))
    assert sorted(seen) == list(range(N))


def test_rank_and_world_size_default_from_torchrun_env(server, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    ds = Dataset(server, "gen", "train", batch_size=500, token="py-token")
    assert (ds.rank, ds.world_size) == (1, 2)


def test_state_dict_resumes_exactly(server):
    full = Dataset(server, "gen", "train", batch_size=700, seed=3, epoch=2, token="py-token")
    want = ids_of(list(full))
    ds = Dataset(server, "gen", "train", batch_size=700, seed=3, epoch=2, token="py-token")
    got = []
    for i, b in enumerate(ds):
        got.extend(ids_of([b]))
        if i == 9:
            break
    state = json.loads(json.dumps(ds.state_dict()))  # survives a checkpoint file
    again = Dataset(server, "gen", "train", batch_size=700, seed=0, epoch=0, token="py-token")
    again.load_state_dict(state)
    got.extend(ids_of(list(again)))
    assert got == want


def test_elastic_resume_with_another_world_size(server):
    seen, state = [], None
    for rank in range(4):
        ds = Dataset(server, "gen", "train", batch_size=250, rank=rank, world_size=4,
                     seed=5, token="py-token")
        for i, b in enumerate(ds):
            seen.extend(ids_of([b]))
            if i == 4:
                break
        state = ds.state_dict()
    for rank in range(2):
        ds = Dataset(server, "gen", "train", batch_size=250, rank=rank, world_size=2,
                     seed=5, token="py-token")
        ds.load_state_dict(state)
        seen.extend(ids_of(list(ds)))
    assert sorted(seen) == list(range(N))


def test_token_for_another_epoch_is_refused(server):
    ds = Dataset(server, "gen", "train", batch_size=100, epoch=0, token="py-token",
                 rank=0, world_size=2)
    next(iter(ds))
    state = ds.state_dict()
    other = Dataset(server, "gen", "train", batch_size=100, epoch=1, token="py-token",
                    rank=0, world_size=3)
    other.load_state_dict({"weir_token": state["weir_token"]})
    with pytest.raises(WeirError, match="epoch 0"):
        list(other)


def test_numpy_batches(server):
    ds = Dataset(server, "gen", "train", batch_size=256, shuffle=False, as_numpy=True,
                 columns=["id", "x"], token="py-token")
    first = next(iter(ds))
    assert set(first) == {"id", "x"}
    assert first["id"].tolist() == list(range(256))
    assert first["x"].dtype.name == "float64"


def test_tf_data_wrapper(server):
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is not importable here")
    ds = Dataset(server, "gen", "train", batch_size=1000, shuffle=False, token="py-token")
    tfds = ds.tf()
    assert tfds.element_spec["id"].dtype == tf.int64
    assert tfds.element_spec["name"].dtype == tf.string
    total = 0
    for element in tfds:
        total += int(element["id"].shape[0])
    assert total == N


def test_torch_wrapper(server):
    torch = pytest.importorskip("torch", reason="PyTorch is not importable here (pip install torch to run it)")
    ds = Dataset(server, "gen", "train", batch_size=1000, seed=2, token="py-token")
    loader = torch.utils.data.DataLoader(ds.torch(), batch_size=None)
    seen = []
    for batch in loader:
        assert batch["id"].dtype == torch.int64
        seen.extend(batch["id"].tolist())
    assert sorted(seen) == list(range(N))
