"""A client for ``weir serve``: epochs of a dataset split over Arrow Flight.

``Dataset`` is one rank's view of one epoch. Iterating it yields the rank's
batches (``pyarrow.RecordBatch``, or dicts of numpy arrays with
``as_numpy=True``); ``state_dict()`` / ``load_state_dict()`` carry the resume
token, the shape of torchdata's ``StatefulDataLoader``, so a checkpoint
taken with the model resumes the data stream exactly after the last batch
the trainer saw. A checkpoint taken at a step boundary (every rank consumed
the same number of batches) also resumes with another world size.

The promises (kept by the server): the ranks of one epoch together see
every record exactly once; the global order depends only on the data, the
seed and the epoch; rank ``r`` of ``W`` gets global batches ``r, r+W, ...``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List, Optional

import pyarrow as pa
import pyarrow.flight as flight

__all__ = ["Dataset", "list_datasets", "WeirError"]

_PREFIX = b"weir1:"


class WeirError(RuntimeError):
    """The server refused a request; the message says why."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _token_fields(token: bytes) -> Dict[str, Any]:
    """The JSON inside a resume token (tokens are self-describing)."""
    if not token.startswith(_PREFIX):
        raise WeirError("not a weir resume token")
    _, _, rest = token.partition(b":")
    _, _, body = rest.partition(b":")
    return json.loads(body)


def _client(url: str, tls_root_certs: Optional[bytes]) -> flight.FlightClient:
    if tls_root_certs is not None:
        return flight.FlightClient(url, tls_root_certs=tls_root_certs)
    return flight.FlightClient(url)


def _options(token: Optional[str]) -> flight.FlightCallOptions:
    token = token if token is not None else os.environ.get("WEIR_SERVE_TOKEN")
    headers = [(b"authorization", b"Bearer " + token.encode())] if token else []
    return flight.FlightCallOptions(headers=headers)


def _call(fn, *args):
    try:
        return fn(*args)
    except (flight.FlightError, pa.ArrowException) as e:  # statuses map to both
        raise WeirError(str(e)) from e


def list_datasets(url: str, token: Optional[str] = None,
                  tls_root_certs: Optional[bytes] = None) -> List[Dict[str, Any]]:
    """Every dataset and split the server has: name, split, records, schema."""
    client = _client(url, tls_root_certs)
    out = []
    for info in _call(client.list_flights, b"", _options(token)):
        dataset, split = [p.decode() if isinstance(p, bytes) else p
                          for p in info.descriptor.path]
        out.append({"dataset": dataset, "split": split,
                    "records": info.total_records, "schema": info.schema})
    client.close()
    return out


