"""``python -m minitl bench`` (or ``minitl bench``): how fast minitl trains, next to PyTorch on the same CPU.

Workloads (float32, SGD with momentum 0.9):
  cnn-s train       CNN-S (conv3x3 3->32, ReLU, maxpool 2, conv3x3 32->64, ReLU, maxpool 2,
                    flatten, linear 4096->128, ReLU, linear 128->10), batch 64 of 3x32x32
  resnet20 train    the CIFAR ResNet-20, batch 64
  resnet20 infer    the ResNet-20 in eval mode without a graph, batch 256

Each workload runs in a fresh Python process (so peak memory is its own):
warm-up steps, then the median of timed repeats. When torch is importable,
the same models run in PyTorch with the same number of threads, the two
engines taking turns over a few rounds, and the table gives minitl / PyTorch. A per-layer-type breakdown (from cProfile's
own time per function, grouped by the file that defines it) shows where
minitl's train step spends its time (on the CPU only: on a GPU, Python just
queues the kernels). ``--device cuda`` runs both engines on the GPU, waiting
for its queue at the end of every step. PyTorch is optional: it is imported
only inside the functions that time it.
"""
import argparse
import contextlib
import cProfile
import importlib.util
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time

import minitl
from minitl import backend
from minitl.lab.torch_models import cnn_s, torch_resnet20

WORKLOADS = ("cnn-s train", "resnet20 train", "resnet20 infer")
ROOT = os.path.dirname(os.path.dirname(minitl.__file__))  # the folder holding this minitl: workers import it from there


def _peak_rss_mb():
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb():
    """This process's resident memory now, in MiB; the peak where /proc is missing (not Linux).

    The baseline must be the current size: a peak reached earlier (by a
    short-lived import buffer) would hide the growth of a small workload.
    """
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except OSError:
        return _peak_rss_mb()


def median_time(step, warmup, repeats, clock=time.perf_counter):
    """Median seconds of `repeats` calls of step() after `warmup` untimed ones, by `clock` (wall time;
    ``time.process_time`` for this process's CPU time)."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = clock()
        step()
        times.append(clock() - start)
    return statistics.median(times)


# -- minitl ------------------------------------------------------------------------------
def minitl_step(workload, device):
    """A function running one step of `workload` ("cnn-s train", "resnet20 train" or "resnet20 infer")."""
    import minitl as tl
    from minitl import models, nn, optim
    from minitl.nn import functional as F

    tl.manual_seed(0)
    model = cnn_s(nn) if workload.startswith("cnn-s") else models.resnet20()
    model.to(device)
    batch = 256 if workload.endswith("infer") else 64
    x = tl.randn(batch, 3, 32, 32, device=device)
    y = tl.tensor(list(range(10)) * (batch // 10) + list(range(batch % 10)), device=device)
    if workload.endswith("infer"):
        model.eval()

        def step():
            with tl.no_grad():
                model(x)
            backend.synchronize(device)
        return step
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        backend.synchronize(device)  # GPU work is queued: the step has taken its time once the queue is done
    return step


# Entry points whose cumulative time is a part of the engine: (file ending, function) -> part. Forward
# passes are counted at the functional entry points, not at the Functions' `forward`: a backward runs
# other Functions' forward (conv's input gradient is a transposed convolution), which is backward time.
PARTS = {
    ("nn/conv.py", "conv2d"): "conv forward", ("nn/conv.py", "backward"): "conv backward",
    ("nn/normalization.py", "batch_norm"): "batchnorm", ("nn/normalization.py", "backward"): "batchnorm",
    ("nn/pooling.py", "max_pool2d"): "pooling", ("nn/pooling.py", "avg_pool2d"): "pooling",
    ("nn/pooling.py", "backward"): "pooling",
    ("optim/optimizer.py", "step"): "optimizer",
}


def _breakdown(step):
    """Seconds of one step per part of the engine; 'other' is the rest (ReLU, linear, loss, autograd...)."""
    profile = cProfile.Profile()
    profile.runcall(step)
    stats = pstats.Stats(profile)
    totals = {}
    for (filename, _, function), row in stats.stats.items():
        for (ending, name), part in PARTS.items():
            if filename.replace(os.sep, "/").endswith(ending) and function == name:
                totals[part] = totals.get(part, 0.0) + row[3]  # row[3]: time including what it calls
    totals["other"] = stats.total_tt - sum(totals.values())
    return totals


# -- PyTorch -----------------------------------------------------------------------------
def _torch_step(workload, device):
    import torch
    import torch.nn as tnn

    torch.manual_seed(0)
    if workload.startswith("cnn-s"):
        model = cnn_s(tnn)
    else:
        # The same ResNet-20 built from minitl's definition.
        from minitl import models
        model = torch_resnet20(models.resnet20())
    model.to(device)
    batch = 256 if workload.endswith("infer") else 64
    x, y = torch.randn(batch, 3, 32, 32, device=device), torch.arange(batch, device=device) % 10

    def synchronize():
        if device == "cuda":
            torch.cuda.synchronize()

    if workload.endswith("infer"):
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
            synchronize()
        return step
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        loss = tnn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        synchronize()
    return step


# -- one measurement per process ------------------------------------------------------------
def _worker(engine, workload, warmup, repeats, threads, device):
    if engine == "torch":
        import torch
        torch.set_num_threads(threads)
    else:
        minitl.set_num_threads(threads)
    before = _current_rss_mb()  # after the imports (minitl's came with this module): model, data and steps count
    step = _torch_step(workload, device) if engine == "torch" else minitl_step(workload, device)
    seconds = median_time(step, warmup, repeats)
    result = {"seconds": seconds, "peak_mb": _peak_rss_mb() - before}
    # On a GPU, Python only queues the kernels: a Python profile cannot say where the GPU's time goes.
    if engine == "minitl" and workload.endswith("train") and device == "cpu":
        result["breakdown"] = _breakdown(step)
    print(json.dumps(result))


def _measure(engine, workload, warmup, repeats, threads, device):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "minitl", "bench", "--worker", engine, workload,
               "--warmup", str(warmup), "--repeats", str(repeats), "--threads", str(threads), "--device", device]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{engine} {workload} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _torch_available():
    return importlib.util.find_spec("torch") is not None  # without importing it


def _combine(rounds):
    """One engine's rounds as one result: the median time, the largest memory, the first breakdown."""
    result = {"seconds": statistics.median(r["seconds"] for r in rounds),
              "round_seconds": [r["seconds"] for r in rounds], "peak_mb": max(r["peak_mb"] for r in rounds)}
    if "breakdown" in rounds[0]:
        result["breakdown"] = rounds[0]["breakdown"]
    return result


