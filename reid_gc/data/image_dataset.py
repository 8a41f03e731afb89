"""A map-style dataset over (img_path, pid, camid) records that decodes images with PIL."""
import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from ..utils.errors import UserError


def to_rgb(img):
    """A PIL image of any mode as 8-bit RGB. PIL's convert('RGB') clips 16- and 32-bit grey levels at 255 (a
    16-bit PNG turns almost white): those are scaled from their own range (65535 for 16-bit, 1.0 for float)."""
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        levels = np.asarray(img, dtype=np.float64)
        top = 1.0 if img.mode == "F" else 65535.0  # mode 'I' is how PIL holds 16-bit PNGs, too
        grey = np.clip(np.rint(levels * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    return img.convert("RGB")


def read_image(path):
    """Decode an image as RGB, or raise a UserError naming the file (no silent retry)."""
    try:
        with Image.open(path) as img:
            return to_rgb(img)
    except FileNotFoundError:
        raise UserError(f"image {path} is missing: the dataset folder changed after it was listed; "
                        "restore the file or re-create the dataset") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise UserError(f"image {path} cannot be decoded ({type(e).__name__}): "
                        "replace or delete the file") from None


class ImageDataset(Dataset):
    """Returns (image, pid, camid, index); the index lets distributed evaluation drop padded duplicates."""

    def __init__(self, records, transform=None):
        self.records = list(records)
        self.transform = transform

    def __len__(self):
        return len(self.records)

    def __getitem__(self, index):
        path, pid, camid = self.records[index]
        img = read_image(path)
        if self.transform is not None:
            img = self.transform(img)
        return img, pid, camid, index
