"""The GPU checks (run by scripts/gpu-check on a machine with an NVIDIA GPU).

1. transform.onnx under ONNX Runtime's CUDAExecutionProvider gives the
   values weir's Rust runtime gives: raw batches come from one `weir serve`
   (no transform), the same rows transformed from another started with
   `--transform` (the runtime `weir transform apply` uses); the ONNX graph
   runs on the raw rows on the GPU and on the CPU provider, and every output
   is compared.
2. `weir serve` batches reach a trainer's GPU: examples/train_torch.py
   trains on cuda from the served transform output; every batch's tensors
   are on the GPU and the loss goes down.

usage: gpu_check.py RAW_URL TRANSFORMED_URL MODEL REPORT.json
"""

import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
import pyarrow as pa

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
sys.path.insert(0, HERE)
import onnx_apply  # noqa: E402
from weir_client import Dataset  # noqa: E402


def feeds_of(session, batch):
    """The graph's inputs from a served raw batch (text as str)."""
    columns = {}
    for name in batch.schema.names:
        values = batch.column(batch.schema.get_field_index(name)).to_pylist()
        columns[name] = [v.decode() if isinstance(v, bytes) else v for v in values]
    return onnx_apply.feeds(session, columns)


def onnx_check(raw_url, tx_url, model):
    if os.environ.get("WEIR_GPU_CHECK_PROVIDER") is None:
        import torch  # noqa: F401  (loads the CUDA runtime, cuBLAS and cuDNN ONNX Runtime needs)

        if hasattr(ort, "preload_dlls"):
            ort.preload_dlls()
    # WEIR_GPU_CHECK_PROVIDER=CPUExecutionProvider dry-runs the script
    # without a GPU (the report then says which provider ran).
    provider = os.environ.get("WEIR_GPU_CHECK_PROVIDER", "CUDAExecutionProvider")
    cuda = ort.InferenceSession(model, providers=[provider])
    if cuda.get_providers()[0] != provider:
        raise SystemExit(f"ONNX Runtime did not use {provider}: {cuda.get_providers()}")
    cpu = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    names = [o.name for o in cuda.get_outputs()]
    vocab_sizes = {"payment_type_xf": 6, "company_xf": 53}
    report = {"provider": cuda.get_providers()[0], "rows": 0, "outputs": len(names),
              "max_abs_float_diff_vs_weir": 0.0, "int_mismatches": 0, "oov_first_bucket": 0,
              "cuda_vs_cpu_max_abs_diff": 0.0}
    for split in ["train", "eval"]:
        raw = Dataset(raw_url, "raw", split, batch_size=4096, shuffle=False)
        weir = Dataset(tx_url, "raw", split, batch_size=4096, shuffle=False)
        for rb, wb in zip(raw, weir):
            assert rb.num_rows == wb.num_rows
            feeds = feeds_of(cuda, rb)
            got = dict(zip(names, cuda.run(names, feeds)))
            ref = dict(zip(names, cpu.run(names, feeds)))
            for n in names:
                g = np.asarray(got[n]).reshape(-1)
                c = np.asarray(ref[n]).reshape(-1)
                w = wb.column(wb.schema.get_field_index(n)).to_numpy(zero_copy_only=False)
                if np.issubdtype(g.dtype, np.floating):
                    report["cuda_vs_cpu_max_abs_diff"] = max(
                        report["cuda_vs_cpu_max_abs_diff"], float(np.max(np.abs(g - c), initial=0)))
                    d = float(np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)), initial=0))
                    report["max_abs_float_diff_vs_weir"] = max(report["max_abs_float_diff_vs_weir"], d)
                else:
                    if not np.array_equal(g, c):
                        report["int_mismatches"] += int(np.sum(g != c))
                    size = vocab_sizes.get(n)
                    for gv, wv in zip(g.tolist(), w.tolist()):
                        if gv == wv:
                            continue
                        # An unseen token: weir hashes it into the OOV
                        # buckets, the ONNX graph gives the first one.
                        if size is not None and wv >= size and gv == size:
                            report["oov_first_bucket"] += 1
                        else:
                            report["int_mismatches"] += 1
            report["rows"] += rb.num_rows
    ok = report["int_mismatches"] == 0 and report["max_abs_float_diff_vs_weir"] <= 1e-6
    report["ok"] = ok
    return report


def trainer_check(tx_url):
    import torch
    import train_torch

    device = os.environ.get("WEIR_GPU_CHECK_DEVICE", "cuda")
    summary = train_torch.main([
        "--url", tx_url, "--dataset", "raw", "--split", "train", "--epochs", "3",
        "--batch-size", "256", "--device", device])
    losses = [e["loss"] for e in summary["epochs"]]
    devices = {d for e in summary["epochs"] for d in e["tensor_devices"]}
    # Throughput of served batches into GPU memory alone (no model).
    ds = Dataset(tx_url, "raw", "train", batch_size=4096, seed=1)
    rows, started = 0, time.time()
    for batch in ds.torch():
        t = torch.stack([v.to(device, non_blocking=True).float() for v in batch.values()])
        rows += t.shape[1]
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.time() - started
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else None
    return {"gpu": gpu, "losses": losses,
            "tensor_devices": sorted(devices), "rows_per_epoch": summary["epochs"][0]["rows"],
            "to_gpu_rows_per_s": rows / max(seconds, 1e-9),
            "ok": devices == {device} and losses[-1] < losses[0]}


def main():
    raw_url, tx_url, model, report_path = sys.argv[1:5]
    report = {"onnx_cuda": onnx_check(raw_url, tx_url, model)}
    print(json.dumps(report, indent=1), flush=True)
    report["serve_to_gpu"] = trainer_check(tx_url)
    report["ok"] = report["onnx_cuda"]["ok"] and report["serve_to_gpu"]["ok"]
    with open(report_path, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
