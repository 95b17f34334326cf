"""ONNX models, run with onnxruntime on CPU.

ONNX files hold a graph of standard operators and no code, so they never need an admin's trust. A tensor may keep
its bytes in an "external data" file named by a path in the model, which onnxruntime would read from the server's
disk (``../../etc/passwd`` or an absolute path would leak any readable file into the weights); uploads are single
files, so any external reference is refused before onnxruntime sees the model. One intra-op
thread per session: Ray Serve scales with replicas, and several sessions fighting over all cores serve fewer
requests than one thread each.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from serving.loaders.base import LoadedModel, LoaderError, numpy_dtype_of, tensor_spec

_ORT_DATATYPES = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(float16)": "FP16",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(bool)": "BOOL",
    "tensor(string)": "BYTES",
}


def _spec(node: Any) -> dict[str, Any]:
    """A signature entry from an onnxruntime NodeArg; symbolic or unknown dimensions become -1."""
    shape = node.shape if isinstance(node.shape, list) else []
    dims = [dim if isinstance(dim, int) and dim >= 0 else -1 for dim in shape]
    if not node.type.startswith("tensor("):
        # Sequences and maps (skl2onnx's ZipMap probabilities) have no OIP datatype; they are returned as lists.
        return tensor_spec(node.name, "BYTES", [-1])
    return tensor_spec(node.name, _ORT_DATATYPES.get(node.type, "BYTES"), dims)


def _to_output(value: Any) -> Any:
    return value if isinstance(value, np.ndarray) else list(value)


class OnnxModel(LoadedModel):
    framework = "onnx"

    def __init__(self, session: Any, runtime_version: str) -> None:
        self.session = session
        self.framework_version = runtime_version
        self.inputs = session.get_inputs()
        self.output_names = [output.name for output in session.get_outputs()]
        self.signature = {
            "inputs": [_spec(node) for node in self.inputs],
            "outputs": [_spec(node) for node in session.get_outputs()],
        }
        self._input_dtypes = {spec["name"]: spec["datatype"] for spec in self.signature["inputs"]}

    def _feed(self, name: str, value: Any) -> np.ndarray:
        """Cast to the type the graph declares: onnxruntime rejects float64 rows for a float input."""
        dtype = numpy_dtype_of(self._input_dtypes.get(name, "BYTES"))
        return np.asarray(value, dtype=dtype if dtype != np.dtype(object) else None)

    def predict(self, inputs: np.ndarray | dict[str, np.ndarray]) -> Any:
        if isinstance(inputs, dict):
            unknown = sorted(set(inputs) - set(self._input_dtypes))
            if unknown:
                raise ValueError(f"unknown input(s) {unknown}; this model takes {sorted(self._input_dtypes)}")
            feed = {name: self._feed(name, value) for name, value in inputs.items()}
            results = self.session.run(None, feed)
            return {name: _to_output(value) for name, value in zip(self.output_names, results, strict=True)}
        if len(self.inputs) != 1:
            names = ", ".join(node.name for node in self.inputs)
            raise ValueError(f"this model takes {len(self.inputs)} inputs ({names}); pass a dict of arrays")
        name = self.inputs[0].name
        (first,) = self.session.run(self.output_names[:1], {name: self._feed(name, inputs)})
        return _to_output(first)

    def details(self) -> dict[str, Any]:
        meta = self.session.get_modelmeta()
        return {
            "producer": meta.producer_name,
            "graph_name": meta.graph_name,
            "domain": meta.domain,
            "model_version": meta.version,
            "custom_metadata": dict(meta.custom_metadata_map),
        }


def refuse_external_data(path: Path) -> None:
    """Refuse a model whose tensors (initializers, attributes, subgraphs) point at files outside it."""
    try:
        import onnx
        from onnx.external_data_helper import _get_all_tensors
    except ImportError:
        return  # onnxruntime alone refuses external paths outside the model's folder; onnx is in requirements.txt
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError and friends for files that are not ONNX
        raise LoaderError(f"not a valid ONNX model: {type(exc).__name__}: {exc}") from exc
    locations = sorted(
        {
            entry.value
            for tensor in _get_all_tensors(model)
            if tensor.data_location == onnx.TensorProto.EXTERNAL
            for entry in tensor.external_data
            if entry.key == "location"
        }
    )
    if locations:
        raise LoaderError(
            f"this ONNX model keeps tensor bytes in external data files ({', '.join(locations[:5])}); upload one "
            "self-contained .onnx file (onnx.save(model, path, save_as_external_data=False))"
        )


def load(path: Path, *, trusted: bool, work_dir: Path, format_name: str, options: Mapping[str, Any]) -> LoadedModel:
    refuse_external_data(path)
    import onnxruntime

    session_options = onnxruntime.SessionOptions()
    session_options.intra_op_num_threads = int(options.get("intra_op_num_threads", 1))
    session_options.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(
            str(path), sess_options=session_options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own InvalidProtobuf / Fail / InvalidGraph classes
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LoaderError(f"not a valid ONNX model: {message}") from exc
    return OnnxModel(session, onnxruntime.__version__)
