"""reid-strong-baseline's trained files, read without running code from them.

It saves whole model objects (torch.save(model) of its Baseline, through ignite's ModelCheckpoint):
a pickle of nn.Module objects whose state lives in each object's __dict__ (`_parameters`, `_buffers`,
`_modules`). We read such a file with torch's weights-only unpickler, allowing each class the pickle
names only as an inert stand-in: creating it makes an empty object, BUILD fills its __dict__ with the
pickled data, and calling it (what a pickle that runs code must do) is refused. The module tree is then
walked for its parameters and persistent buffers: the same state dict the object would have given.

Its state dicts have our parameter names. They do not record the stem; reid-strong-baseline's ResNet
stem has no ReLU (the line is commented out), its SENet and IBN stems have one. A reid-gc checkpoint
records it (buffer `stem_relu`); read_trained_state supplies the record where a file lacks it:
- a pickled module tree: whether the trunk has that ReLU module;
- a bare state dict: reid-strong-baseline's stem for the architecture (reid-gc saves ignite dicts);
- a reid-gc ignite dict from before the record: the ReLU (every reid-gc model had it then).
"""
import io
import logging
import os
import pickle
import pickletools
import zipfile
from collections import OrderedDict
from collections.abc import Mapping

import torch

from ..utils.errors import UserError
from ..utils.weights import load_model_weights, model_state_from, safe_load, unwrap_model
from .backbones import backbone_spec

logger = logging.getLogger(__name__)

# Keys of an ImageNet classifier that reid-strong-baseline's IBN trunk carries unused (base.fc.*).
_UNUSED_TRUNK_HEADS = ("base.fc.", "base.last_linear.")
# Harmless builtins a module's __dict__ pickles (nn.Module._non_persistent_buffers_set is a set).
_BUILTINS = {"__builtin__.set": set, "builtins.set": set, "__builtin__.frozenset": frozenset,
             "builtins.frozenset": frozenset}


class RefusedPickle(Exception):
    """A pickle asked to call something: loading it would run code."""


class _Inert(type):
    def __call__(cls, *args, **kwargs):
        raise RefusedPickle(cls.pickled_name)


class PickledObject(metaclass=_Inert):
    """Stand-in for an object of a class named in a pickle: data only, no behaviour."""
    pickled_name = "?"

    def __setstate__(self, state):
        slots = None
        if isinstance(state, tuple) and len(state) == 2 and (state[1] is None or isinstance(state[1], dict)):
            state, slots = state
        if isinstance(state, dict):
            self.__dict__.update(state)
        elif state is not None:
            self.__dict__["_pickled_state"] = state
        if slots:
            self.__dict__.update(slots)


def _stand_in(full_name):
    return _Inert(full_name.rpartition(".")[2], (PickledObject,), {"pickled_name": full_name})


def _pickle_stream(path):
    """The bytes of the pickle that holds the object: data.pkl of a zip file, or the 4th pickle of
    torch's legacy format (magic number, protocol, system info, object, storage keys, raw data)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith("data.pkl")]
            return io.BytesIO(z.read(names[0])) if names else None
    f = open(path, "rb")
    for _ in range(3):
        for _op in pickletools.genops(f):
            pass
    return f


def pickle_globals(path):
    """Every module.name a torch file's object pickle imports (GLOBAL and STACK_GLOBAL), in order."""
    stream = _pickle_stream(path)
    if stream is None:
        return []
    found, strings, memo = [], [], {}
    with stream:
        for op, arg, _pos in pickletools.genops(stream):
            if op.name == "GLOBAL":
                found.append(arg.replace(" ", "."))
            elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                strings.append(arg)
            elif op.name in ("BINPUT", "LONG_BINPUT", "PUT") and strings:
                memo[arg] = strings[-1]
            elif op.name == "MEMOIZE" and strings:
                memo[len(memo)] = strings[-1]
            elif op.name in ("BINGET", "LONG_BINGET", "GET") and arg in memo:
                strings.append(memo[arg])
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
    return list(dict.fromkeys(found))


def _allowed_by_torch():
    try:
        from torch._weights_only_unpickler import _get_allowed_globals
        return set(_get_allowed_globals())
    except ImportError:  # pragma: no cover - every torch this package supports has it
        return set()


# Modules whose functions a pickle could call to act on the system (torch refuses these too).
_SYSTEM_MODULES = {"os", "posix", "nt", "sys", "subprocess", "builtins", "__builtin__", "shutil", "socket",
                   "runpy", "importlib", "pty", "ctypes", "code", "pickle", "marshal", "webbrowser"}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch's legacy (pre-1.6) serialization format
