"""The retrieval model as a file another program runs: ONNX or TorchScript, each checked against torch.

Inputs (`--input`): 'uint8' RGB images (normalisation inside); 'float' float32 RGB normalised with the
ImageNet mean/std, as trackers (BoxMOT, fast-reid based trackers) feed their crops; 'float255' float32 RGB
on the 0..255 scale (normalisation inside; DeepStream with net-scale-factor 1 and offsets 0). The batch
axis is dynamic, height and width are INPUT.SIZE_TEST. The output is the retrieval feature as the
evaluation computes it: TEST.NECK_FEAT, averaged with the mirror image's under TEST.FLIP_FEAT,
L2-normalised under TEST.FEAT_NORM.
"""
import logging
import os

import numpy as np
import torch
import torch.nn.functional as F

from ..data.transforms import pixel_statistics
from ..utils.atomic import atomic_path
from ..utils.errors import UserError

logger = logging.getLogger(__name__)

INPUTS = ("uint8", "float", "float255")
FORMATS = ("onnx", "torchscript", "fastreid")
EXTENSIONS = {"onnx": ".onnx", "torchscript": ".torchscript", "fastreid": ".pth"}
# The trackers' convention for float crops (torchvision's ImageNet statistics, RGB, 0..1 scale).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def float_input_affine(cfg):
    """(scale, shift), each (1, 3, 1, 1): our normalised input = ImageNet-normalised input * scale + shift,
    or None when the model was trained with the ImageNet statistics (then the input is used as it is)."""
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (cfg.INPUT.PIXEL_MEAN, cfg.INPUT.PIXEL_STD))
    i_mean, i_std = (torch.tensor(v).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    if torch.equal(mean, i_mean) and torch.equal(std, i_std):
        return None
    # x01 = z * i_std + i_mean; ours = (x01 - mean) / std
    return i_std / std, (i_mean - mean) / std


class RetrievalModel(torch.nn.Module):
    """Images (N, 3, H, W) at INPUT.SIZE_TEST, RGB, as `input_kind` says -> the retrieval features."""

    def __init__(self, model, cfg, input_kind="uint8"):
        super().__init__()
        if input_kind not in INPUTS:
            raise UserError(f"--input {input_kind} is not known: use one of {', '.join(INPUTS)}")
        self.model = model.eval()
        self.input_kind = input_kind
        self.flip = cfg.TEST.FLIP_FEAT == "yes"
        self.feat_norm = cfg.TEST.FEAT_NORM == "yes"
        mean, std = pixel_statistics(cfg)  # 0..255 scale
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        affine = float_input_affine(cfg) if input_kind == "float" else None
        self.affine = affine is not None
        scale, shift = affine if affine is not None else (torch.ones(1, 3, 1, 1), torch.zeros(1, 3, 1, 1))
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)

    def normalised(self, images):
        if self.input_kind == "float":
            return images * self.scale + self.shift if self.affine else images
        return (images.float() - self.mean) / self.std

    def forward(self, images):
        x = self.normalised(images)
        feats = self.model(x)
        if self.flip:  # as the evaluator: mean of the image's and its mirror's features, then normalised
            feats = (feats + self.model(torch.flip(x, dims=[3]))) / 2
        return F.normalize(feats, dim=1) if self.feat_norm else feats


def example_input(cfg, input_kind, n, seed=0):
    """A random batch of `n` images in the form `input_kind` takes (uint8 pixels behind every kind)."""
    h, w = cfg.INPUT.SIZE_TEST
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, generator=g)
    if input_kind == "uint8":
        return pixels
    if input_kind == "float255":
        return pixels.float()
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    return (pixels.float() / 255 - mean) / std


def default_output(cfg, fmt, input_kind="float"):
    """<arch>_<dataset>[_uint8|_float255].<ext>: BoxMOT reads the architecture from the file name."""
    dataset = "_".join(cfg.DATASETS.NAMES)
    suffix = "" if input_kind == "float" or fmt == "fastreid" else f"_{input_kind}"
    return f"{cfg.MODEL.NAME}_{dataset}{suffix}{EXTENSIONS[fmt]}"


def _require_onnx():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise UserError(f"ONNX export needs the onnx extra ({e.name} is missing): pip install -e '.[onnx]'") from None


def _check(diff, atol, path):
    if not diff <= atol:
        raise UserError(f"the exported model differs from torch by {diff:.2e} (> {atol:g}); nothing was "
                        f"written to {path}")


def export_onnx(cfg, model, path, input_kind="float", atol=1e-4):
    """Write `path` (atomically) and return the largest |onnxruntime - torch| on a random batch."""
    _require_onnx()
    import onnxruntime as ort

    net = RetrievalModel(model.cpu(), cfg, input_kind).eval()
    batch = torch.export.Dim("batch", min=1)
    with atomic_path(path) as tmp, torch.no_grad():
        program = torch.onnx.export(net, (example_input(cfg, input_kind, 2),), dynamo=True, external_data=False,
                                    input_names=["images"], output_names=["features"],
                                    dynamic_shapes={"images": {0: batch}})
        program.save(tmp)
        check = example_input(cfg, input_kind, 3, seed=1)  # another batch size: the axis is dynamic
        session = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"])
        got = session.run(["features"], {"images": check.numpy()})[0]
        diff = float(np.abs(got - net(check).numpy()).max())
        _check(diff, atol, path)
    _log_written(cfg, path, input_kind, diff)
    return diff


def export_torchscript(cfg, model, path, input_kind="float", atol=1e-4):
    """A traced TorchScript file (torch.jit.load runs it without reid-gc); returns |loaded - torch|."""
    net = RetrievalModel(model.cpu(), cfg, input_kind).eval()
    with atomic_path(path) as tmp, torch.no_grad():
        traced = torch.jit.trace(net, (example_input(cfg, input_kind, 2),), check_trace=False)
        torch.jit.save(traced, tmp)
        check = example_input(cfg, input_kind, 3, seed=1)
        diff = float((torch.jit.load(tmp)(check) - net(check)).abs().max())
        _check(diff, atol, path)
    _log_written(cfg, path, input_kind, diff)
    return diff


def deepstream_values(cfg):
    """(offsets, net-scale-factor) of DeepStream's y = net-scale-factor * (x - offsets) for a model with
    float input: offsets are 255 x ImageNet mean; one factor for three channels, so 1 / (255 x mean std),
    exact only when the three stds are equal."""
    offsets = [round(255 * m, 3) for m in IMAGENET_MEAN]
    return offsets, 1.0 / (255 * float(np.mean(IMAGENET_STD)))


def _log_written(cfg, path, input_kind, diff):
    h, w = cfg.INPUT.SIZE_TEST
    what = {"uint8": "uint8 RGB images 0..255", "float255": "float32 RGB images 0..255",
            "float": "float32 RGB images normalised with the ImageNet mean/std"}[input_kind]
    logger.info("exported %s: input %s (N, 3, %d, %d), output features (flip averaging %s, L2-normalised %s); "
                "max |exported - torch| = %.2e", os.path.abspath(path), what, h, w, cfg.TEST.FLIP_FEAT,
                cfg.TEST.FEAT_NORM, diff)
