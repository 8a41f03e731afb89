"""reid-strong-baseline's own Market-1501 scripts (Experiment-*.sh, Test-*.sh of michuanhaohao/reid-strong-baseline:
those of master, and those its history had, Experiment-resnet50_ibn_a-all_tricks-tri_center-market.sh and the
first release's), each command line copied as written, run in-process on a generated Market-1501 tree.

Only paths are replaced (its data folder, output folders, weight files: by files generated here; the first
release's lines name no data folder, relying on the default ./data, so DATASETS.ROOT_DIR is added to them),
and a tiny CPU budget is appended (image size, epochs, batch, loader workers, periods). ImageNet weights come
from a torch hub cache made here (random weights under torchvision's file name), as they would offline.
"""
import importlib
import logging
import os
import re
import runpy
import shlex

import pytest
import torch
import torchvision
from rsb_training_files import write_their_run
from run_helpers import ROOT, write_market

from reid_gc.config import load_config
from reid_gc.modeling import build_model
from reid_gc.modeling.backbones import weights_file_name

DATA = "('/home/haoluo/data')"
LOG = "/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/"
SCRIPTS = {
    "Experiment-all_tricks-tri_center-market.sh":
        """python3 tools/train.py --config_file='configs/softmax_triplet_with_center.yml' MODEL.DEVICE_ID "('2')" DATASETS.NAMES "('market1501')" DATASETS.ROOT_DIR "('/home/haoluo/data')" OUTPUT_DIR "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-all-tricks-tri_center-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on-triplet_centerloss0_0005')\"""",  # noqa: E501
    "Experiment-all_tricks-without_center-market.sh":
        """python3 tools/train.py --config_file='configs/softmax_triplet.yml' MODEL.DEVICE_ID "('0')" DATASETS.NAMES "('market1501')" DATASETS.ROOT_DIR "('/home/haoluo/data')" OUTPUT_DIR "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-all-tricks-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on')\"""",  # noqa: E501
    "Experiment-pretrain_choice-all_tricks-tri_center-market.sh":
        """python3 tools/train.py --config_file='configs/softmax_triplet_with_center.yml' MODEL.DEVICE_ID "('2')" DATASETS.NAMES "('market1501')" DATASETS.ROOT_DIR "('/home/haoluo/data')" MODEL.PRETRAIN_CHOICE "('self')" MODEL.PRETRAIN_PATH "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-pretrain_choice_all-tricks-tri_center-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on-triplet_centerloss0_0005/resnet50_model_2.pth')" OUTPUT_DIR "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-pretrain_choice_all-tricks-tri_center-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on-triplet_centerloss0_0005')\"""",  # noqa: E501
    "Experiment-seresnext50-all_tricks-tri_center-market.sh":
        """python3 tools/train.py --config_file='configs/softmax_triplet_with_center.yml' MODEL.DEVICE_ID "('0')" MODEL.NAME "('se_resnext50')" MODEL.PRETRAIN_PATH "('/home/haoluo/.torch/models/se_resnext50_32x4d-a260b3a4.pth')" DATASETS.NAMES "('market1501')" DATASETS.ROOT_DIR "('/home/haoluo/data')" OUTPUT_DIR "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-seresnext50-all-tricks-tri_center-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on-triplet_centerloss0_0005')\"""",  # noqa: E501
    "Experiment-resnet50_ibn_a-all_tricks-tri_center-market.sh":
        """python3 tools/train.py --config_file='configs/softmax_triplet_with_center.yml' MODEL.DEVICE_ID "('1')" MODEL.NAME "('resnet50_ibn_a')" MODEL.PRETRAIN_PATH "('/home/haoluo/gu/ibn_a.pth')" DATASETS.NAMES "('market1501')" DATASETS.ROOT_DIR "('/home/haoluo/data')" OUTPUT_DIR "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-resnet50_ibn_a-all-tricks-tri_center-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on-triplet_centerloss0_0005')\"""",  # noqa: E501
    "Test-all_tricks-tri_center-feat_after_bn-cos-market.sh":
        """python3 tools/test.py --config_file='configs/softmax_triplet_with_center.yml' MODEL.DEVICE_ID "('0')" DATASETS.NAMES "('market1501')" DATASETS.ROOT_DIR "('/home/haoluo/data')" MODEL.PRETRAIN_CHOICE "('self')" TEST.WEIGHT "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-all-tricks-tri_center-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on-triplet_centerloss0_0005/resnet50_model_120.pth')\"""",  # noqa: E501
    "Test-all_tricks-without_center-feat_after_bn-cos-market.sh":
        """python3 tools/test.py --config_file='configs/softmax_triplet.yml' MODEL.DEVICE_ID "('0')" DATASETS.NAMES "('market1501')"  DATASETS.ROOT_DIR "('/home/haoluo/data')" MODEL.PRETRAIN_CHOICE "('self')" TEST.WEIGHT "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-all-tricks-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on/resnet50_model_120.pth')\"""",  # noqa: E501
    "Test-reranking-all_tricks-tri_center-feat_after_bn-cos-market.sh":
        """python3 tools/test.py --config_file='configs/softmax_triplet_with_center.yml' MODEL.DEVICE_ID "('0')" DATASETS.NAMES "('market1501')" DATASETS.ROOT_DIR "('/home/haoluo/data')" TEST.RE_RANKING "('yes')" MODEL.PRETRAIN_CHOICE "('self')" TEST.WEIGHT "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-all-tricks-tri_center-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on-triplet_centerloss0_0005/resnet50_model_120.pth')\"""",  # noqa: E501
}
# Its first release (commit 061be38), superseded by the lines above; they write to the same output folders,
# so they run in a folder of their own.
FIRST_RELEASE = {
    "Experiment-all_tricks-market.sh":
        """python3 tools/train.py --config_file='configs/softmax_triplet.yml' MODEL.DEVICE_ID "('0')" DATASETS.NAMES "('market1501')" OUTPUT_DIR "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-all-tricks-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on')\"""",  # noqa: E501
    "Experiment-all_trickts-tri_center-market.sh":
        """python3 tools/train.py --config_file='configs/softmax_triplet.yml' MODEL.DEVICE_ID "('2')" DATASETS.NAMES "('market1501')" MODEL.IF_WITH_CENTER "('yes')" MODEL.METRIC_LOSS_TYPE "('triplet_center')" OUTPUT_DIR "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-all-tricks-tri_center-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on-triplet_centerloss0_0005')\"""",  # noqa: E501
    "Test-all_tricks-market.sh":
        """python3 tools/test.py --config_file='configs/softmax_triplet.yml' MODEL.DEVICE_ID "('0')" DATASETS.NAMES "('market1501')" TEST.NECK_FEAT "('after')" TEST.FEAT_NORM "('yes')" TEST.WEIGHT "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-all-tricks-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on/resnet50_model_120.pth')\"""",  # noqa: E501
    "Test_feat_after_bn-9-4-1_with_norm.sh":
        """python3 tools/test.py --config_file='configs/softmax_triplet.yml' MODEL.DEVICE_ID "('0')" DATASETS.NAMES "('market1501')" MODEL.IF_WITH_CENTER "('yes')" MODEL.METRIC_LOSS_TYPE "('triplet_center')" TEST.NECK_FEAT "('after')" TEST.FEAT_NORM "('yes')" TEST.WEIGHT "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-all-tricks-tri_center-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on-triplet_centerloss0_0005/resnet50_model_120.pth')\"""",  # noqa: E501
    "Test_reranking_feat_after_bn-9-4-1_with_norm.sh":
        """python3 tools/test.py --config_file='configs/softmax_triplet.yml' MODEL.DEVICE_ID "('0')" DATASETS.NAMES "('market1501')" MODEL.IF_WITH_CENTER "('yes')" MODEL.METRIC_LOSS_TYPE "('triplet_center')" TEST.NECK_FEAT "('after')" TEST.FEAT_NORM "('yes')" TEST.RE_RANKING "('yes')" TEST.WEIGHT "('/home/haoluo/log/gu/reid_baseline_review/Opensource_test/market1501/Experiment-all-tricks-tri_center-256x128-bs16x4-warmup10-erase0_5-labelsmooth_on-laststride1-bnneck_on-triplet_centerloss0_0005/resnet50_model_120.pth')\"""",  # noqa: E501
}
# The CPU budget appended to every command (its own values are for 256x128 images, 120 epochs, 16 x 4 batches).
BUDGET = ["INPUT.SIZE_TRAIN", "[32, 16]", "INPUT.SIZE_TEST", "[32, 16]", "SOLVER.MAX_EPOCHS", "1",
          "SOLVER.IMS_PER_BATCH", "8", "TEST.IMS_PER_BATCH", "32", "DATALOADER.NUM_WORKERS", "0",
          "SOLVER.EVAL_PERIOD", "1", "SOLVER.CHECKPOINT_PERIOD", "1", "SOLVER.LOG_PERIOD", "1"]