_LEGACY_CALLABLES = {"torch._utils._rebuild_tensor_v2": torch._utils._rebuild_tensor_v2,
                     "torch._utils._rebuild_parameter": torch._utils._rebuild_parameter,
                     "collections.OrderedDict": OrderedDict, **_BUILTINS}
_STORAGE_DTYPES = {f"torch.{n}Storage": d for n, d in (
    ("Float", torch.float32), ("Double", torch.float64), ("Half", torch.float16), ("BFloat16", torch.bfloat16),
    ("Long", torch.int64), ("Int", torch.int32), ("Short", torch.int16), ("Char", torch.int8),
    ("Byte", torch.uint8), ("Bool", torch.bool))}


class _LegacyUnpickler(pickle.Unpickler):
    """torch's legacy format, restricted: tensors, OrderedDicts and inert stand-ins only. (torch's own
    weights-only reader refuses this format's whole-module pickles: they name each module class as a
    persistent id.)"""

    def __init__(self, f):
        super().__init__(f, encoding="utf-8")
        self.storages = {}

    def find_class(self, module, name):
        full = f"{module}.{name}"
        if full in _LEGACY_CALLABLES:
            return _LEGACY_CALLABLES[full]
        if full in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[full]
        return _stand_in(full)

    def persistent_load(self, pid):
        kind = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if kind == "module":  # ('module', class, source file, source): the class, already a stand-in
            return pid[1]
        if kind != "storage" or pid[5] is not None:  # storage views: not written for module parameters
            raise pickle.UnpicklingError(f"unsupported persistent id {kind!r}")
        dtype, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(dtype, torch.dtype):
            raise pickle.UnpicklingError("storage of an unknown type")
        if key not in self.storages:
            size = numel * torch._utils._element_size(dtype)
            self.storages[key] = torch.storage.TypedStorage(wrap_storage=torch.UntypedStorage(size), dtype=dtype,
                                                            _internal=True)
        return self.storages[key]


def _read_legacy(path):
    with open(path, "rb") as f:
        if _LegacyUnpickler(f).load() != _LEGACY_MAGIC:
            raise pickle.UnpicklingError("not a torch file")
        _LegacyUnpickler(f).load()  # protocol version
        _LegacyUnpickler(f).load()  # system info
        unpickler = _LegacyUnpickler(f)
        result = unpickler.load()
        keys = _LegacyUnpickler(f).load()
        for key in keys:  # raw storage bytes follow, in this order
            storage = unpickler.storages[key]
            storage._untyped_storage._set_from_file(f, None, False, torch._utils._element_size(storage.dtype))
        if f.read(1):
            raise pickle.UnpicklingError("trailing bytes")
    return result


def read_pickled_modules(path, what="checkpoint"):
    """The object a whole-model torch file holds, rebuilt from inert stand-ins (see the module docstring)."""
    try:
        names = pickle_globals(path)
    except Exception:
        raise UserError(f"{what} {path} is not a readable torch file (truncated or corrupt?)") from None
    allowed = _allowed_by_torch() | set(_BUILTINS)
    foreign = [n for n in names if n not in allowed]
    system = [n for n in foreign if n.split(".")[0] in _SYSTEM_MODULES]
    if system:
        raise UserError(f"{what} {path} was refused: its pickle names {', '.join(system[:3])}, which could run "
                        "code; only model objects and tensors are read")
    stand_ins = [(_stand_in(n), n) for n in foreign] + [(v, k) for k, v in _BUILTINS.items()]
    try:
        if not zipfile.is_zipfile(path):
            return _read_legacy(path)
        with torch.serialization.safe_globals(stand_ins):
            return torch.load(path, map_location="cpu", weights_only=True)
    except RefusedPickle as e:
        raise UserError(f"{what} {path} was refused: its pickle calls {e} while loading, which could run "
                        "code; only model objects and tensors are read") from None
    except pickle.UnpicklingError:
        raise UserError(f"{what} {path} was refused: it holds objects that are not a model's module tree "
                        f"(it names {', '.join(foreign[:4]) or 'no classes'})") from None
    except Exception:
        raise UserError(f"{what} {path} is not a readable torch file (truncated or corrupt?)") from None


def _is_module(obj):
    return isinstance(obj, PickledObject) and isinstance(obj.__dict__.get("_modules"), Mapping)


