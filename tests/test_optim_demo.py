"""demos/optimizers.py runs end to end (--quick) and writes its plots and table."""
import pathlib
import subprocess
import sys

import pytest

DEMO = pathlib.Path(__file__).resolve().parents[1] / "demos" / "optimizers.py"


def test_optimizer_demo_writes_plots_and_prints_the_table(tmp_path):
    pytest.importorskip("matplotlib")
    result = subprocess.run([sys.executable, str(DEMO), "--quick", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    names = ["trajectories_ravine.png", "trajectories_rosenbrock.png", "trajectories_saddle.png"]
    for name in names + ["mlp_loss_curves.png"]:
        png = tmp_path / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert png.stat().st_size > 10_000, name  # a real figure, not an empty canvas
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["function", "optimizer", "lr"]
    rows = [line.split() for line in lines if line.split()[:1] in (["ravine"], ["rosenbrock"], ["saddle"])]
    assert len(rows) == 18  # 3 functions x 6 optimizers
    assert {row[1] for row in rows} == {"SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam"}
    assert all(float(row[3]) >= 0 for row in rows)  # final f - min f
    start = next(i for i, line in enumerate(lines) if line.startswith("MLP on spirals"))
    mlp_rows = [line.split() for line in lines[start + 1:start + 7]]
    assert [row[0] for row in mlp_rows] == ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam"]
    assert all(float(row[2]) < 1.0 for row in mlp_rows)  # below ln 3, the loss of a uniform guess
