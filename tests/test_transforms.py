import torch
from PIL import Image

from reid_gc.config import load_config
from reid_gc.data.transforms import build_transforms


def cfg_with(*opts):
    return load_config("", ["INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]", *opts])


def gradient_image(w=50, h=100):
    img = Image.new("RGB", (w, h))
    img.putdata([(x * 5 % 256, y * 2 % 256, 128) for y in range(h) for x in range(w)])
    return img


def test_shapes_and_normalisation():
    cfg = cfg_with()
    img = Image.new("RGB", (50, 100), (124, 116, 104))  # about the ImageNet mean colour
    for is_train in (True, False):
        t = build_transforms(cfg, is_train)(img)
        assert t.shape == (3, 64, 32) and t.dtype == torch.float32
    t = build_transforms(cfg, False)(img)
    mean, std = torch.tensor(cfg.INPUT.PIXEL_MEAN), torch.tensor(cfg.INPUT.PIXEL_STD)
    expected = (torch.tensor([124, 116, 104]) / 255 - mean) / std
    assert torch.allclose(t[:, 10, 10], expected, atol=1e-5)


def test_train_equals_test_without_augmentation_and_flip_mirrors():
    img = gradient_image()
    plain = cfg_with("INPUT.PROB", "0.0", "INPUT.PADDING", "0", "INPUT.RE_PROB", "0.0")
    a = build_transforms(plain, True)(img)
    b = build_transforms(plain, False)(img)
    assert torch.equal(a, b)
    flipped = cfg_with("INPUT.PROB", "1.0", "INPUT.PADDING", "0", "INPUT.RE_PROB", "0.0")
    assert torch.equal(build_transforms(flipped, True)(img), torch.flip(b, dims=[2]))


def test_random_erasing_area_and_fill():
    cfg = cfg_with("INPUT.PROB", "0.0", "INPUT.PADDING", "0", "INPUT.RE_PROB", "1.0")
    t = build_transforms(cfg, True)
    img = Image.new("RGB", (32, 64), (255, 255, 255))  # normalised white is far from 0 in every channel
    torch.manual_seed(0)
    fractions = []
    for _ in range(200):
        x = t(img)
        erased = (x == 0).all(dim=0)  # filled with 0 = PIXEL_MEAN after normalisation, all channels
        frac = erased.float().mean().item()
        fractions.append(frac)
        if frac:
            rows = erased.any(dim=1).nonzero()
            cols = erased.any(dim=0).nonzero()
            h = rows.max() - rows.min() + 1
            w = cols.max() - cols.min() + 1
            assert erased.sum() == h * w  # one rectangle
            assert 0.3 / 1.2 <= (h / w).item() <= 3.3 * 1.2  # aspect ratio in [0.3, 3.3] up to rounding
    erased_fracs = [f for f in fractions if f]
    assert len(erased_fracs) > 150  # almost always erases with RE_PROB 1
    assert min(erased_fracs) >= 0.02 * 0.8 and max(erased_fracs) <= 0.4 * 1.1
    cfg0 = cfg_with("INPUT.PROB", "0.0", "INPUT.PADDING", "0", "INPUT.RE_PROB", "0.0")
    assert not (build_transforms(cfg0, True)(img) == 0).all(dim=0).any()


def test_padding_and_crop_shift_the_image():
    img = gradient_image(32, 64)
    cfg = cfg_with("INPUT.PROB", "0.0", "INPUT.PADDING", "4", "INPUT.RE_PROB", "0.0")
    t = build_transforms(cfg, True)
    torch.manual_seed(0)
    outs = [t(img) for _ in range(20)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])
    assert all(o.shape == (3, 64, 32) for o in outs)
