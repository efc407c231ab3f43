"""The round-3 prototypes (benchmarks/layout_prototypes.py) compute what minitl's kernels compute: their
timings in docs/performance.md compare the same work."""
import pytest

from benchmarks import layout_prototypes
from minitl import threads


@pytest.mark.parametrize("channels, size", layout_prototypes.STAGES)
def test_prototypes_agree_with_the_kernels(channels, size):
    # conv forward, weight and input gradients; bn+relu output, dx, dgamma, dbeta: float32 rounding only
    differences = layout_prototypes.check(channels, size, batch=4)
    assert len(differences) == 7
    assert max(differences) < 1e-5


def test_the_script_runs_and_prints_a_row_per_stage(capsys):
    before = threads.get_num_threads()
    layout_prototypes.main(["--repeats", "1"])
    assert threads.get_num_threads() == before
    rows = capsys.readouterr().out.strip().splitlines()[1:]
    assert [row.split()[0] for row in rows] == [str(channels) for channels, _ in layout_prototypes.STAGES]
