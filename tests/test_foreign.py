"""reid-strong-baseline's trained files evaluate exactly: its state dicts and its pickled whole models
(read without running code), through tools/extract.py, tools/test.py and tools/convert.py."""
import importlib
import io
import json
import os
import pickletools
import zipfile

import numpy as np
import pytest
import rsb_reference as ref
import torch
import torch.nn.functional as F
from fixtures_datasets import plain_map_cmc
from PIL import Image
from run_helpers import write_market

from reid_gc.modeling import Baseline
from reid_gc.modeling.foreign import module_tree_state, pickle_globals, read_pickled_modules
from reid_gc.utils.errors import UserError

H, W = 64, 32
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]  # the configs' INPUT.PIXEL_MEAN / PIXEL_STD


def _tool(name):
    """main() of the command behind tools/<name>.py (raises UserError instead of exiting 2)."""
    return importlib.import_module(f"reid_gc.cli.{name}").main


def _images(folder, n=5, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(os.path.join(folder, f"{i}.png"))
    return folder


def _reference_features(model, folder, names):
    """The reference pipeline written out: RGB pixels / 255, normalised, the model in eval, L2-normalised."""
    x = torch.stack([torch.from_numpy(np.asarray(Image.open(os.path.join(folder, n)).convert("RGB")).copy())
                     for n in names]).permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        return F.normalize(model.eval()(x), dim=1)


def _opts(name, weight, out):
    return ["MODEL.NAME", name, "MODEL.DEVICE", "cpu", "INPUT.SIZE_TEST", f"[{H}, {W}]", "TEST.WEIGHT", weight,
            "DATALOADER.NUM_WORKERS", "0", "OUTPUT_DIR", out, "TEST.IMS_PER_BATCH", "8"]


@pytest.fixture(scope="module")
def reference_files(tmp_path_factory):
    """Per architecture: the reference model, its state dict file and its pickled whole-object file."""
    base = tmp_path_factory.mktemp("rsb")
    files = {}
    for i, name in enumerate(ref.TRUNKS):
        torch.manual_seed(i)
        model = ref.randomize_statistics(ref.Baseline(11, name), seed=i).eval()
        sd, whole = str(base / f"{name}_state.pth"), str(base / f"{name}_model_120.pth")
        torch.save(model.state_dict(), sd)
        torch.save(model, whole)  # what its ignite ModelCheckpoint wrote: the whole object
        files[name] = (model, sd, whole)
    return files


@pytest.mark.parametrize("name", list(ref.TRUNKS))
@pytest.mark.parametrize("form", ["state", "whole"])
def test_extract_equals_the_reference_model(name, form, reference_files, tmp_path):
    model, sd, whole = reference_files[name]
    folder = _images(str(tmp_path / "imgs"))
    out = str(tmp_path / "feats.pt")
    _tool("extract")(["--input", folder, "--output", out, *_opts(name, sd if form == "state" else whole,
                                                                 str(tmp_path / "o"))])
    saved = torch.load(out, weights_only=True)
    expected = _reference_features(model, folder, saved["names"])
    assert torch.allclose(saved["features"], expected, atol=1e-5, rtol=0)
    if name == "resnet50":  # the stem matters: the same weights through a stem with a ReLU differ by far
        # more than the tolerance above (random deep trunks give similar features to every image)
        ours = Baseline(11, 1, "resnet50")
        ours.load_state_dict({**model.state_dict(), "stem_relu": torch.tensor(1, dtype=torch.uint8)})
        assert ours.has_stem_relu
        assert (_reference_features(ours, folder, saved["names"]) - expected).abs().max() > 1e-4


def test_test_tool_evaluates_the_pickled_model_as_the_reference(reference_files, tmp_path):
    model, _sd, whole = reference_files["resnet50"]
    root = write_market(str(tmp_path / "data"), train_ids=3, test_ids=4)
    out = str(tmp_path / "out")
    opts = _opts("resnet50", whole, out) + ["DATASETS.NAMES", "market1501", "DATASETS.ROOT_DIR", root,
                                            "INPUT.SIZE_TEST", "[32, 16]"]
    _tool("test")(opts)
    got = json.load(open(os.path.join(out, "metrics.json")))
    entry = got[-1] if isinstance(got, list) else got
    base = os.path.join(root, "market1501")

    def split(sub):
        names = sorted(n for n in os.listdir(os.path.join(base, sub)) if n.endswith(".jpg")
                       and not n.startswith("-1"))
        pids = np.array([int(n.split("_")[0]) for n in names])
        cams = np.array([int(n.split("_")[1][1]) for n in names])
        x = torch.stack([torch.from_numpy(np.asarray(Image.open(os.path.join(base, sub, n)).convert("RGB")).copy())
                         for n in names]).permute(0, 3, 1, 2).float() / 255
        x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
        with torch.no_grad():
            return F.normalize(model.eval()(x), dim=1).numpy(), pids, cams

    qf, qp, qc = split("query")
    gf, gp, gc = split("bounding_box_test")
    dist = ((qf[:, None, :] - gf[None, :, :]) ** 2).sum(-1)
    mAP, r1 = plain_map_cmc(dist, qp, gp, qc, gc)
    text = json.dumps(entry)
    assert "mAP" in text
    assert abs(entry["mAP"] - mAP) < 1e-4 or abs(entry["mAP"] - 100 * mAP) < 1e-2, (entry, mAP)


def test_module_tree_state_matches_the_objects_state_dict(reference_files):
    model, _sd, whole = reference_files["resnet50_ibn_a"]
    root = read_pickled_modules(whole)
    state = module_tree_state(root)
    expected = model.state_dict()
    assert list(state) == list(expected)  # every parameter and buffer, in the module's order
    assert all(torch.equal(state[k], v) for k, v in expected.items())
    assert "base.fc.weight" in state  # reid-strong-baseline's IBN trunk keeps an unused ImageNet fc


def test_legacy_torch_format_reads_too(reference_files, tmp_path):
    model, _sd, _whole = reference_files["se_resnet50"]
    legacy = str(tmp_path / "legacy.pth")
    torch.save(model, legacy, _use_new_zipfile_serialization=False)  # torch <= 1.5's format (its era)
    assert not zipfile.is_zipfile(legacy)
    state = module_tree_state(read_pickled_modules(legacy))
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_pickle_globals_against_pickletools(reference_files):
    """An independent statement of the format: the GLOBAL opcodes of data.pkl inside the zip."""
    _model, _sd, whole = reference_files["resnet50"]
    with zipfile.ZipFile(whole) as z:
        data = z.read([n for n in z.namelist() if n.endswith("/data.pkl")][0])
    expected = []
    for op, arg, _ in pickletools.genops(io.BytesIO(data)):
        if op.name == "GLOBAL" and arg.replace(" ", ".") not in expected:
            expected.append(arg.replace(" ", "."))
    got = pickle_globals(whole)
    assert got == expected
    assert "rsb_reference.Baseline" in got and "rsb_reference.RefResNet" in got


@pytest.mark.parametrize("evil", ["RunsCode", "CallsSubprocess", "CallsAFunction"])
def test_a_pickle_that_would_run_code_is_refused_with_nothing_run(evil, tmp_path):
    marker = tmp_path / "ran"
    model = ref.Baseline(3, "resnet50")
    model.payload = getattr(ref, evil)(str(marker))  # hidden inside an otherwise valid model
    paths = [str(tmp_path / f"{kind}_{zip_format}.pth") for kind in ("evil", "bare") for zip_format in (0, 1)]
    for p in paths:  # torch's zip format, and the legacy format of reid-strong-baseline's era
        obj = model if "evil" in p else getattr(ref, evil)(str(marker))
        torch.save(obj, p, _use_new_zipfile_serialization=p.endswith("1.pth"))
    for p in paths:
        with pytest.raises(UserError) as err:
            _tool("extract")(["--input", _images(str(tmp_path / "imgs"), n=1), "--output", str(tmp_path / "f.pt"),
                              *_opts("resnet50", p, str(tmp_path / "o"))])
        assert "\n" not in str(err.value) and "refused" in str(err.value)
    assert not marker.exists()
    assert not (tmp_path / "f.pt").exists()


def test_pretrain_path_accepts_the_pickled_model(reference_files):
    model, _sd, whole = reference_files["se_resnet50"]
    ours = Baseline(11, 1, "se_resnet50", pretrain_choice="self", pretrain_path=whole)
    assert ours.has_stem_relu  # SENet's stem has its ReLU in the reference too
    for k, v in model.state_dict().items():
        assert torch.equal(ours.state_dict()[k], v), k


def test_convert_writes_a_reid_gc_checkpoint(reference_files, tmp_path, capsys):
    model, _sd, whole = reference_files["resnet50"]
    out = str(tmp_path / "converted.pt")
    _tool("convert")(["--input", whole, "--output", out])
    saved = torch.load(out, weights_only=True)
    assert set(saved) >= {"model"}
    state = saved["model"]
    assert int(state["stem_relu"]) == 0  # recorded: no later load guesses
    for k, v in model.state_dict().items():
        assert torch.equal(state[k], v), k
    # loading the converted file with MODEL.STEM_RELU 'yes' still runs the recorded stem
    ours = Baseline(11, 1, "resnet50", pretrain_choice="self", pretrain_path=out, stem_relu=True)
    assert not ours.has_stem_relu


def test_convert_bad_input_exits_2_and_overwrites_nothing(reference_files, tmp_path, capsys):
    from reid_gc.cli.common import run_cli
    _model, sd, _whole = reference_files["resnet50"]
    truncated = str(tmp_path / "truncated.pth")
    with open(sd, "rb") as f:
        open(truncated, "wb").write(f.read()[:100000])
    out = tmp_path / "existing.pt"
    out.write_bytes(b"keep me")
    with pytest.raises(SystemExit) as exit_info:
        run_cli(_tool("convert"), ["--input", truncated, "--output", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "truncated or corrupt" in err and truncated in err
    assert out.read_bytes() == b"keep me"


@pytest.mark.slow
def test_export_onnx_of_the_pickled_ibn_model_equals_the_reference(reference_files, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model, _sd, whole = reference_files["resnet50_ibn_a"]
    path = str(tmp_path / "model.onnx")
    _tool("export")(["--output", path, "--input", "uint8", *_opts("resnet50_ibn_a", whole, str(tmp_path / "o"))])
    images = torch.randint(0, 256, (3, 3, H, W), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    x = (images.float() / 255 - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = F.normalize(model.eval()(x), dim=1).numpy()
    got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"images": images.numpy()})[0]
    assert np.abs(got - expected).max() < 1e-4


@pytest.mark.parametrize("zip_format", [True, False])
def test_data_parallel_pickle_reads_the_inner_model(reference_files, tmp_path, zip_format):
    """reid-strong-baseline wraps the model in nn.DataParallel on several GPUs before saving it whole."""
    from reid_gc.modeling.foreign import read_trained_state
    model, _sd, _whole = reference_files["resnet50"]
    path = str(tmp_path / "dp.pth")
    torch.save(torch.nn.DataParallel(model), path, _use_new_zipfile_serialization=zip_format)
    state, kind = read_trained_state(path, "resnet50")
    assert kind == "pickled rsb_reference.Baseline object"
    assert int(state.pop("stem_relu")) == 0 and set(state) == set(model.state_dict())
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
