"""The benchmark command runs and prints its table (no test asserts a time)."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

import minitl as tl

STAND_IN_CUPY = pathlib.Path(__file__).resolve().parent / "stand_in_cupy"


def run_bench(*args, env=None, expect_success=True):
    done = subprocess.run([sys.executable, "-m", "minitl", "bench", "--quick", *args],
                          capture_output=True, text=True, timeout=300, env=env)
    assert (done.returncode == 0) == expect_success, done.stderr
    return done.stdout if expect_success else done.stderr


def test_bench_prints_its_table():
    out = run_bench("--no-torch")
    header, row = out.splitlines()[:2]
    assert header.split() == ["workload", "minitl", "ms", "torch", "ms", "ratio", "minitl", "MB", "torch", "MB"]
    assert row.startswith("cnn-s train") and "time by part:" in out and "conv backward" in out


def test_bench_json_has_times_memory_and_breakdown():
    report = json.loads(run_bench("--no-torch", "--json"))
    result = report["results"]["cnn-s train"]["minitl"]
    assert result["seconds"] > 0 and result["peak_mb"] > 0
    assert set(result["breakdown"]) >= {"conv forward", "conv backward", "pooling", "optimizer", "other"}


def test_engines_take_turns_and_the_ratio_is_the_median_of_the_rounds(monkeypatch):
    """A slow spell (round 2: both engines 3x slower) must not move the ratio."""
    from minitl.lab import bench
    calls = []
    times = {"minitl": [0.10, 0.30, 0.11], "torch": [0.05, 0.15, 0.05]}

    def fake_measure(engine, workload, warmup, repeats, threads, device):
        calls.append(engine)
        seconds = times[engine][calls.count(engine) - 1]
        return {"seconds": seconds, "peak_mb": 100 * seconds, **({"breakdown": {"other": 1.0}} if engine == "minitl" else {})}

    monkeypatch.setattr(bench, "_measure", fake_measure)
    monkeypatch.setattr(bench, "_torch_available", lambda: True)
    report = bench.run(("cnn-s train",), rounds=3)
    assert calls == ["minitl", "torch"] * 3
    row = report["results"]["cnn-s train"]
    assert row["minitl"]["seconds"] == 0.11 and row["torch"]["seconds"] == 0.05
    assert row["ratio"] == pytest.approx(2.0)  # rounds: 2.0, 2.0, 2.2
    assert row["minitl"]["peak_mb"] == pytest.approx(30) and row["minitl"]["breakdown"] == {"other": 1.0}
    assert row["minitl"]["round_seconds"] == [0.10, 0.30, 0.11] and report["rounds"] == 3


def test_bench_on_cuda_runs_every_step_on_the_device():
    """With the NumPy stand-in for CuPy (see test_device_plumbing.py): the plumbing, not GPU speed."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(STAND_IN_CUPY), os.environ.get("PYTHONPATH")])))
    report = json.loads(run_bench("--no-torch", "--json", "--device", "cuda", env=env))
    assert report["device"] == "cuda"
    result = report["results"]["cnn-s train"]["minitl"]
    assert result["seconds"] > 0 and "breakdown" not in result  # a CPU profile says nothing about GPU time


@pytest.mark.skipif(tl.cuda.is_available(), reason="a GPU is present")
def test_bench_on_cuda_without_a_gpu_says_how_to_get_one():
    message = run_bench("--device", "cuda", expect_success=False)
    assert 'pip install "minitl[gpu]"' in message and "Traceback" not in message


def test_busy_mode_loads_every_core_while_measuring_and_stops_its_spinners(monkeypatch):
    from minitl.lab import bench
    seen = []

    def fake_run(*args, **kwargs):
        spinners = [line for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
                    if "while True: pass" in line]
        seen.append(len(spinners))
        return {"threads": 1, "device": "cpu", "rounds": 1, "results": {}}

    monkeypatch.setattr(bench, "run", fake_run)
    assert bench.main(["--busy", "--quick", "--json", "--no-torch"]) == 0
    assert seen[0] >= os.cpu_count()
    after = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert after.count("while True: pass") == seen[0] - os.cpu_count()  # ours are gone (others' may remain)
