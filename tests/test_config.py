import os

import pytest

from reid_gc.config import load_config
from reid_gc.config.defaults import CHOICES, get_defaults
from reid_gc.utils.errors import UserError


def write(tmp_path, text, name="c.yml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_merge_order_defaults_then_file_then_command_line(tmp_path):
    f = write(tmp_path, "SOLVER:\n  BASE_LR: 0.01\n  MAX_EPOCHS: 7\n")
    cfg = load_config(f, ["SOLVER.BASE_LR", "0.03"])
    assert cfg.SOLVER.BASE_LR == 0.03  # command line wins over the file
    assert cfg.SOLVER.MAX_EPOCHS == 7  # file wins over the defaults
    assert cfg.SOLVER.MOMENTUM == 0.9  # default kept
    assert cfg.is_frozen()


def test_strong_baseline_command_line_spellings():
    cfg = load_config("", ["MODEL.DEVICE_ID", "('0')", "DATASETS.NAMES", "('market1501')",
                           "DATASETS.ROOT_DIR", "('/data')", "OUTPUT_DIR", "('out/market')",
                           "SOLVER.OPTIMIZER_NAME", "('SGD')"])
    assert cfg.MODEL.DEVICE_ID == "0"
    assert cfg.DATASETS.NAMES == ("market1501",)
    assert cfg.DATASETS.ROOT_DIR == "/data"
    assert cfg.OUTPUT_DIR == "out/market"
    assert cfg.SOLVER.OPTIMIZER_NAME == "SGD"


def test_several_dataset_names_and_friendly_coercions(tmp_path):
    f = write(tmp_path, "MODEL:\n  IF_WITH_CENTER: yes\n  METRIC_LOSS_TYPE: center\n  IF_LABELSMOOTH: off\n")
    cfg = load_config(f, ["DATASETS.NAMES", "('market1501','dukemtmc')", "SOLVER.WEIGHT_DECAY", "0",
                          "SOLVER.STEPS", "40", "MODEL.DEVICE_ID", "1", "SOLVER.MAX_EPOCHS", "12.0"])
    assert cfg.DATASETS.NAMES == ("market1501", "dukemtmc")
    assert cfg.SOLVER.WEIGHT_DECAY == 0.0 and isinstance(cfg.SOLVER.WEIGHT_DECAY, float)
    assert cfg.SOLVER.STEPS == (40,)
    assert cfg.MODEL.DEVICE_ID == "1"
    assert cfg.SOLVER.MAX_EPOCHS == 12 and isinstance(cfg.SOLVER.MAX_EPOCHS, int)
    # yaml reads bare yes/off as booleans; they come back in each key's own spelling
    assert cfg.MODEL.IF_WITH_CENTER == "yes" and cfg.MODEL.IF_LABELSMOOTH == "off"


@pytest.mark.parametrize("opts, expected", [
    (["SOLVER.BASE_LRR", "0.1"], "unknown config key SOLVER.BASE_LRR (command line): did you mean SOLVER.BASE_LR"),
    (["SOLVER.MAX_EPOCHS", "'ten'"], "config key SOLVER.MAX_EPOCHS must be an integer"),
    (["SOLVER.MAX_EPOCHS", "1.5"], "config key SOLVER.MAX_EPOCHS must be an integer"),
    (["SOLVER.BASE_LR", "fast"], "config key SOLVER.BASE_LR must be a number"),
    (["MODEL.NECK", "bnnek"], "config key MODEL.NECK is 'bnnek'; accepted values: bnneck, no"),
    (["MODEL.NAME", "resnet51"], "accepted values: resnet18, resnet34, resnet50, resnet101, resnet152"),
    (["DATALOADER.SAMPLER", "softmax_triplet", "SOLVER.IMS_PER_BATCH", "60", "DATALOADER.NUM_INSTANCE", "8"],
     "SOLVER.IMS_PER_BATCH (60) must be a multiple of DATALOADER.NUM_INSTANCE (8)"),
    (["MODEL.METRIC_LOSS_TYPE", "center"], "needs MODEL.IF_WITH_CENTER 'yes'"),
    (["MODEL.IF_WITH_CENTER", "yes"], "needs MODEL.METRIC_LOSS_TYPE 'center' or 'triplet_center'"),
    (["INPUT.SIZE_TRAIN", "[256]"], "config key INPUT.SIZE_TRAIN must be [height, width]"),
    (["INPUT.RE_PROB", "1.5"], "config key INPUT.RE_PROB must lie in [0, 1], got 1.5"),
    (["SOLVER.STEPS", "(70, 40)"], "SOLVER.STEPS must be increasing"),
    (["SOLVER.MAX_EPOCHS"], "has no value"),
    # issue 16, defects 1 and 9: values that used to pass and fail much later, or crash
    (["TEST.RE_RANKING_LAMBDA", "1.5"], "config key TEST.RE_RANKING_LAMBDA must lie in [0, 1], got 1.5"),
    (["INPUT.PADDING", "-3"], "config key INPUT.PADDING must lie in [0, inf), got -3"),
    (["SOLVER.SEED", "-1"], "config key SOLVER.SEED must lie in [0, 4294967295], got -1"),
    (["SOLVER.CENTER_LR", "-1"], "config key SOLVER.CENTER_LR must lie in (0, inf), got -1.0"),
    (["INPUT.SIZE_TRAIN", "[8, 32]"], "config key INPUT.SIZE_TRAIN must have every value in [16, inf), got [8, 32]"),
    (["INPUT.SIZE_TRAIN", "[64.5, 32]"], "config key INPUT.SIZE_TRAIN must be a list of integers"),
    (["SOLVER.BASE_LR", "nan"], "config key SOLVER.BASE_LR must be a number"),
    (["DATASETS.SYNTHETIC.NUM_CAMERAS", "1"], "DATASETS.SYNTHETIC.NUM_CAMERAS must be 2..9"),
    (["SOLVER.OPTIMIZER_NAME", "SGD_GCCC"], "SOLVER.OPTIMIZER_NAME: unknown optimizer 'SGD_GCCC'"),
])
def test_config_errors_are_one_line_and_name_the_key(opts, expected):
    with pytest.raises(UserError) as e:
        load_config("", opts)
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


def test_file_errors(tmp_path):
    with pytest.raises(UserError, match="config file .*missing.yml not found"):
        load_config(str(tmp_path / "missing.yml"))
    with pytest.raises(UserError, match="not valid YAML at line 2"):
        load_config(write(tmp_path, "SOLVER:\n\tBASE_LR: 0.1\n"))
    with pytest.raises(UserError, match=r"unknown config key SOLVER.FOO \(.*c.yml\)"):
        load_config(write(tmp_path, "SOLVER:\n  FOO: 1\n"))


def test_output_dir_defaults_to_out_config_name(tmp_path):
    cfg = load_config(write(tmp_path, "SOLVER:\n  MAX_EPOCHS: 3\n", name="myexp.yml"))
    assert cfg.OUTPUT_DIR.replace("\\", "/") == "out/myexp"


def _as_written(value):
    """What a yml value means, stated simply: "('x')" / "(40, 70)" are Python tuples, bare yes/no are words."""
    import ast

    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.startswith("("):
        value = ast.literal_eval(value)
        return [value] if isinstance(value, str) else list(value)
    return list(value) if isinstance(value, (list, tuple)) else value


def test_every_shipped_config_loads_with_the_values_it_states():
    import glob

    import yaml

    files = sorted(glob.glob("configs/*.yml"))
    assert len(files) >= 6
    for f in files:
        cfg = load_config(f)
        with open(f) as fh:
            data = yaml.safe_load(fh)
        for section, values in data.items():
            items = values.items() if isinstance(values, dict) else [(None, values)]
            for key, want in items:
                got = cfg[section] if key is None else cfg[section][key]
                if isinstance(want, dict):  # DATASETS.SYNTHETIC
                    for k, v in want.items():
                        assert got[k] == v, (f, section, key, k)
                    continue
                got = list(got) if isinstance(got, (list, tuple)) else got
                want = _as_written(want)
                if section == "OUTPUT_DIR" and not want:  # '' means out/<config name>
                    want = os.path.join("out", os.path.splitext(os.path.basename(f))[0])
                if isinstance(want, bool):
                    want = {True: ("yes", "on"), False: ("no", "off")}[want]
                    assert got in want, (f, section, key)
                else:
                    assert got == want, (f, section, key)
    # two values pinned by hand, in the strong baseline's spellings
    cfg = load_config("configs/softmax_triplet_with_center.yml")
    assert cfg.DATASETS.NAMES == ("market1501",) and cfg.SOLVER.STEPS == (40, 70) and cfg.SOLVER.BASE_LR == 0.00035


def test_saved_config_reloads_to_the_same_values(tmp_path):
    from reid_gc.config import save_config
    cfg = load_config("configs/gc_sgd_gcc.yml", ["DATASETS.NAMES", "('market1501','dukemtmc')"])
    save_config(cfg, tmp_path / "config.yml")
    again = load_config(str(tmp_path / "config.yml"))
    assert again == cfg


def test_choices_name_real_keys_and_defaults_are_valid():
    from reid_gc.config.load import allowed_values

    cfg = get_defaults()
    for key, choices in allowed_values().items():
        node = cfg
        for part in key.split("."):
            node = node[part]
        assert node in choices, key


# ------------------------------------------------------------------------------- ranges (issue 16, defect 1)
def _numeric_keys(node, prefix=""):
    for k, v in node.items():
        if hasattr(v, "items"):
            yield from _numeric_keys(v, prefix + k + ".")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield prefix + k
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, (int, float)) for x in v):
            yield prefix + k


