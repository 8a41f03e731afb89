"""Turn what callers pass (numpy arrays, torch tensors, lists) into checked torch tensors.

Every problem a user can cause here (empty sets, length mismatches, NaN/inf) raises a one-line
UserError that names the problem and the fix.
"""
import warnings

import numpy as np
import torch

from ..utils.errors import UserError

# Elements of one working block (a chunk of rows times the gallery). 8M float32 = 32 MB on the CPU,
# which keeps the matmul efficient and the memory bounded; the GPU takes bigger blocks.
CPU_BLOCK_ELEMENTS = 1 << 23
CUDA_BLOCK_ELEMENTS = 1 << 26


def as_tensor(x, name):
    """A torch view of `x` where possible (numpy arrays are not copied unless their strides need it)."""
    if isinstance(x, torch.Tensor):
        return x
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise UserError(f"{name} must be a numeric numpy array or torch tensor, got {array.dtype} values")
    if any(s < 0 for s in array.strides):
        array = np.ascontiguousarray(array)
    with warnings.catch_warnings():  # read-only arrays are fine: nothing here writes to its inputs
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.as_tensor(array)


def work_dtype(*tensors):
    """float64 when any input is float64, else float32 (half precision is promoted for the sums)."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def block_budget(device):
    """Elements of one working block on `device`."""
    return CUDA_BLOCK_ELEMENTS if torch.device(device).type == "cuda" else CPU_BLOCK_ELEMENTS


def rows_per_block(num_cols, device, chunk_size=None, scale=1):
    """Rows per block: `chunk_size` when given, else what fits `scale` times the element budget."""
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size < 1:
            raise UserError(f"chunk_size must be a positive whole number of rows, got {chunk_size!r}")
        return int(chunk_size)
    return max(1, scale * block_budget(device) // max(1, num_cols))


def require_finite(t, what):
    if not t.is_floating_point() or t.numel() == 0:
        return
    # A finite sum proves every element finite (NaN and inf propagate); only an overflowing sum of
    # huge finite values needs the element-wise check.
    if bool(torch.isfinite(t.sum())):
        return
    if not bool(torch.isfinite(t).all()):
        raise UserError(f"{what} contain NaN or inf: check the model output (e.g. a diverged training run) "
                        f"before evaluating")


def features_pair(qf, gf):
    """Checked (query, gallery) feature matrices on qf's device, in the working dtype."""
    qf, gf = as_tensor(qf, "query features"), as_tensor(gf, "gallery features")
    for t, name in ((qf, "query"), (gf, "gallery")):
        if t.dim() != 2:
            raise UserError(f"{name} features must be a 2-D array (one row per image), got shape "
                            f"{tuple(t.shape)}: stack the per-image feature vectors")
        if t.shape[0] == 0:
            raise UserError(f"the {name} set is empty: evaluation needs at least one query and one gallery "
                            f"image; check the dataset's {name} folder")
    if qf.shape[1] != gf.shape[1]:
        raise UserError(f"query features have {qf.shape[1]} dimensions but gallery features have "
                        f"{gf.shape[1]}: extract both with the same model")
    dtype = work_dtype(qf, gf)
    qf = qf.to(dtype)
    gf = gf.to(device=qf.device, dtype=dtype)
    require_finite(qf, "query features")
    require_finite(gf, "gallery features")
    return qf, gf


def labels(x, name, length, what, device):
    """A 1-D int64 tensor of `length` ids or cameras on `device`."""
    t = as_tensor(x, name)
    if t.dim() != 1:
        raise UserError(f"{name} must be 1-D (one value per image), got shape {tuple(t.shape)}")
    if t.is_floating_point() and not bool((t == t.round()).all()):
        raise UserError(f"{name} must hold whole numbers, got fractional values: pass the dataset's pids/camids")
    if t.shape[0] != length:
        raise UserError(f"{name} has {t.shape[0]} entries but there are {length} {what}: "
                        f"pass one pid and one camid per image")
    return t.to(device=device, dtype=torch.int64)


def chunks(total, step):
    for start in range(0, total, step):
        yield start, min(total, start + step)
