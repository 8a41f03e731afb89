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
    (["INPUT.RE_PROB", "1.5"], "INPUT.RE_PROB is a probability"),
    (["SOLVER.STEPS", "(70, 40)"], "SOLVER.STEPS must be increasing"),
    (["SOLVER.MAX_EPOCHS"], "has no value"),
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


def test_every_shipped_config_loads():
    import glob
    files = sorted(glob.glob("configs/*.yml"))
    assert len(files) >= 6
    for f in files:
        load_config(f)


def test_saved_config_reloads_to_the_same_values(tmp_path):
    from reid_gc.config import save_config
    cfg = load_config("configs/gc_sgd_gcc.yml", ["DATASETS.NAMES", "('market1501','dukemtmc')"])
    save_config(cfg, tmp_path / "config.yml")
    again = load_config(str(tmp_path / "config.yml"))
    assert again == cfg


def test_choices_name_real_keys_and_defaults_are_valid():
    cfg = get_defaults()
    for key, choices in CHOICES.items():
        node = cfg
        for part in key.split("."):
            node = node[part]
        assert node in choices, key