NEEDS_BACKBONE = {"Experiment-seresnext50-all_tricks-tri_center-market.sh": "se_resnext50",
                  "Experiment-resnet50_ibn_a-all_tricks-tri_center-market.sh": "resnet50_ibn_a"}
TRAIN_ID_COUNT = 8  # write_market's training identities


def tool_main(tool):
    try:
        return importlib.import_module(f"reid_gc.cli.{tool}").main
    except ImportError:
        return runpy.run_path(os.path.join(ROOT, "tools", f"{tool}.py"), run_name="tool")["main"]


def quoted(value):
    """The path inside its "('...')" quoting."""
    m = re.fullmatch(r"\('(.*)'\)", value)
    return m.group(1) if m else value


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """The generated Market-1501 tree, a torch hub cache with ResNet-50 ImageNet weights, an output root."""
    root = tmp_path_factory.mktemp("rsb")
    data = write_market(str(root / "data"))
    hub = root / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet50().state_dict(), hub / weights_file_name("resnet50"))
    return {"data": data, "torch_home": str(root / "torch"), "out": str(root / "out")}


def command(name, place):
    """(tool, argv) of script `name`: paths replaced, budget appended."""
    first_release = name in FIRST_RELEASE
    words = shlex.split(FIRST_RELEASE[name] if first_release else SCRIPTS[name])
    assert words[:2] in (["python3", "tools/train.py"], ["python3", "tools/test.py"])
    args = words[2:]
    out = os.path.join(place["out"], "first_release") if first_release else place["out"]
    for i, word in enumerate(args):
        if word == DATA:
            args[i] = f"('{place['data']}')"
        elif word.startswith("('" + LOG):
            args[i] = "('" + os.path.join(out, quoted(word)[len(LOG):]) + "')"
        elif args[i - 1] == "MODEL.PRETRAIN_PATH" and word.startswith("('/home/haoluo/"):  # ImageNet weights
            args[i] = "('" + os.path.join(place["out"], "weights", os.path.basename(quoted(word))) + "')"
        elif word.startswith("('/home/haoluo/"):
            raise AssertionError(f"a path of {name} is not replaced: {word}")
    if first_release:
        assert "DATASETS.ROOT_DIR" not in args
        args += ["DATASETS.ROOT_DIR", place["data"]]
    return os.path.basename(words[1])[:-3], args + BUDGET


