"""The benchmark command runs and prints its table (no test asserts a time)."""
import json
import subprocess
import sys


def run_bench(*args):
    done = subprocess.run([sys.executable, "-m", "minitl", "bench", "--quick", *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


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