@contextlib.contextmanager
def busy_cores(count):
    """`count` background processes spinning in a Python loop (a laptop running other programs).

    Both engines then compete for the cores with them: the point is the ratio under load, where
    BLAS threads that spin-wait at their barriers can make an engine collapse.
    """
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def run(workloads=WORKLOADS, warmup=2, repeats=5, rounds=3, threads=None, compare=True, device="cpu"):
    """Each workload in `rounds` rounds, the engines taking turns within a round. A shared machine
    has slow spells that last seconds: they slow both engines of a round alike, so the ratio is the
    median of the rounds' ratios, which such a spell moves far less than one long run of each."""
    threads = threads or os.cpu_count()
    engines = ("minitl", "torch") if compare and _torch_available() else ("minitl",)
    results = {}
    for workload in workloads:
        measured = {engine: [] for engine in engines}
        for _ in range(rounds):
            for engine in engines:
                measured[engine].append(_measure(engine, workload, warmup, repeats, threads, device))
        row = {engine: _combine(measured[engine]) for engine in engines}
        if "torch" in row:
            row["ratio"] = statistics.median(mine["seconds"] / theirs["seconds"]
                                             for mine, theirs in zip(measured["minitl"], measured["torch"]))
        results[workload] = row
    return {"threads": threads, "device": device, "rounds": rounds, "results": results}


def format_table(report):
    lines = [f"{'workload':<16}{'minitl ms':>11}{'torch ms':>10}{'ratio':>8}{'minitl MB':>11}{'torch MB':>10}"]
    for workload, row in report["results"].items():
        torch_row = row.get("torch")
        lines.append(f"{workload:<16}{1000 * row['minitl']['seconds']:>11.1f}"
                     + (f"{1000 * torch_row['seconds']:>10.1f}{row['ratio']:>7.2f}x" if torch_row else f"{'-':>10}{'-':>8}")
                     + f"{row['minitl']['peak_mb']:>11.0f}" + (f"{torch_row['peak_mb']:>10.0f}" if torch_row else f"{'-':>10}"))
    busy = " every core busy;" if report.get("busy") else ""
    lines.append(f"(device {report['device']}; {report['threads']} threads;{busy} ms: median over {report['rounds']} "
                 "rounds of the median of timed repeats after warm-up; ratio: median of the rounds' ratios; "
                 "MB = peak RSS growth, host memory only)")
    for workload, row in report["results"].items():
        breakdown = row["minitl"].get("breakdown")
        if breakdown:
            total = sum(breakdown.values())
            parts = ", ".join(f"{name} {100 * seconds / total:.0f}%"
                              for name, seconds in sorted(breakdown.items(), key=lambda item: -item[1]))
            lines.append(f"{workload} time by part: {parts}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minitl bench", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 warm-up and 1 repeat, CNN-S only")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument("--threads", type=int, default=None, help="threads for both engines (default: all cores)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the engines taking turns in each (default 3)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (both engines run there)")
    parser.add_argument("--busy", action="store_true",
                        help="keep every core busy with a background process while measuring (a loaded machine)")
    parser.add_argument("--worker", nargs=2, metavar=("ENGINE", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    device = backend.normalize_device(args.device)
    if args.worker:
        _worker(*args.worker, args.warmup, args.repeats, args.threads or os.cpu_count(), device)
        return 0
    try:
        backend.module_for(device)  # 'cuda' without CuPy or a GPU: say so once, before any worker starts
    except RuntimeError as err:
        parser.exit(2, f"bench: {err}\n")
    workloads, warmup, repeats, rounds = ((("cnn-s train",), 1, 1, 1) if args.quick
                                          else (WORKLOADS, args.warmup, args.repeats, args.rounds))
    with busy_cores(os.cpu_count() if args.busy else 0):
        report = run(workloads, warmup=warmup, repeats=repeats, rounds=rounds, threads=args.threads,
                     compare=not args.no_torch, device=device)
    report["busy"] = args.busy
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0
