import math
import random

import pytest
import torch
from PIL import Image

from reid_gc.config import load_config
from reid_gc.data.transforms import BatchTransform, build_loader_transform, draw_augmentation


def cfg_with(*opts):
    return load_config("", ["INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[48, 24]", *opts])


def gradient_batch(n=6, h=64, w=32):
    y = torch.arange(h).view(1, 1, h, 1) * 3
    x = torch.arange(w).view(1, 1, 1, w) * 7
    c = torch.arange(3).view(1, 3, 1, 1) * 50
    return ((y + x + c + torch.arange(n).view(n, 1, 1, 1) * 11) % 256).to(torch.uint8).expand(n, 3, h, w).clone()


def test_loader_transform_resizes_to_uint8():
    cfg = cfg_with()
    img = Image.new("RGB", (50, 100), (124, 116, 104))
    for is_train, size in ((True, (64, 32)), (False, (48, 24))):
        t = build_loader_transform(cfg, is_train)(img)
        assert t.shape == (3, *size) and t.dtype == torch.uint8
        assert t[:, 5, 5].tolist() == [124, 116, 104]


def test_normalisation_by_hand():
    cfg = cfg_with()
    x = torch.tensor([124, 116, 104], dtype=torch.uint8).view(1, 3, 1, 1)
    out = BatchTransform(cfg, train=False)(x)
    mean, std = torch.tensor(cfg.INPUT.PIXEL_MEAN), torch.tensor(cfg.INPUT.PIXEL_STD)
    assert torch.allclose(out.view(3), (torch.tensor([124, 116, 104]) / 255 - mean) / std, atol=1e-6)


def reference(images, flip, offsets, boxes, pad, mean, std):
    """One image at a time with plain slicing: flip, zero-pad, crop, normalise, erase."""
    out = []
    for img, f, (oy, ox), (y0, x0, h, w) in zip(images, flip, offsets.tolist(), boxes.tolist()):
        img = img.flip(2) if f else img
        padded = torch.zeros(3, img.shape[1] + 2 * pad, img.shape[2] + 2 * pad, dtype=img.dtype)
        padded[:, pad:pad + img.shape[1], pad:pad + img.shape[2]] = img
        crop = padded[:, oy:oy + img.shape[1], ox:ox + img.shape[2]].float()
        crop = (crop / 255 - mean.view(3, 1, 1)) / std.view(3, 1, 1)
        crop[:, y0:y0 + h, x0:x0 + w] = 0
        out.append(crop)
    return torch.stack(out)


@pytest.mark.parametrize("opts", [[], ["INPUT.PROB", "1.0"], ["INPUT.PADDING", "0"], ["INPUT.RE_PROB", "1.0"]])
def test_batch_augmentation_equals_a_per_image_reference(opts):
    cfg = cfg_with("INPUT.PADDING", "4", *opts)
    images = gradient_batch()
    out = BatchTransform(cfg, train=True)(images, torch.Generator().manual_seed(3))
    flip, offsets, boxes = draw_augmentation(6, 64, 32, cfg.INPUT.PROB, cfg.INPUT.PADDING, cfg.INPUT.RE_PROB,
                                             torch.Generator().manual_seed(3))
    mean, std = torch.tensor(cfg.INPUT.PIXEL_MEAN), torch.tensor(cfg.INPUT.PIXEL_STD)
    expected = reference(images, flip, offsets, boxes, cfg.INPUT.PADDING, mean, std)
    assert out.shape == (6, 3, 64, 32) and out.dtype == torch.float32
    assert torch.allclose(out, expected, atol=1e-5)


def test_no_augmentation_equals_normalisation_and_flip_mirrors():
    images = gradient_batch()
    plain = cfg_with("INPUT.PROB", "0.0", "INPUT.PADDING", "0", "INPUT.RE_PROB", "0.0")
    normalized = BatchTransform(plain, train=False)(images)
    assert torch.equal(BatchTransform(plain, train=True)(images, torch.Generator()), normalized)
    flipped = cfg_with("INPUT.PROB", "1.0", "INPUT.PADDING", "0", "INPUT.RE_PROB", "0.0")
    assert torch.equal(BatchTransform(flipped, train=True)(images, torch.Generator()), normalized.flip(3))


def test_crop_offsets_cover_the_padding():
    _, offsets, _ = draw_augmentation(2000, 64, 32, 0.5, 4, 0.0, torch.Generator().manual_seed(0))
    assert offsets.min() == 0 and offsets.max() == 8  # 2 * padding + 1 positions


