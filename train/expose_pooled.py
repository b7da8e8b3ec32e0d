"""Add the mean-pooled sentence vector to the shipped encoder's outputs, as ``pooled``.

    # training venv (onnx)
    python train/expose_pooled.py [src/gracedesk/analysis/models/minilm/model.int8.onnx]

The fine-tuned graph (``train/export_finetuned.py``) computes the mean of the last layer's token
states under the attention mask and feeds it to the head layer. That vector is what the coach's
move detector and the abuse-target head read (``Encoder.embed``), so it becomes a graph output
too: nothing else in the graph changes and the ``heads`` and ``tokens`` outputs stay bit-identical
(checked below on a few texts). ``export_finetuned.py`` calls :func:`expose_pooled` on every new
export.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "src" / "gracedesk" / "analysis" / "models" / "minilm" / "model.int8.onnx"


def pooled_tensor(graph: object) -> str:
    """The name of the mean-pooling ``Div`` output that the head layer reads."""
    nodes = graph.node  # type: ignore[attr-defined]
    producer = {o: n for n in nodes for o in n.output}
    name = "heads"
    for _ in range(32):
        node = producer.get(name)
        if node is None:
            break
        if node.op_type == "Div":
            return str(node.output[0])
        name = node.input[0]
    raise SystemExit("no mean-pooling Div found behind the 'heads' output")


def expose_pooled(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    g = model.graph
    if any(o.name == "pooled" for o in g.output):
        print(path, "already has a 'pooled' output")
        return
    src = pooled_tensor(g)
    g.node.append(helper.make_node("Identity", [src], ["pooled"], name="pooled_identity"))
    g.output.append(helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", 384]))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def main() -> None:
    import numpy as np
    import onnxruntime as ort

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    ids = np.array([[101, 7592, 2088, 102, 0], [101, 2017, 5506, 999, 102]], np.int64)
    mask = (ids != 0).astype(np.int64)
    before = ort.InferenceSession(str(path)).run(
        ["heads", "tokens"], {"input_ids": ids, "attention_mask": mask}
    )
    expose_pooled(path)
    sess = ort.InferenceSession(str(path))
    heads, tokens, pooled = sess.run(
        ["heads", "tokens", "pooled"], {"input_ids": ids, "attention_mask": mask}
    )
    assert np.array_equal(heads, before[0]) and np.array_equal(tokens, before[1])
    print(
        "pooled",
        pooled.shape,
        "heads and tokens unchanged;",
        f"{path.stat().st_size / 2**20:.1f} MB",
    )


if __name__ == "__main__":
    main()
