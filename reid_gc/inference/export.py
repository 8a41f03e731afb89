"""export_onnx(cfg, model, path): the retrieval model as ONNX, checked against torch with onnxruntime."""
import logging
import os

import numpy as np
import torch
import torch.nn.functional as F

from ..data.transforms import pixel_statistics
from ..utils.atomic import atomic_path
from ..utils.errors import UserError

logger = logging.getLogger(__name__)


class RetrievalModel(torch.nn.Module):
    """uint8 RGB images (N, 3, H, W) at INPUT.SIZE_TEST -> the retrieval feature (L2-normalised if asked):
    normalisation included, so a deployment only decodes and resizes."""

    def __init__(self, model, cfg):
        super().__init__()
        self.model = model.eval()
        self.feat_norm = cfg.TEST.FEAT_NORM == "yes"
        mean, std = pixel_statistics(cfg)
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, images):
        feats = self.model((images.float() - self.mean) / self.std)
        return F.normalize(feats, dim=1) if self.feat_norm else feats


def _require_onnx():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise UserError(f"ONNX export needs the onnx extra ({e.name} is missing): pip install -e '.[onnx]'") from None


def export_onnx(cfg, model, path, atol=1e-4):
    """Write `path` (atomically) and return the largest |onnxruntime - torch| on a random batch."""
    _require_onnx()
    import onnxruntime as ort

    net = RetrievalModel(model.cpu(), cfg).eval()
    h, w = cfg.INPUT.SIZE_TEST
    example = torch.randint(0, 256, (2, 3, h, w), dtype=torch.uint8)
    batch = torch.export.Dim("batch", min=1)
    with atomic_path(path) as tmp, torch.no_grad():
        program = torch.onnx.export(net, (example,), dynamo=True, external_data=False,
                                    input_names=["images"], output_names=["features"],
                                    dynamic_shapes={"images": {0: batch}})
        program.save(tmp)
        check = torch.randint(0, 256, (3, 3, h, w), dtype=torch.uint8)  # another batch size: the axis is dynamic
        expected = net(check).numpy()
        session = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"])
        got = session.run(["features"], {"images": check.numpy()})[0]
        diff = float(np.abs(got - expected).max())
        if not diff <= atol:
            raise UserError(f"the exported model differs from torch by {diff:.2e} (> {atol:g}); nothing was "
                            f"written to {path}")
    logger.info("exported %s: input uint8 RGB images (N, 3, %d, %d), output features; "
                "max |onnxruntime - torch| = %.2e",
                os.path.abspath(path), h, w, diff)
    return diff
