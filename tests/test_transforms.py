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


def test_random_erasing_area_and_aspect():
    n, h, w = 4000, 64, 32
    flip, _, boxes = draw_augmentation(n, h, w, 0.5, 0, 0.5, torch.Generator().manual_seed(1))
    erased = boxes[:, 2] > 0
    assert 0.45 < erased.float().mean() < 0.55  # RE_PROB
    assert 0.45 < flip.float().mean() < 0.55  # PROB
    y0, x0, bh, bw = boxes[erased].T
    area = (bh * bw).float() / (h * w)
    ratio = bh.float() / bw.float()
    # rounding to whole pixels moves the bounds a little
    assert area.min() >= 0.02 * 0.7 and area.max() <= 0.4 * 1.3
    assert ratio.min() >= 0.3 / 1.5 and ratio.max() <= 3.3 * 1.5
    assert (y0 + bh <= h).all() and (x0 + bw <= w).all() and (y0 >= 0).all() and (x0 >= 0).all()
    # uniform area fraction: the mean of U(0.02, 0.4) is 0.21 (rejected tall boxes bias it a little low)
    assert 0.15 < area.mean() < 0.23
    # log-uniform aspect ratio: median near sqrt(0.3 * 3.3) = 0.995, among boxes that fit at once
    assert 0.7 < ratio.median() < 1.4


def test_same_generator_same_batch():
    cfg = cfg_with("INPUT.RE_PROB", "1.0")
    images = gradient_batch()
    t = BatchTransform(cfg, train=True)
    a = t(images, torch.Generator().manual_seed(9))
    b = t(images, torch.Generator().manual_seed(9))
    c = t(images, torch.Generator().manual_seed(10))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_equals_cpu():
    cfg = cfg_with("INPUT.RE_PROB", "1.0")
    images = gradient_batch()
    t = BatchTransform(cfg, train=True)
    cpu = t(images, torch.Generator().manual_seed(4))
    gpu = t(images.cuda(), torch.Generator().manual_seed(4))
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-5)
