"""Image transforms of the strong baseline, split where it is fastest.

Loader workers only decode and resize (PIL), handing over uint8 tensors: four times less to copy
between processes and to the GPU than float images. The rest runs on whole batches on the training
device: horizontal flip (INPUT.PROB), zero padding (INPUT.PADDING) and a random crop back to size,
normalisation, and random erasing (INPUT.RE_PROB; reid-strong-baseline's law: area 0.02-0.4 of the image,
aspect ratio uniform in [0.3, 1/0.3], up to 100 attempts; filled with 0 after normalisation, i.e. with
PIXEL_MEAN). The random parameters are drawn on the CPU
from a generator the caller seeds, so a batch's augmentation is the same on any device and with any
number of workers.
"""
import torch
import torch.nn.functional as F
import torchvision.transforms as T

ERASE_AREA = (0.02, 0.4)  # fraction of the image (reid-strong-baseline's sl, sh)
ERASE_R1 = 0.3  # aspect ratio h / w uniform in [r1, 1 / r1] (its r1)
ERASE_ATTEMPTS = 100


def build_loader_transform(cfg, is_train):
    """PIL image -> uint8 tensor (3, H, W) at INPUT.SIZE_TRAIN or INPUT.SIZE_TEST."""
    size = list(cfg.INPUT.SIZE_TRAIN if is_train else cfg.INPUT.SIZE_TEST)
    return T.Compose([T.Resize(size), T.PILToTensor()])


def draw_augmentation(n, height, width, flip_prob, padding, erase_prob, generator):
    """Per-image random parameters (CPU tensors): flip flags, crop offsets into the padded image, and
    erasing rectangles (y0, x0, h, w; h = 0 where nothing is erased).

    Erasing follows reid-strong-baseline's RandomErasing: up to 100 attempts at a rectangle of area
    fraction uniform in [0.02, 0.4] and aspect ratio h / w uniform in [0.3, 1 / 0.3], sides rounded to
    whole pixels; the first attempt strictly smaller than the image in both sides is placed uniformly
    (every top-left corner that keeps it inside); no attempt fitting means no erasing."""
    g = generator
    flip = torch.rand(n, generator=g) < flip_prob
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=g)
    area = height * width * torch.empty(n, ERASE_ATTEMPTS, dtype=torch.float64).uniform_(*ERASE_AREA, generator=g)
    ratio = torch.empty(n, ERASE_ATTEMPTS, dtype=torch.float64).uniform_(ERASE_R1, 1 / ERASE_R1, generator=g)
    h = torch.sqrt(area * ratio).round().long()
    w = torch.sqrt(area / ratio).round().long()
    fits = (h < height) & (w < width)
    first = fits.long().argmax(dim=1, keepdim=True)  # the first attempt that fits
    h, w = h.gather(1, first).squeeze(1), w.gather(1, first).squeeze(1)
    erase = (torch.rand(n, generator=g) < erase_prob) & fits.any(dim=1)
    y0 = (torch.rand(n, generator=g) * (height - h + 1)).long()
    x0 = (torch.rand(n, generator=g) * (width - w + 1)).long()
    boxes = torch.stack([y0, x0, h * erase, w * erase], dim=1)
    return flip, offsets, boxes


def pixel_statistics(cfg):
    """INPUT.PIXEL_MEAN and PIXEL_STD on the 0..255 scale of uint8 images, shaped (1, 3, 1, 1)."""
    return (torch.tensor(cfg.INPUT.PIXEL_MEAN).view(1, 3, 1, 1) * 255,
            torch.tensor(cfg.INPUT.PIXEL_STD).view(1, 3, 1, 1) * 255)


class BatchTransform:
    """uint8 images (N, 3, H, W) on any device -> normalised float32, augmented when `train`."""

    def __init__(self, cfg, train):
        self.train = train
        self.mean, self.std = pixel_statistics(cfg)
        self.flip_prob, self.padding, self.erase_prob = cfg.INPUT.PROB, cfg.INPUT.PADDING, cfg.INPUT.RE_PROB

    def normalize(self, x):
        if self.mean.device != x.device:  # moved once, not copied to the device for every batch
            self.mean, self.std = self.mean.to(x.device), self.std.to(x.device)
        return (x.float() - self.mean) / self.std

    def __call__(self, images, generator=None):
        if not self.train:
            return self.normalize(images)
        n, _, height, width = images.shape
        flip, offsets, boxes = draw_augmentation(n, height, width, self.flip_prob, self.padding, self.erase_prob,
                                                 generator)
        device = images.device
        flip, offsets, boxes = flip.to(device), offsets.to(device), boxes.to(device)
        x = torch.where(flip.view(n, 1, 1, 1), images.flip(3), images)
        if self.padding:
            p = self.padding
            x = F.pad(x, (p, p, p, p))
            rows = (offsets[:, 0:1] + torch.arange(height, device=device)).view(n, 1, height, 1)
            cols = (offsets[:, 1:2] + torch.arange(width, device=device)).view(n, 1, 1, width)
            x = x.gather(2, rows.expand(n, 3, height, x.shape[3])).gather(3, cols.expand(n, 3, height, width))
        x = self.normalize(x)
        ys = torch.arange(height, device=device).view(1, height, 1)
        xs = torch.arange(width, device=device).view(1, 1, width)
        y0, x0, h, w = (boxes[:, k].view(n, 1, 1) for k in range(4))
        erased = (ys >= y0) & (ys < y0 + h) & (xs >= x0) & (xs < x0 + w)
        return x.masked_fill(erased.unsqueeze(1), 0.0)