def run(tool, argv, place, monkeypatch):
    monkeypatch.chdir(ROOT)  # the scripts run from the repository root (--config_file='configs/...')
    monkeypatch.setenv("TORCH_HOME", place["torch_home"])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES", ""))  # MODEL.DEVICE_ID
    # In-process, torch is loaded before the tools could ask OpenMP for passive waiting: its spinning threads
    # make a step on busy shared cores 20x slower than one thread (measured 14 s against 0.7 s).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    # the tools take over the 'reid_gc' and 'ignite' loggers (handlers, no propagation): give them back after
    loggers = [logging.getLogger(n) for n in ("reid_gc", "ignite")]
    saved = [(log.handlers[:], log.propagate, log.level) for log in loggers]
    try:
        tool_main(tool)(argv)
    finally:
        torch.set_num_threads(threads)
        for log, (handlers, propagate, level) in zip(loggers, saved):
            for h in log.handlers[:]:
                log.removeHandler(h)
                if h not in handlers:
                    h.close()
            for h in handlers:
                log.addHandler(h)
            log.propagate, log.level = propagate, level


def value_of(argv, key):
    return quoted(argv[argv.index(key) + 1])


def skip_without_backbone(name):
    from reid_gc.modeling.backbones import BACKBONES

    needed = NEEDS_BACKBONE.get(name)
    if needed and needed not in BACKBONES:
        pytest.skip(f"MODEL.NAME {needed} is not in this tree's backbone registry yet")