def reference_erasing_boxes(n, height, width, seed):
    """reid-strong-baseline's RandomErasing rule, one image at a time with Python's random (probability 1):
    up to 100 attempts; area fraction U(0.02, 0.4), aspect ratio U(0.3, 1/0.3); h = round(sqrt(area * r)),
    w = round(sqrt(area / r)); the first attempt with h < height and w < width is placed with its top-left
    corner uniform over every position that keeps it inside. Returns (h, w) per image, (0, 0) if none fit."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        box = (0, 0)
        for _attempt in range(100):
            area = rnd.uniform(0.02, 0.4) * height * width
            r = rnd.uniform(0.3, 1 / 0.3)
            h, w = int(round(math.sqrt(area * r))), int(round(math.sqrt(area / r)))
            if h < height and w < width:
                box = (h, w)
                break
        out.append(box)
    return torch.tensor(out)


def test_random_erasing_follows_the_strong_baselines_law_at_256x128():
    n, h, w = 20000, 256, 128
    flip, _, boxes = draw_augmentation(n, h, w, 0.5, 0, 1.0, torch.Generator().manual_seed(1))
    assert 0.48 < flip.float().mean() < 0.52  # PROB
    y0, x0, bh, bw = boxes.T
    assert (bh > 0).all()  # RE_PROB 1 and 100 attempts: every image is erased at this size
    ref = reference_erasing_boxes(n, h, w, seed=2)
    tall, ref_tall = (bh > bw).float().mean().item(), (ref[:, 0] > ref[:, 1]).float().mean().item()
    # uniform aspect ratios on [0.3, 3.33]: about 81% of the rectangles are taller than wide
    # (a log-uniform law would give about 60%)
    assert 0.79 < tall < 0.83 and abs(tall - ref_tall) < 0.015
    area, ref_area = (bh * bw).double() / (h * w), (ref[:, 0] * ref[:, 1]).double() / (h * w)
    assert abs(area.mean() - ref_area.mean()) < 0.005
    ratio, ref_ratio = bh.double() / bw, ref[:, 0].double() / ref[:, 1]
    assert abs(ratio.mean() - ref_ratio.mean()) < 0.03
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):  # the whole aspect-ratio distribution, not just its mean
        assert abs(ratio.quantile(q) - ref_ratio.quantile(q)) < 0.06
    # tight bounds: some area in [0.02, 0.4] and ratio in [0.3, 3.33] rounds to each (h, w)
    hf, wf = bh.double(), bw.double()
    assert ((hf - 0.5) * (wf - 0.5) <= 0.4 * h * w).all() and ((hf + 0.5) * (wf + 0.5) >= 0.02 * h * w).all()
    assert ((hf - 0.5) / (wf + 0.5) <= 1 / 0.3).all() and ((hf + 0.5) / (wf - 0.5) >= 0.3).all()
    assert ratio.min() < 0.33 and ratio.max() > 3.1  # and both ends of the law are reached
    assert (bh < h).all() and (bw < w).all()
    assert (y0 >= 0).all() and (x0 >= 0).all() and (y0 + bh <= h).all() and (x0 + bw <= w).all()


def test_random_erasing_placement_is_uniform_over_every_position():
    # 40x20 images: for each drawn size every top-left corner in [0, H - h] x [0, W - w] is possible
    n, h, w = 20000, 40, 20
    _, _, boxes = draw_augmentation(n, h, w, 0.0, 0, 1.0, torch.Generator().manual_seed(5))
    y0, x0, bh, bw = boxes.T
    # the relative position y0 / (H - h) of a uniform integer corner has mean 1/2
    free_y, free_x = (h - bh).double(), (w - bw).double()
    assert abs((y0 / free_y.clamp(min=1)).mean() - 0.5) < 0.01 and abs((x0 / free_x.clamp(min=1)).mean() - 0.5) < 0.01
    assert (y0 == h - bh).any() and (y0 == 0).any() and (x0 == w - bw).any() and (x0 == 0).any()


def test_random_erasing_probability_and_small_images():
    n, h, w = 4000, 64, 32
    _, _, boxes = draw_augmentation(n, h, w, 0.5, 0, 0.5, torch.Generator().manual_seed(1))
    erased = boxes[:, 2] > 0
    assert 0.45 < erased.float().mean() < 0.55  # RE_PROB
    assert ((boxes[:, 2] > 0) == (boxes[:, 3] > 0)).all()
    # at 64x32 the law is the same: compare the sizes with the reference rule's
    ours = boxes[erased][:, 2:].double()
    ref = reference_erasing_boxes(4000, h, w, seed=3).double()
    assert abs((ours[:, 0] > ours[:, 1]).double().mean() - (ref[:, 0] > ref[:, 1]).double().mean()) < 0.04
    assert abs((ours[:, 0] * ours[:, 1]).mean() - (ref[:, 0] * ref[:, 1]).mean()) < 0.03 * h * w


def test_same_generator_same_batch():
    cfg = cfg_with("INPUT.RE_PROB", "1.0")
    images = gradient_batch()
    t = BatchTransform(cfg, train=True)
    a = t(images, torch.Generator().manual_seed(9))
    b = t(images, torch.Generator().manual_seed(9))
    c = t(images, torch.Generator().manual_seed(10))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_equals_cpu():
    cfg = cfg_with("INPUT.RE_PROB", "1.0")
    images = gradient_batch()
    t = BatchTransform(cfg, train=True)
    cpu = t(images, torch.Generator().manual_seed(4))
    gpu = t(images.cuda(), torch.Generator().manual_seed(4))
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-5)