def test_every_numeric_key_has_a_declared_range_or_choices():
    from reid_gc.config.defaults import RANGES

    missing = [k for k in _numeric_keys(get_defaults()) if k not in RANGES and k not in CHOICES]
    assert missing == []


# (key, a value on the boundary that is accepted, the nearest value that is refused), stated by hand.
BOUNDARIES = [
    ("TEST.RE_RANKING_LAMBDA", "0", "-0.01"), ("TEST.RE_RANKING_LAMBDA", "1", "1.01"),
    ("INPUT.PROB", "1", "1.001"), ("INPUT.RE_PROB", "0", "-0.5"),
    ("SOLVER.MOMENTUM", "0", "1"), ("SOLVER.BASE_LR", "1e-9", "0"), ("SOLVER.GAMMA", "0.5", "0"),
    ("SOLVER.MAX_EPOCHS", "1", "0"), ("SOLVER.WARMUP_ITERS", "0", "-1"), ("SOLVER.SEED", "4294967295", "4294967296"),
    ("SOLVER.MARGIN", "0", "-0.1"), ("INPUT.PADDING", "0", "-1"), ("DATALOADER.NUM_WORKERS", "0", "-1"),
    ("TEST.VISUALIZE", "0", "-1"), ("TEST.RE_RANKING_K2", "1", "0"), ("SOLVER.CENTER_LR", "0.01", "0"),
    ("INPUT.PIXEL_STD", "[0.1, 0.1, 0.1]", "[0.1, 0.0, 0.1]"), ("INPUT.PIXEL_MEAN", "[0, 1, 0.5]", "[0, 1.5, 0.5]"),
    ("SOLVER.STEPS", "[0, 5]", "[-1, 5]"), ("INPUT.SIZE_TEST", "[16, 16]", "[16, 15]"),
]


