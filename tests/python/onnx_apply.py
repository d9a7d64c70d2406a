"""Runs a weir transform.onnx under ONNX Runtime on JSON columns.

usage: onnx_apply.py MODEL INPUTS.json OUTPUTS.json [PROVIDER]

INPUTS.json maps each graph input to a list of values, null for a missing
value (fed as weir's convention: NaN for floats, INT64_MIN for integers,
the empty string for text). OUTPUTS.json maps each graph output to its
values. PROVIDER defaults to CPUExecutionProvider; the script fails if the
session did not get it.
"""

import json
import sys

import numpy as np
import onnxruntime as ort


def feeds(session, columns):
    """Graph inputs from columns of values (lists, None for missing), fed
    as weir's convention: NaN for floats, INT64_MIN for integers, the empty
    string for text."""
    out = {}
    for i in session.get_inputs():
        values = columns[i.name]
        if i.type == "tensor(string)":
            out[i.name] = np.array(["" if v is None else v for v in values], dtype=object)
        elif i.type == "tensor(float)":
            out[i.name] = np.array([np.nan if v is None else v for v in values], dtype=np.float32)
        elif i.type == "tensor(double)":
            out[i.name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        elif i.type == "tensor(int64)":
            out[i.name] = np.array([-(2**63) if v is None else v for v in values], dtype=np.int64)
        else:
            sys.exit(f"input {i.name}: unsupported type {i.type}")
    return out


def main():
    model, inputs_path, outputs_path = sys.argv[1:4]
    provider = sys.argv[4] if len(sys.argv) > 4 else "CPUExecutionProvider"
    session = ort.InferenceSession(model, providers=[provider])
    if session.get_providers()[0] != provider:
        sys.exit(f"ONNX Runtime did not use {provider}: {session.get_providers()}")
    columns = json.load(open(inputs_path))
    names = [o.name for o in session.get_outputs()]
    results = session.run(names, feeds(session, columns))
    out = {n: r.tolist() for n, r in zip(names, results)}
    out["__provider__"] = session.get_providers()[0]
    json.dump(out, open(outputs_path, "w"))


if __name__ == "__main__":
    main()
