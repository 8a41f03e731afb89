"""Our ONNX export through BoxMOT's own ReID backend (skipped without the 'track' extra)."""
import os

import numpy as np
import pytest
import torch
from PIL import Image
from run_helpers import run_tool

from reid_gc import FeatureExtractor

pytest.importorskip("boxmot")  # the 'track' extra


def test_boxmot_onnx_backend_gives_our_features(trained, tmp_path):
    from boxmot.reid.backends.onnx_backend import ONNXBackend

    r = run_tool("export.py", "--weights", trained.weights, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    path = tmp_path / "resnet18_synthetic.onnx"  # the default name: BoxMOT finds 'resnet18' in it
    # crops already at the model's size (64 x 32), so BoxMOT's cv2 resize and our PIL resize are both copies
    crops = [np.asarray(Image.open(q[0]).convert("RGB").resize((32, 64), Image.Resampling.BILINEAR))
             for q in trained.dataset.query[:5]]
    frame = np.zeros((80, 40 * len(crops), 3), dtype=np.uint8)
    boxes = []
    for i, crop in enumerate(crops):
        frame[8:72, 40 * i + 4:40 * i + 36] = crop[..., ::-1]  # a BGR video frame, as trackers get it
        boxes.append([40 * i + 4, 8, 40 * i + 36, 72])
    backend = ONNXBackend(weights=path, device=torch.device("cpu"), half=False)
    assert tuple(backend.input_shape) == (64, 32)
    got = backend.get_features(np.array(boxes, dtype=np.float32), frame)
    expected = FeatureExtractor(trained.weights)(crops)
    assert got.shape == tuple(expected.shape)
    assert np.abs(got - expected.numpy()).max() < 1e-4
    assert os.path.basename(str(backend.weights)) == "resnet18_synthetic.onnx" and backend.model_name == "resnet18"
