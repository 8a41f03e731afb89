"""Train and test image transforms of the strong baseline, built from torchvision's own."""
import torchvision.transforms as T


def build_transforms(cfg, is_train):
    normalize = T.Normalize(mean=cfg.INPUT.PIXEL_MEAN, std=cfg.INPUT.PIXEL_STD)
    if not is_train:
        return T.Compose([T.Resize(list(cfg.INPUT.SIZE_TEST)), T.ToTensor(), normalize])
    size = list(cfg.INPUT.SIZE_TRAIN)
    return T.Compose([
        T.Resize(size),
        T.RandomHorizontalFlip(p=cfg.INPUT.PROB),
        T.Pad(cfg.INPUT.PADDING),
        T.RandomCrop(size),
        T.ToTensor(),
        normalize,
        # Erasing runs on the normalised tensor, so a fill of 0 paints each channel's PIXEL_MEAN.
        T.RandomErasing(p=cfg.INPUT.RE_PROB, scale=(0.02, 0.4), ratio=(0.3, 3.3), value=(0.0, 0.0, 0.0)),
    ])
