"""reid_gc.utils.run_dir: the names a run writes, config records, archiving; atomic writes' file modes."""
import os
import stat

import pytest

from reid_gc.utils.atomic import write_json, write_text
from reid_gc.utils.run_dir import ARCHIVE, RunDir, checkpoint_name, is_artifact


def test_known_and_unknown_names():
    for name in ("log.txt", "config.yml", "config_resume_3.yml", "metrics.json", "epochs.json", "curves.png",
                 checkpoint_name(12), "model_best.pt", "ranked_final.png", "tensorboard", "test_log.txt",
                 ".metrics.json.abc123.tmp", "metrics.json.unreadable"):
        assert is_artifact(name), name
    for name in ("notes.txt", "my_data", "config.yaml", "checkpoint.pt.bak", ARCHIVE):
        assert not is_artifact(name), name


def test_archive_moves_every_artifact_and_nothing_else(tmp_path):
    run = RunDir(tmp_path)
    mine = {"notes.txt": "keep me", "data.csv": "1,2"}
    written = {"log.txt": "a", "config.yml": "b", "config_resume_1.yml": "c", "checkpoint_3.pt": "d",
               "metrics.json": "[]", "ranked_test.png": "e"}
    for name, text in {**mine, **written}.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "tensorboard").mkdir()
    (tmp_path / "tensorboard" / "events").write_text("f")
    dest = run.archive_previous_run()
    assert sorted(os.listdir(dest)) == sorted([*written, "tensorboard"])
    assert sorted(os.listdir(tmp_path)) == sorted([*mine, ARCHIVE])
    for name, text in written.items():
        assert open(os.path.join(dest, name)).read() == text
    # a second archive goes to its own folder; nothing to move gives None
    (tmp_path / "log.txt").write_text("again")
    second = run.archive_previous_run()
    assert second != dest and os.listdir(second) == ["log.txt"]
    assert run.archive_previous_run() is None


def test_config_records_are_numbered_and_never_replaced(tmp_path):
    run = RunDir(tmp_path)
    assert run.config_records() == [] and run.next_config_record(resumed=True) == str(tmp_path / "config.yml")
    (tmp_path / "config.yml").write_text("a")
    assert run.next_config_record(resumed=False) == str(tmp_path / "config.yml")  # a fresh run (archived first)
    assert run.next_config_record(resumed=True) == str(tmp_path / "config_resume_1.yml")
    for n in (1, 2, 10):
        (tmp_path / f"config_resume_{n}.yml").write_text(str(n))
    names = ("config.yml", "config_resume_1.yml", "config_resume_2.yml", "config_resume_10.yml")
    assert run.config_records() == [str(tmp_path / f) for f in names]
    assert run.next_config_record(resumed=True) == str(tmp_path / "config_resume_11.yml")


def test_history_keeps_the_last_entry_of_each_epoch(tmp_path):
    run = RunDir(tmp_path)
    for epoch, loss in ((1, 5.0), (2, 4.0), (2, 3.5), (3, 3.0)):
        run.record_epoch(epoch, loss, 0.5, 0.1)
    run.record_evaluation({"source": "test", "mAP": 0.9})
    run.record_evaluation({"source": "train", "epoch": 2, "mAP": 0.4, "rank1": 0.5})
    epochs, evals = run.history()
    assert [(e["epoch"], e["loss"]) for e in epochs] == [(1, 5.0), (2, 3.5), (3, 3.0)]
    assert [e["epoch"] for e in evals] == [2]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_follow_the_umask(tmp_path, umask):
    # issue 16, defect 10: mkstemp's 0600 survived the rename
    old = os.umask(umask)
    try:
        write_text(tmp_path / "a.txt", "x")
        write_json(tmp_path / "b.json", [1])
        plain = tmp_path / "plain.txt"
        with open(plain, "w") as f:  # what any other program gets
            f.write("x")
    finally:
        os.umask(old)
    want = 0o666 & ~umask
    for name in ("a.txt", "b.json", "plain.txt"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == want, name


def test_the_readme_lists_every_artifact():
    from reid_gc.utils.run_dir import ARTIFACTS

    readme = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")).read()
    assert [name for name in ARTIFACTS if f"| `{name}` |" not in readme] == []
