"""A map-style dataset over (img_path, pid, camid) records that decodes images with PIL."""
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..utils.errors import UserError


def read_image(path):
    """Decode an image as RGB, or raise a UserError naming the file (no silent retry)."""
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except FileNotFoundError:
        raise UserError(f"image {path} is missing: the dataset folder changed after it was listed; "
                        "restore the file or re-create the dataset") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise UserError(f"image {path} cannot be decoded ({type(e).__name__}): "
                        "replace or delete the file") from None


class ImageDataset(Dataset):
    """Returns (image, pid, camid, index); the index lets distributed evaluation drop padded duplicates.

    A key may be an index or (index, seed) from SeededSampler: the random transform then draws from
    that seed alone (torch's RNG state around it is saved and restored).
    """

    def __init__(self, records, transform=None):
        self.records = list(records)
        self.transform = transform

    def __len__(self):
        return len(self.records)

    def __getitem__(self, key):
        index, seed = key if isinstance(key, tuple) else (key, None)
        path, pid, camid = self.records[index]
        img = read_image(path)
        if self.transform is not None:
            if seed is None:
                img = self.transform(img)
            else:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    img = self.transform(img)
        return img, pid, camid, index
