"""reid_gc.utils.weights: safe loading, state-dict extraction and fitting weights to a model."""
import pickle

import pytest
import torch
from torch import nn

from reid_gc.modeling import Baseline
from reid_gc.utils.errors import UserError
from reid_gc.utils.weights import load_model_weights, model_state_from, safe_load


class _Payload:
    """Unpickling this calls open(marker, 'w'): a stand-in for code a crafted checkpoint would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _model(num_classes=5, name="resnet18", neck="bnneck"):
    return Baseline(num_classes, 1, name, neck, "after", "scratch", "")


def _message(excinfo):
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


# --------------------------------------------------------------------------------------------- safe_load
def test_safe_load_reads_a_state_dict(tmp_path):
    path = tmp_path / "w.pth"
    torch.save({"w": torch.arange(3.0)}, path)
    assert torch.equal(safe_load(path)["w"], torch.arange(3.0))


def test_safe_load_missing_file(tmp_path):
    path = tmp_path / "nope.pth"
    with pytest.raises(UserError) as err:
        safe_load(path)
    assert _message(err).startswith(f"checkpoint {path} not found")


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage"])
def test_safe_load_truncated_or_corrupt(tmp_path, damage):
    path = tmp_path / "w.pth"
    torch.save({"w": torch.randn(64, 64)}, path)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "empty": b"",
                      "garbage": bytes(range(256)) * 8}[damage])
    with pytest.raises(UserError) as err:
        safe_load(path)
    assert _message(err) == f"checkpoint {path} is not a readable torch file (truncated or corrupt?)"


@pytest.mark.parametrize("writer", ["torch.save", "pickle2", "pickle5"])
def test_safe_load_refuses_code_running_pickles(tmp_path, writer):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pth"
    obj = {"model": {"w": torch.zeros(1)}, "payload": _Payload(marker)}
    if writer == "torch.save":
        torch.save(obj, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=int(writer[-1]))
    with pytest.raises(UserError) as err:
        safe_load(path)
    msg = _message(err)
    assert msg.startswith(f"checkpoint {path} holds arbitrary Python objects")
    assert "was refused (loading it could run code); save a state_dict instead" in msg
    assert not marker.exists()
    if writer != "torch.save":  # the payload is real: a plain unpickler runs it
        pickle.loads(path.read_bytes())
        assert marker.exists()


def test_safe_load_refuses_a_pickled_model_object(tmp_path):
    # What reid-strong-baseline saved: the whole nn.Module, not a state dict.
    path = tmp_path / "model.pth"
    torch.save(nn.Linear(2, 2), path)
    with pytest.raises(UserError) as err:
        safe_load(path)
    msg = _message(err)
    assert "holds arbitrary Python objects" in msg and "torch.nn.modules.linear.Linear" in msg


# -------------------------------------------------------------------------------------- model_state_from
def test_model_state_from_ignite_dict_and_bare_state():
    state = {"a.weight": torch.ones(2), "b.bias": torch.zeros(1)}
    ignite = {"model": state, "optimizer": {"state": {}, "param_groups": []}, "trainer": {"epoch": 3}}
    assert model_state_from(ignite).keys() == state.keys()
    assert model_state_from(state).keys() == state.keys()


def test_model_state_from_strips_ddp_and_compile_prefixes():
    t = torch.ones(1)
    state = {"module.base.conv1.weight": t, "_orig_mod.classifier.weight": t,
             "module._orig_mod.bottleneck.bias": t, "_orig_mod.module.gap.x": t, "base._orig_mod.layer1.w": t}
    assert sorted(model_state_from({"model": state})) == sorted(
        ["base.conv1.weight", "classifier.weight", "bottleneck.bias", "gap.x", "base.layer1.w"])


@pytest.mark.parametrize("obj", [[1, 2], {"epoch": 3}, {}])
def test_model_state_from_rejects_non_weights(obj):
    with pytest.raises(UserError) as err:
        model_state_from(obj, source="checkpoint x.pth")
    assert _message(err).startswith("checkpoint x.pth holds")


# ------------------------------------------------------------------------------------ load_model_weights
def _assert_same_state(a, b, skip=()):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        if not k.startswith(skip):
            assert torch.equal(sa[k], sb[k]), k


def test_load_model_weights_from_ignite_checkpoint_with_wrapper_prefixes(tmp_path):
    torch.manual_seed(0)
    src = _model()
    with torch.no_grad():
        src.bottleneck.running_mean.normal_()
    path = tmp_path / "checkpoint_3.pt"
    state = {"module._orig_mod." + k: v for k, v in src.state_dict().items()}
    torch.save({"model": state, "optimizer": torch.optim.SGD(src.parameters(), lr=0.1).state_dict()}, path)
    dst = _model()
    load_model_weights(nn.DataParallel(dst), path)  # wrappers on the model side are looked through too
    _assert_same_state(src, dst)


def test_load_model_weights_class_count_mismatch(tmp_path):
    path = tmp_path / "market.pt"
    torch.save({"model": _model(num_classes=7).state_dict()}, path)
    with pytest.raises(UserError) as err:
        load_model_weights(_model(num_classes=5), path)
    assert _message(err) == f"checkpoint {path} was trained with 7 classes, this model has 5 (different dataset?)"


def test_load_model_weights_skip_classifier_evaluates_on_another_dataset(tmp_path):
    torch.manual_seed(1)
    src = _model(num_classes=7)
    path = tmp_path / "market.pt"
    torch.save({"model": src.state_dict()}, path)
    dst = _model(num_classes=5)
    before = dst.classifier.weight.clone()
    load_model_weights(dst, path, skip_classifier=True)
    assert torch.equal(dst.classifier.weight, before)
    for k, v in src.state_dict().items():
        if not k.startswith("classifier."):
            assert torch.equal(dst.state_dict()[k], v), k


def test_load_model_weights_architecture_mismatch(tmp_path):
    path = tmp_path / "r18.pt"
    torch.save({"model": _model(name="resnet18").state_dict()}, path)
    with pytest.raises(UserError) as err:
        load_model_weights(_model(name="resnet34"), path)
    msg = _message(err)
    assert msg.startswith(f"checkpoint {path} does not fit resnet34 (first mismatched key base.")
    assert msg.endswith("set MODEL.NAME resnet18")


def test_load_model_weights_neck_mismatch(tmp_path):
    path = tmp_path / "noneck.pt"
    torch.save({"model": _model(neck="no").state_dict()}, path)
    with pytest.raises(UserError) as err:
        load_model_weights(_model(neck="bnneck"), path)
    assert "trained with MODEL.NECK 'no'" in _message(err)


def test_load_model_weights_torchvision_file_hints_imagenet(tmp_path):
    import torchvision

    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    with pytest.raises(UserError) as err:
        load_model_weights(_model(), path)
    assert "MODEL.PRETRAIN_CHOICE 'imagenet'" in _message(err)


def test_safe_load_names_a_torchscript_archive_for_what_it_is(tmp_path):
    # issue 11: a zip holding pickled code was called "not a readable torch file (truncated or corrupt?)"
    import warnings

    path = tmp_path / "scripted.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated: still what older exports hold
        torch.jit.save(torch.jit.script(nn.Linear(2, 2)), str(path))
    with pytest.raises(UserError) as err:
        safe_load(path)
    msg = _message(err)
    assert msg.startswith(f"checkpoint {path} is a TorchScript archive: it holds pickled code objects")
    assert "torch.save(torch.jit.load(path).state_dict(), new_path)" in msg and "corrupt" not in msg