def module_tree_state(root):
    """state_dict() of a pickled nn.Module tree: parameters and persistent buffers, by dotted name."""
    state = {}

    def walk(module, prefix):
        d = module.__dict__
        skip = d.get("_non_persistent_buffers_set") or set()
        for kind in ("_parameters", "_buffers"):
            for name, value in (d.get(kind) or {}).items():
                if isinstance(value, torch.Tensor) and not (kind == "_buffers" and name in skip):
                    state[prefix + name] = value.detach() if value.requires_grad else value
        for name, child in d["_modules"].items():
            if child is not None:
                if not _is_module(child):
                    raise UserError(f"submodule {prefix}{name} of the pickled model is not a module")
                walk(child, f"{prefix}{name}.")

    walk(root, "")
    return state


def _unwrap_pickled(root):
    """The model inside DataParallel / DistributedDataParallel (its only child, 'module')."""
    while _is_module(root) and root.pickled_name.rsplit(".", 1)[-1] in ("DataParallel", "DistributedDataParallel"):
        root = root._modules["module"]
    return root


def _pickled_stem_relu(root, name):
    """Whether the pickled model's trunk has the stem ReLU module (reid-strong-baseline's ResNet has none)."""
    node = root
    for part in ("base." + backbone_spec(name).stem_relu).split("."):
        node = node.__dict__["_modules"].get(part) if _is_module(node) else None
        if node is None:
            return False
    return isinstance(node, PickledObject) and node.pickled_name.endswith("ReLU")


def read_trained_state(path, model_name, what="checkpoint"):
    """(state dict with a `stem_relu` record, description of the file) of a trained re-id model file:
    a reid-gc checkpoint, a state dict, or a pickled whole model (reid-strong-baseline's)."""
    path = os.fspath(path)
    try:
        obj = safe_load(path, what=what)
        pickled = None
    except UserError as error:
        # weights-only loading refuses any class it does not know; a pickled model is read as inert data
        try:
            names = pickle_globals(path)
        except Exception:
            raise error from None
        if all(n in _allowed_by_torch() for n in names):
            raise
        obj = pickled = read_pickled_modules(path, what)
    if pickled is not None:
        if isinstance(pickled, Mapping):  # a dict around the model object ({'model': <Baseline>})
            pickled = next((v for v in pickled.values() if _is_module(v)), None)
        root = _unwrap_pickled(pickled)
        if not _is_module(root):
            raise UserError(f"{what} {path} holds pickled objects that are not a model: give a state dict "
                            "or a checkpoint saved by reid-gc")
        state = module_tree_state(root)
        kind = f"pickled {root.pickled_name} object"
        stem = _pickled_stem_relu(root, model_name)
        why = "its trunk has the stem ReLU module" if stem else "its trunk has no stem ReLU module"
    else:
        ours = isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping)
        state = model_state_from(obj, source=f"{what} {path}")
        kind = "reid-gc checkpoint" if ours else "state dict"
        stem = True if ours else backbone_spec(model_name).reference_stem_relu
        why = ("reid-gc models before MODEL.STEM_RELU all had the ReLU" if ours else
               f"read as reid-strong-baseline's, whose {model_name} stem {'has' if stem else 'has no'} ReLU")
    state = {k: v for k, v in model_state_from(state, source=f"{what} {path}").items()}
    skipped = [k for k in state if k.startswith(_UNUSED_TRUNK_HEADS)]
    for key in skipped:
        del state[key]
    if "stem_relu" in state:
        logger.info("%s %s (%s) records the stem: ReLU %s", what, path, kind,
                    "yes" if bool(state["stem_relu"]) else "no")
    else:
        state["stem_relu"] = torch.tensor(1 if stem else 0, dtype=torch.uint8)
        logger.info("%s %s (%s) does not record the stem: ReLU %s (%s)", what, path, kind,
                    "yes" if stem else "no", why)
    if skipped:
        logger.info("%s %s: skipped %d tensors of an unused ImageNet classifier in the trunk: %s", what, path,
                    len(skipped), ", ".join(skipped))
    return state, kind


def load_trained_weights(model, path, skip_classifier=False, what="checkpoint"):
    """Load a trained re-id model file (any form read_trained_state reads) into our Baseline `model`;
    the model's stem follows the file."""
    target = unwrap_model(model)
    state, kind = read_trained_state(path, target.model_name, what)
    before = target.has_stem_relu
    load_model_weights(model, path, skip_classifier=skip_classifier, state=state)
    if target.has_stem_relu != before:
        logger.info("the stem follows %s: ReLU %s (MODEL.STEM_RELU said %s)", path,
                    "yes" if target.has_stem_relu else "no", "yes" if before else "no")
    return kind
