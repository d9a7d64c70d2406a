"""A tiny PyTorch training loop fed by `weir serve`.

Trains a logistic regression on the TFX taxi transform output (features
`*_xf`, label `tips_xf`), streaming batches over Arrow Flight with
weir_client. Under torchrun each process is one rank (RANK/WORLD_SIZE);
the epochs are shuffled the same way whatever the world size, and a
checkpoint (--checkpoint) holds the data stream's state next to the
model's, so a restarted job continues exactly after the last batch.

    weir serve --root out/ &            # a transform output under out/
    python examples/train_torch.py --url grpc://127.0.0.1:50051 \
        --dataset transform --epochs 2 --device cuda
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from weir_client import Dataset  # noqa: E402

LABEL = "tips_xf"


def features(batch, device):
    """The float features, vocabulary/bucket ids as floats, and the label."""
    cols = [v.to(device, non_blocking=True).float().reshape(-1, 1)
            for k, v in sorted(batch.items()) if k != LABEL]
    return torch.cat(cols, dim=1), batch[LABEL].to(device, non_blocking=True).float()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="grpc://127.0.0.1:50051")
    p.add_argument("--dataset", default="transform")
    p.add_argument("--split", default="train")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--checkpoint", help="save model and data state here after each epoch")
    p.add_argument("--token", default=None, help="bearer token (or WEIR_SERVE_TOKEN)")
    p.add_argument("--report", help="write a JSON summary here")
    a = p.parse_args(argv)

    torch.manual_seed(a.seed)
    data = Dataset(a.url, a.dataset, a.split, batch_size=a.batch_size, seed=a.seed,
                   token=a.token)
    model, opt = None, None
    summary = {"device": a.device, "epochs": []}
    for epoch in range(a.epochs):
        data.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(data.torch(), batch_size=None)
        total, rows, started = 0.0, 0, time.time()
        devices = set()
        for batch in loader:
            x, y = features(batch, a.device)
            devices.add(x.device.type)
            if len(y) < 2:
                continue  # batch normalization needs two rows to train on
            if model is None:
                # Batch normalization first: bucket and vocabulary ids and
                # z-scores live on very different scales.
                model = torch.nn.Sequential(
                    torch.nn.BatchNorm1d(x.shape[1]), torch.nn.Linear(x.shape[1], 1)
                ).to(a.device)
                opt = torch.optim.Adam(model.parameters(), lr=0.05)
            logits = model(x).squeeze(1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(y)
            rows += len(y)
        if a.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.time() - started
        e = {"epoch": epoch, "rows": rows, "loss": total / max(rows, 1),
             "seconds": seconds, "rows_per_s": rows / max(seconds, 1e-9),
             "tensor_devices": sorted(devices)}
        summary["epochs"].append(e)
        print(f"epoch {epoch}: {rows} rows, loss {e['loss']:.4f}, "
              f"{e['rows_per_s']:.0f} rows/s on {sorted(devices)}", flush=True)
        if a.checkpoint:
            torch.save({"model": model.state_dict(), "data": data.state_dict()}, a.checkpoint)
    if a.report:
        with open(a.report, "w") as f:
            json.dump(summary, f, indent=1)
    return summary


if __name__ == "__main__":
    main()
