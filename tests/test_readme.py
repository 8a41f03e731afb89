"""The README documents every config key, and CI runs exactly the README's test command."""
import os

from reid_gc.config.defaults import get_defaults

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def flat_keys(node, prefix=""):
    for k, v in node.items():
        if hasattr(v, "items"):
            yield from flat_keys(v, prefix + k + ".")
        else:
            yield prefix + k


def test_every_config_key_is_in_the_reference():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    missing = [k for k in flat_keys(get_defaults()) if f"| `{k}` |" not in readme]
    assert not missing


def test_ci_runs_the_readme_test_command():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    ci = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read().strip().splitlines()[-1]
    assert ci in readme
    assert "pytest" in ci