class Dataset:
    """One rank's batches of one epoch of ``dataset``/``split``.

    ``rank`` and ``world_size`` default to the ``RANK`` and ``WORLD_SIZE``
    environment variables (torchrun sets them), else 0 and 1.
    """

    def __init__(self, url: str, dataset: str, split: str, batch_size: int = 1024,
                 rank: Optional[int] = None, world_size: Optional[int] = None,
                 seed: int = 0, epoch: int = 0, shuffle: bool = True,
                 drop_last: bool = False, columns: Optional[List[str]] = None,
                 token: Optional[str] = None, tls_root_certs: Optional[bytes] = None,
                 as_numpy: bool = False):
        self.url = url
        self.dataset = dataset
        self.split = split
        self.batch_size = int(batch_size)
        self.world_size = int(world_size if world_size is not None
                              else _env_int("WORLD_SIZE", 1))
        self.rank = int(rank if rank is not None else _env_int("RANK", 0))
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is not in 0..{self.world_size}")
        self.seed = int(seed)
        self.epoch = int(epoch)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.columns = list(columns) if columns is not None else None
        self.as_numpy = as_numpy
        self._auth = token
        self._tls = tls_root_certs
        self._last: Optional[bytes] = None  # token after the last batch yielded
        self._resume: Optional[bytes] = None  # token to start from

    # -- the request ---------------------------------------------------
    def _command(self, resume: Optional[bytes] = None) -> bytes:
        cmd = {"dataset": self.dataset, "split": self.split,
               "batch_size": self.batch_size, "epoch": self.epoch, "seed": self.seed,
               "shuffle": self.shuffle, "world_size": self.world_size,
               "drop_last": self.drop_last}
        if self.columns is not None:
            cmd["columns"] = self.columns
        if resume is not None:
            cmd["resume"] = resume.decode()
        return json.dumps(cmd).encode()

    def info(self) -> Dict[str, Any]:
        """The epoch's plan: schema, total records, held-back records and
        each rank's batch count."""
        client = _client(self.url, self._tls)
        try:
            descriptor = flight.FlightDescriptor.for_command(self._command(self._resume))
            info = _call(client.get_flight_info, descriptor, _options(self._auth))
            meta = json.loads(info.app_metadata or b"{}") if hasattr(info, "app_metadata") else {}
            ranks = []
            for e in info.endpoints:
                em = getattr(e, "app_metadata", b"") or b"{}"
                ranks.append(json.loads(em))
            return {"schema": info.schema, "total_records": info.total_records,
                    "held_back": meta.get("held_back"), "ranks": ranks,
                    "tickets": [e.ticket.ticket for e in info.endpoints]}
        finally:
            client.close()

    def _ticket(self, client: flight.FlightClient) -> bytes:
        resume = self._resume
        if resume is not None:
            fields = _token_fields(resume)
            if fields["world_size"] == self.world_size and fields["rank"] == self.rank:
                return resume  # this rank's own stream: resume exactly there
        descriptor = flight.FlightDescriptor.for_command(self._command(resume))
        info = _call(client.get_flight_info, descriptor, _options(self._auth))
        return info.endpoints[self.rank].ticket.ticket

    # -- iteration -----------------------------------------------------
    def batches(self) -> Iterator[pa.RecordBatch]:
        """This rank's record batches from where the state stands."""
        client = _client(self.url, self._tls)
        try:
            ticket = self._ticket(client)
            reader = _call(client.do_get, flight.Ticket(ticket), _options(self._auth))
            while True:
                try:
                    chunk = reader.read_chunk()
                except StopIteration:
                    break
                except (flight.FlightError, pa.ArrowException) as e:
                    raise WeirError(str(e)) from e
                if chunk.data is None:
                    continue
                self._last = chunk.app_metadata.to_pybytes() if chunk.app_metadata else None
                self._resume = self._last
                yield chunk.data
        finally:
            client.close()

    def __iter__(self):
        for batch in self.batches():
            if self.as_numpy:
                yield {name: col.to_numpy(zero_copy_only=False)
                       for name, col in zip(batch.schema.names, batch.columns)}
            else:
                yield batch

    def __len__(self) -> int:
        """Batches this rank gets in the epoch from its current state."""
        info = self.info()
        return int(info["ranks"][self.rank]["batches"])

    # -- checkpoints ---------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """What a checkpoint keeps: the token after the last batch seen."""
        token = self._resume
        return {"weir_token": token.decode() if token else None,
                "epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Continues from a checkpoint (same or another world size)."""
        token = state.get("weir_token")
        self.epoch = int(state.get("epoch", self.epoch))
        self.seed = int(state.get("seed", self.seed))
        self._resume = token.encode() if token else None

    def set_epoch(self, epoch: int) -> None:
        """Starts another epoch (another shuffle) from its beginning."""
        self.epoch = int(epoch)
        self._resume = None
        self._last = None

    # -- framework wrappers --------------------------------------------
    def torch(self):
        """This dataset as a ``torch.utils.data.IterableDataset`` of dicts of
        tensors (use ``batch_size=None`` in a DataLoader: batches come whole)."""
        import torch  # noqa: F401  (only when asked for)
        from torch.utils.data import IterableDataset

        outer = self

        class _WeirTorch(IterableDataset):
            def __iter__(self):
                for batch in outer.batches():
                    yield {name: torch.from_numpy(col.to_numpy(zero_copy_only=False,
                                                               writable=True))
                           for name, col in zip(batch.schema.names, batch.columns)}

            def state_dict(self):
                return outer.state_dict()

            def load_state_dict(self, state):
                outer.load_state_dict(state)

        return _WeirTorch()

    def tf(self):
        """This dataset as a ``tf.data.Dataset`` of dicts of tensors with a
        typed ``output_signature`` from the served schema."""
        import tensorflow as tf

        schema = self.info()["schema"]
        signature = {}
        for field in schema:
            t = field.type
            if pa.types.is_integer(t):
                dtype = tf.int64
            elif pa.types.is_floating(t):
                dtype = tf.float32 if t.bit_width <= 32 else tf.float64
            elif pa.types.is_string(t) or pa.types.is_large_string(t) or \
                    pa.types.is_binary(t) or pa.types.is_large_binary(t) or \
                    pa.types.is_string_view(t) or pa.types.is_binary_view(t):
                dtype = tf.string
            elif pa.types.is_boolean(t):
                dtype = tf.bool
            else:
                raise WeirError(f"column {field.name} of type {t} has no tf.data mapping")
            signature[field.name] = tf.TensorSpec(shape=(None,), dtype=dtype)

        def gen():
            for batch in self.batches():
                out = {}
                for name, col in zip(batch.schema.names, batch.columns):
                    spec = signature[name]
                    if spec.dtype == tf.string:
                        out[name] = [v if v is not None else b"" for v in col.to_pylist()]
                    else:
                        out[name] = col.to_numpy(zero_copy_only=False).astype(
                            spec.dtype.as_numpy_dtype)
                yield out

        return tf.data.Dataset.from_generator(gen, output_signature=signature)