@pytest.mark.parametrize("key, good, bad", BOUNDARIES)
def test_range_boundaries(key, good, bad):
    load_config("", [key, good])
    with pytest.raises(UserError) as e:
        load_config("", [key, bad])
    assert str(e.value).startswith(f"config key {key} must")


def test_integer_list_given_as_floats_becomes_integers():
    cfg = load_config("", ["INPUT.SIZE_TRAIN", "[64.0, 32]"])
    assert cfg.INPUT.SIZE_TRAIN == [64, 32] and all(type(x) is int for x in cfg.INPUT.SIZE_TRAIN)


def test_output_dir_that_is_a_file_is_refused_at_load(tmp_path):
    f = tmp_path / "taken"
    f.write_text("x")
    with pytest.raises(UserError, match=f"OUTPUT_DIR {f} is a file, not a folder"):
        load_config("", ["OUTPUT_DIR", str(f)])


# ---------------------------------------------------------------- strings stay strings (issue 16, defect 4)
@pytest.mark.parametrize("given, expected", [
    ("0,1", "0,1"), ("'0,1'", "0,1"), ("('0,1')", "0,1"), ("('0')", "0"), ("0", "0"), ("1", "1")])
def test_device_id_from_the_command_line(given, expected):
    assert load_config("", ["MODEL.DEVICE_ID", given]).MODEL.DEVICE_ID == expected


