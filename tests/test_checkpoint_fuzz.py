"""Seeded mutation fuzzing: every corrupted checkpoint loads as the reference reader loads it, or is refused cleanly.

400 mutants (100 of each: torch zip, torch legacy, safetensors, minitl's own
format) are loaded in child processes, a batch per file, each under a memory
cap and a per-file alarm. A mutant passes when it loads equal to what the
reference loaded (recorded by tests/fixtures/make_fuzz_fixtures.py), or
raises CheckpointError naming its path. A crash, a timeout, another
exception, or a load where the reference failed or loaded other values, is a
failure. tests/fuzz_checkpoints.py is the longer run.
"""
import json
import pathlib
import resource
import subprocess
import sys

import pytest

from checkpoint_fuzz import classify, mutants

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "fuzz_expected.json").read_text())
MEMORY_CAP = 2 << 30  # address space of a child: Python, NumPy and minitl take about 0.5 GiB of it
SECONDS_PER_FILE = 10


def limited():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def load_in_child(reader, paths):
    """One outcome per path (a missing one, after a crash, stays missing)."""
    result = subprocess.run([sys.executable, str(pathlib.Path(__file__).parent / "checkpoint_fuzz.py"), reader,
                             str(SECONDS_PER_FILE), *map(str, paths)], check=False, capture_output=True, text=True,
                            preexec_fn=limited, timeout=SECONDS_PER_FILE * len(paths),
                            env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PATH": "",
                                 "PYTHONPATH": str(pathlib.Path(__file__).parent.parent)})
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_mutated_checkpoints_load_as_the_reference_does_or_fail_cleanly(tmp_path, name):
    expected = EXPECTED[name]["digests"]
    paths = []
    for index, data in enumerate(mutants((FIXTURES / name).read_bytes(), EXPECTED[name]["seed"], len(expected))):
        paths.append(tmp_path / f"{index}-{name}")
        paths[-1].write_bytes(data)
    outcomes, stderr = load_in_child("minitl" if name.endswith(".minitl") else "torch", paths)
    assert len(outcomes) == len(paths), f"the child stopped after {len(outcomes)} files: {stderr[-2000:]}"
    clean, equal, bad = classify(outcomes, expected)
    assert bad == [], f"{len(bad)} bad outcomes of {len(paths)}: {bad[:5]}"
    assert clean + equal == len(paths) and clean > 0
