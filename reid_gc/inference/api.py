"""FeatureExtractor: features of images from a checkpoint, in Python, as tools/extract.py computes them.

    from reid_gc import FeatureExtractor
    extract = FeatureExtractor("out/market/checkpoint_120.pt", device="cpu")
    feats = extract(["a.jpg", "b.jpg"])          # (2, D) float tensor, L2-normalised as TEST.FEAT_NORM says
    feats = extract(opencv_crops, bgr=True)      # HWC uint8 arrays straight from cv2
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import functional as TF

from ..data.image_dataset import read_image
from ..data.transforms import BatchTransform, build_loader_transform
from ..engine.evaluator import extract_features
from ..engine.testing import build_inference_model
from ..engine.train_step import autocast_context
from ..utils.errors import UserError
from .record import config_for_weights


def load_model(weights, device="cpu", config_file="", opts=()):
    """(cfg, model): the configuration the checkpoint records (overridden by `config_file` / `opts`) and
    the model in eval mode on `device`."""
    device = torch.device(device)
    cfg = config_for_weights(config_file, [*opts, "MODEL.DEVICE", device.type],
                             None if weights is None else os.fspath(weights))
    model = build_inference_model(cfg, 1, device).eval()
    return cfg, model


class FeatureExtractor:
    """Callable: images -> (N, D) float tensor on the CPU.

    Images: a path, a PIL image, an HWC uint8 numpy array (RGB, or BGR with bgr=True), a list of those,
    or a batch tensor (N, 3, H, W), uint8 0..255 or float 0..1 (RGB, or BGR with bgr=True; bgr concerns
    arrays and tensors only: files and PIL images say their own colour order). Images are
    resized to INPUT.SIZE_TEST (PIL's bilinear resize for images, torchvision's antialiased one for
    tensors), normalised with INPUT.PIXEL_MEAN/STD, averaged with their mirror under TEST.FLIP_FEAT and
    L2-normalised under TEST.FEAT_NORM (or as `normalize` says).
    """

    def __init__(self, weights, device="cpu", config_file="", opts=(), batch_size=None, normalize=None):
        self.cfg, self.model = load_model(weights, device, config_file, opts)
        self.device = torch.device(device)
        self.batch_size = int(batch_size or self.cfg.TEST.IMS_PER_BATCH)
        if self.batch_size < 1:
            raise UserError(f"batch_size must be at least 1, got {batch_size!r}")
        self.normalize = self.cfg.TEST.FEAT_NORM == "yes" if normalize is None else bool(normalize)
        self.flip = self.cfg.TEST.FLIP_FEAT == "yes"
        self.size = tuple(self.cfg.INPUT.SIZE_TEST)
        self._resize = build_loader_transform(self.cfg, is_train=False)  # PIL -> uint8 (3, H, W)
        self._transform = BatchTransform(self.cfg, train=False)

    @property
    def feature_dim(self):
        with torch.no_grad():
            return self(torch.zeros(1, 3, *self.size, dtype=torch.uint8)).shape[1]

    def _image(self, item, bgr):
        if isinstance(item, (str, os.PathLike)):
            img = read_image(os.fspath(item))
        elif isinstance(item, Image.Image):
            img = item.convert("RGB")
        elif isinstance(item, np.ndarray):
            if item.dtype != np.uint8 or item.ndim != 3 or item.shape[2] != 3:
                raise UserError(f"a numpy image must be HWC uint8 with 3 channels, got {item.dtype} "
                                f"{tuple(item.shape)}: convert it (cv2 crops are HWC uint8 BGR: pass bgr=True)")
            img = Image.fromarray(np.ascontiguousarray(item[..., ::-1] if bgr else item))
        else:
            raise UserError(f"cannot read an image from a {type(item).__name__}: give paths, PIL images, HWC "
                            "uint8 numpy arrays or an (N, 3, H, W) tensor")
        return self._resize(img)

    def _batch_tensor(self, images, bgr):
        if images.dim() != 4 or images.shape[1] != 3:
            raise UserError(f"a batch tensor must be (N, 3, H, W), got {tuple(images.shape)}")
        x = images if images.dtype == torch.uint8 else images.float() * 255
        if bgr:
            x = x.flip(1)
        if tuple(x.shape[2:]) != self.size:
            x = TF.resize(x.float(), list(self.size), antialias=True)
        return x

    def __call__(self, images, bgr=False):
        if isinstance(images, torch.Tensor):
            batch = self._batch_tensor(images, bgr)
        else:
            items = list(images) if isinstance(images, (list, tuple)) else [images]
            if not items:
                return torch.empty(0, 0)
            batch = None
            tensors = [self._image(item, bgr) for item in items]
        feats = []
        count = batch.shape[0] if batch is not None else len(tensors)
        for start in range(0, count, self.batch_size):
            part = batch[start:start + self.batch_size] if batch is not None else \
                torch.stack(tensors[start:start + self.batch_size])
            feats.append(self._features(part))
        out = torch.cat(feats)
        return F.normalize(out, dim=1) if self.normalize else out

    @torch.inference_mode()
    def _features(self, images):
        x = self._transform(images.to(self.device))
        if self.cfg.MODEL.CHANNELS_LAST == "yes":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast_context(self.device, self.cfg.SOLVER.AMP):
            feats = extract_features(self.model, x, self.flip)
        return feats.float().cpu()
