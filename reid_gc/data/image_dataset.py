"""A map-style dataset over (img_path, pid, camid) records that decodes images with PIL."""
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