@pytest.mark.parametrize("line, expected", [
    ("DEVICE_ID: '0,1'", "0,1"), ("DEVICE_ID: 0,1", "0,1"), ("DEVICE_ID: ('0')", "0"), ("DEVICE_ID: 2", "2")])
def test_device_id_from_a_file(tmp_path, line, expected):
    cfg = load_config(write(tmp_path, f"MODEL:\n  {line}\n"))
    assert cfg.MODEL.DEVICE_ID == expected


@pytest.mark.parametrize("text", ["1e3", "0x10", "12", "0,1", "None", "True", "[x]", "a: b", "# not a comment",
                                  "'quoted'", "('x')", "('a','b')", "[1, 2]", "\"dq\"", "yes", "~user-less", ""])
def test_saved_config_loads_back_equal_whatever_the_strings(tmp_path, monkeypatch, text):
    from reid_gc.config import save_config
    from reid_gc.data.datasets import DATASETS

    monkeypatch.setitem(DATASETS, text or "x", DATASETS["market1501"])  # names are checked at load
    cfg = get_defaults()
    cfg.OUTPUT_DIR = str(tmp_path / "o") + text  # a folder whose name ends in the text
    cfg.MODEL.DEVICE_ID = text
    cfg.TEST.WEIGHT = text
    cfg.DATASETS.NAMES = ("market1501", text or "x")
    save_config(cfg, tmp_path / "config.yml")
    again = load_config(str(tmp_path / "config.yml"))
    assert again.MODEL.DEVICE_ID == text and again.TEST.WEIGHT == os.path.expanduser(text)
    assert again.OUTPUT_DIR == cfg.OUTPUT_DIR and again.DATASETS.NAMES == cfg.DATASETS.NAMES
    # and a second save writes the same file
    save_config(again, tmp_path / "again.yml")
    assert (tmp_path / "again.yml").read_text() == (tmp_path / "config.yml").read_text()


def test_output_dir_digits_stay_as_written():
    assert load_config("", ["OUTPUT_DIR", "1e3"]).OUTPUT_DIR == "1e3"
    assert load_config("", ["OUTPUT_DIR", "0x10"]).OUTPUT_DIR == "0x10"


# ------------------------------------------------------------------ '~' in every path key (issue 16, defect 12)
def test_tilde_is_expanded_in_every_path_key(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "w.pt").write_bytes(b"")
    cfg = load_config("", ["OUTPUT_DIR", "~/out", "TEST.WEIGHT", "~/w.pt", "MODEL.PRETRAIN_PATH", "~/r.pth",
                           "SOLVER.RESUME", "~/c.pt", "DATASETS.ROOT_DIR", "~/data"])
    h = str(tmp_path)
    assert (cfg.OUTPUT_DIR, cfg.TEST.WEIGHT, cfg.MODEL.PRETRAIN_PATH, cfg.SOLVER.RESUME, cfg.DATASETS.ROOT_DIR) == (
        f"{h}/out", f"{h}/w.pt", f"{h}/r.pth", f"{h}/c.pt", f"{h}/data")


# ------------------------------------------------------------------------- one source per list (issue 11, 5)
def test_owned_choices_come_from_their_modules():
    from reid_gc.config.load import allowed_values
    from reid_gc.evaluation.distance import METRICS
    from reid_gc.modeling.backbones import BACKBONES

    values = allowed_values()
    assert values["MODEL.NAME"] == tuple(BACKBONES) and values["TEST.DISTANCE"] == tuple(METRICS)
    assert values["DATALOADER.SAMPLER"] == ("softmax", "triplet", "softmax_triplet")
    assert values["MODEL.IF_LABELSMOOTH"] == ("on", "off")