def _bn(state, prefix, n, weight=1.0):
    state.update({f"{prefix}.weight": torch.full((n,), weight), f"{prefix}.bias": torch.zeros(n),
                  f"{prefix}.running_mean": torch.zeros(n), f"{prefix}.running_var": torch.ones(n),
                  f"{prefix}.num_batches_tracked": torch.tensor(0)})


def se_resnext50_release_state():
    """The layout of pretrainedmodels' se_resnext50_32x4d-a260b3a4.pth, stated here: layer0 (7x7 conv1, bn1),
    bottlenecks of width planes * 4 / 64 * 32 with a grouped (32) 3x3 conv2, an SE module of two 1x1 convs with
    bias (reduction 16), 1x1 downsampling; an ImageNet last_linear. Random He-scaled weights; each block's last
    BN starts at 0 so the random net stays tame."""
    g = torch.Generator().manual_seed(0)
    state = {}

    def conv(name, cout, cin, k):
        state[name] = torch.randn(cout, cin, k, k, generator=g) * (2.0 / (cin * k * k)) ** 0.5

    conv("layer0.conv1.weight", 64, 3, 7)
    _bn(state, "layer0.bn1", 64)
    cin = 64
    for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
        width, out = planes * 4 // 64 * 32, planes * 4
        for b in range(blocks):
            p = f"layer{i + 1}.{b}"
            conv(f"{p}.conv1.weight", width, cin, 1)
            _bn(state, f"{p}.bn1", width)
            conv(f"{p}.conv2.weight", width, width // 32, 3)
            _bn(state, f"{p}.bn2", width)
            conv(f"{p}.conv3.weight", out, width, 1)
            _bn(state, f"{p}.bn3", out, weight=0.0)
            conv(f"{p}.se_module.fc1.weight", out // 16, out, 1)
            state[f"{p}.se_module.fc1.bias"] = torch.zeros(out // 16)
            conv(f"{p}.se_module.fc2.weight", out, out // 16, 1)
            state[f"{p}.se_module.fc2.bias"] = torch.zeros(out)
            if b == 0:
                conv(f"{p}.downsample.0.weight", out, cin, 1)
                _bn(state, f"{p}.downsample.1", out)
            cin = out
    state["last_linear.weight"] = torch.randn(1000, 2048, generator=g) * 0.01
    state["last_linear.bias"] = torch.zeros(1000)
    return state


def imagenet_file(path):
    """The ImageNet weights a script names by path, generated under that file name."""
    name = os.path.basename(path)
    if name == "se_resnext50_32x4d-a260b3a4.pth":
        state = se_resnext50_release_state()
    elif name == "ibn_a.pth":  # IBN-Net's ResNet-50-IBN-a file (conv1, bn1, layer*, fc), from the reference
        rsb_reference = pytest.importorskip("rsb_reference")
        torch.manual_seed(0)
        state = rsb_reference.RefIBNResNet(2).state_dict()
    else:
        raise AssertionError(f"no generated weights for {path}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(state, path)


def their_model_file(path, config, *opts, center=False):
    """A model file of reid-strong-baseline's form (its model's state dict; with its optimizer and center
    files beside it when `center`) for a random-weight ResNet-50 Baseline on the generated tree's ids."""
    cfg = load_config(config, ["MODEL.PRETRAIN_CHOICE", "scratch", *opts])
    torch.manual_seed(5)
    model = build_model(cfg, TRAIN_ID_COUNT)
    ours_only = [k for k in model.state_dict() if not k.startswith(("base.", "bottleneck.", "classifier."))]
    folder, name = os.path.split(path)
    epoch = int(name.split(".")[0].split("_")[-1])
    return write_their_run(folder, model, "resnet50", epoch, TRAIN_ID_COUNT if center else None, 2048,
                           optimizer="Adam" if center else None, extra_state=ours_only, steps=1)


EXPERIMENTS = [n for n in [*SCRIPTS, *FIRST_RELEASE] if n.startswith("Experiment-")]
TESTS = [n for n in SCRIPTS if n.startswith("Test")]
FIRST_RELEASE_TESTS = [n for n in FIRST_RELEASE if n.startswith("Test")]
# The CI set runs the main recipe's training script and its test script on a reid-strong-baseline file;
# the other scripts are the slow set.
CI_CASES = {"Experiment-all_tricks-tri_center-market.sh",
            ("Test-all_tricks-tri_center-feat_after_bn-cos-market.sh", "reid-strong-baseline state dict")}


def cases(values):
    return [pytest.param(*(v if isinstance(v, tuple) else (v,)), marks=() if v in CI_CASES else pytest.mark.slow)
            for v in values]


@pytest.mark.parametrize("name", cases(EXPERIMENTS))
def test_experiment_script_trains(name, place, monkeypatch):
    skip_without_backbone(name)
    tool, argv = command(name, place)
    out = value_of(argv, "OUTPUT_DIR")
    first = 1
    if name in NEEDS_BACKBONE:
        imagenet_file(value_of(argv, "MODEL.PRETRAIN_PATH"))
    if "MODEL.PRETRAIN_CHOICE" in argv:  # continues its run after epoch 2: the files are there, one more epoch
        their_model_file(value_of(argv, "MODEL.PRETRAIN_PATH"), "configs/softmax_triplet_with_center.yml",
                         center=True)
        argv += ["SOLVER.MAX_EPOCHS", "3"]
        first = 3
    run(tool, argv, place, monkeypatch)
    log = open(os.path.join(out, "log.txt")).read()
    assert f"Validation Results - Epoch: {first}" in log and "mAP: " in log
    assert f"Epoch[{first}] Iteration[1/" in log and f"Epoch[{first - 1}] Iteration" not in log
    assert os.path.isfile(os.path.join(out, f"checkpoint_{first}.pt"))
    if first == 3:
        assert "loaded model, optimizer (resnet50_optimizer_2.pth), centers (resnet50_center_param_2.pth)" in log


WEIGHTS = ("trained here", "reid-strong-baseline state dict")


@pytest.mark.parametrize("name, weights", cases([(n, w) for n in TESTS for w in WEIGHTS]
                                                + [(n, "trained here") for n in FIRST_RELEASE_TESTS]))
def test_test_script_evaluates(name, weights, place, monkeypatch, capsys):
    tool, argv = command(name, place)
    weight = value_of(argv, "TEST.WEIGHT")
    folder = os.path.dirname(weight)
    config = argv[0].split("=", 1)[1]
    if weights == "trained here":  # the Experiment script's run: its last epoch's checkpoint
        if not os.path.isfile(os.path.join(folder, "checkpoint_1.pt")):
            train = next(n for n in EXPERIMENTS if value_of(command(n, place)[1], "OUTPUT_DIR") == folder)
            run(*command(train, place), place, monkeypatch)
        argv[argv.index("TEST.WEIGHT") + 1] = os.path.join(folder, "checkpoint_1.pt")
    else:  # a file under the very name the script gives (resnet50_model_120.pth)
        their_model_file(weight, config)
    capsys.readouterr()
    run(tool, argv, place, monkeypatch)
    printed = capsys.readouterr().out
    assert "mAP: " in printed and "CMC curve, Rank-1  :" in printed
