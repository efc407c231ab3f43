"""mutation/run.py's configuration: every part names code and tests that exist, in TOML cosmic-ray reads."""
import importlib.util
import pathlib

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = pathlib.Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("mutation_run", ROOT / "mutation" / "run.py")
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)


def test_the_parts_are_ops_nn_optim_and_autograd():
    assert set(run.PARTS) == {"ops", "nn", "optim", "autograd"}


@pytest.mark.parametrize("part", sorted(run.PARTS))
def test_each_part_mutates_its_code_and_runs_existing_tests(part):
    settings = tomllib.loads(run.config(part))["cosmic-ray"]
    assert settings["module-path"] == [f"minitl/{part}"] and (ROOT / "minitl" / part).is_dir()
    command = settings["test-command"].split()
    assert command[1:4] == ["-m", "pytest", "-x"]
    tests = [word for word in command if word.startswith("tests/")]
    assert tests and all((ROOT / t).is_file() for t in tests), tests
    assert settings["distributor"]["name"] == "local"
    assert any("BitOr" in pattern for pattern in settings["filters"]["operators-filter"]["exclude-operators"])
