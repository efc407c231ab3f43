"""minitl's threads (minitl/threads.py): the pool itself, and the same results on one thread and on several.

The parallel paths run only for arrays of at least threads.MIN_PARALLEL_SIZE elements; the tests lower
it to 1 so that small, fast cases take the parallel path of every layer.
"""
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import minitl as tl
from minitl import models, nn, optim, threads
from minitl.nn import functional as F


@pytest.fixture
def restore_threads():
    before = tl.get_num_threads()
    yield
    tl.set_num_threads(before)


@pytest.fixture
def parallel_everywhere(monkeypatch, restore_threads):
    monkeypatch.setattr(threads, "MIN_PARALLEL_SIZE", 1)


@pytest.mark.skipif("MINITL_NUM_THREADS" in os.environ, reason="MINITL_NUM_THREADS sets another default")
def test_default_is_the_cores_this_process_may_use(restore_threads):
    assert tl.get_num_threads() == threads._cores() >= 1
    tl.set_num_threads(3)
    assert tl.get_num_threads() == 3


def _threads_in_a_fresh_process(setting):
    env = dict(os.environ, MINITL_NUM_THREADS=setting)
    return subprocess.run([sys.executable, "-c", "import minitl; print(minitl.get_num_threads())"],
                          capture_output=True, text=True, env=env)


def test_minitl_num_threads_sets_the_default():
    done = _threads_in_a_fresh_process("3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"


@pytest.mark.parametrize("bad", ["0", "two", "-1", ""])
def test_a_bad_minitl_num_threads_is_named(bad):
    done = _threads_in_a_fresh_process(bad)
    assert done.returncode != 0
    assert "MINITL_NUM_THREADS must be a positive whole number" in done.stderr


BAD_THREAD_COUNTS = [(0, "expects a positive integer"), (-1, "expects a positive integer"),
                     (1.5, "expects an int, but got float"), ("2", "expects an int, but got str"),
                     (True, "expects an int, but got bool"), (None, "expects an int, but got NoneType")]


@pytest.mark.parametrize("bad, message", BAD_THREAD_COUNTS)
def test_set_num_threads_refuses_what_is_not_a_positive_int(bad, message, restore_threads):
    with pytest.raises(RuntimeError, match=message):
        tl.set_num_threads(bad)
    assert tl.get_num_threads() >= 1


@pytest.mark.torch
@pytest.mark.parametrize("bad, message", BAD_THREAD_COUNTS)
def test_set_num_threads_errors_are_torchs(bad, message):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        with pytest.raises(RuntimeError) as theirs:
            torch.set_num_threads(bad)
    finally:
        torch.set_num_threads(before)
    with pytest.raises(RuntimeError) as ours:
        tl.set_num_threads(bad)
    assert str(ours.value) == str(theirs.value)


def test_parallel_map_is_the_list_comprehension(restore_threads):
    tl.set_num_threads(3)
    pieces = list(range(37))
    assert threads.parallel_map(lambda k: k * k, pieces) == [k * k for k in pieces]
    assert threads.parallel_map(lambda k: k, []) == []


def test_pieces_really_run_at_the_same_time(restore_threads):
    """Two pieces that each wait for the other finish only if two threads run them at once."""
    tl.set_num_threads(2)
    both_started = threading.Barrier(2, timeout=30)
    names = threads.parallel_map(lambda _: (both_started.wait(), threading.current_thread().name)[1], [0, 1])
    assert len(set(names)) == 2


def test_one_thread_runs_everything_on_the_caller(restore_threads):
    tl.set_num_threads(1)
    names = threads.parallel_map(lambda _: threading.current_thread().name, range(5))
    assert set(names) == {threading.current_thread().name}


def test_an_exception_in_a_piece_is_raised_to_the_caller(restore_threads):
    tl.set_num_threads(2)

    def fail_on_three(k):
        if k == 3:
            raise KeyError("piece three")
        return k
    with pytest.raises(KeyError, match="piece three"):
        threads.parallel_map(fail_on_three, range(8))
    assert threads.parallel_map(fail_on_three, [0, 1]) == [0, 1]  # the pool still works


def test_a_parallel_call_inside_a_piece_runs_serially(restore_threads):
    tl.set_num_threads(2)
    inner = threads.parallel_map(lambda k: threads.parallel_map(lambda j: j + k, range(4)), range(4))
    assert inner == [[j + k for j in range(4)] for k in range(4)]


def test_two_user_threads_can_compute_at_once(restore_threads):
    tl.set_num_threads(2)
    results = {}

    def user_thread(k):
        results[k] = threads.parallel_map(lambda j: j * k, range(50))
    workers = [threading.Thread(target=user_thread, args=(k,)) for k in (1, 2, 3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert results == {k: [j * k for j in range(50)] for k in (1, 2, 3)}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_makes_its_own_pool(restore_threads):
    """The child inherits the pool object but not its threads: work submitted there would never run."""
    import multiprocessing
    tl.set_num_threads(2)
    threads.parallel_map(lambda k: k, range(4))  # the parent's pool exists now
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=lambda: queue.put(threads.parallel_map(lambda k: k * k, range(6))))
    child.start()
    child.join(timeout=60)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive, "the forked child hung in parallel_map"
    assert queue.get(timeout=10) == [k * k for k in range(6)]


@pytest.mark.parametrize("length, pieces", [(10, 3), (2, 5), (64, 2), (1, 1), (7, 7)])
def test_split_covers_the_range_evenly(length, pieces):
    slices = threads.split(length, pieces)
    covered = [i for s in slices for i in range(length)[s]]
    assert covered == list(range(length))
    sizes = [s.stop - s.start for s in slices]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


def test_small_work_is_not_split(restore_threads):
    tl.set_num_threads(2)
    assert threads.blocks(64, threads.MIN_PARALLEL_SIZE - 1) == [slice(0, 64)]
    assert len(threads.blocks(64, threads.MIN_PARALLEL_SIZE)) == 2
    assert threads.rows(np.float32(3.0).reshape(())) == [...]


BLAS_THREADS = """
import json, sys, threading, numpy, threadpoolctl
def blas_threads():
    return [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
own = blas_threads()
import minitl as tl
from minitl import nn, threads
from minitl.autograd import Function
seen = {"after import": blas_threads()}
tl.set_num_threads(int(sys.argv[1]))
seen["after set_num_threads"] = blas_threads()

class Probe(nn.Module):  # records BLAS's threads in a module's forward and in the backward pass
    def forward(self, x):
        return ProbeFunction()(x)

class ProbeFunction(Function):
    def forward(self, x):
        seen["in a forward"] = blas_threads()
        return x
    def backward(self, gy):
        seen["in a backward"] = blas_threads()
        return (gy,)

threads.MIN_PARALLEL_SIZE = 1  # every layer takes its parallel path
seen["in a parallel piece"] = threads.parallel_map(lambda _: blas_threads(), range(3))[-1]
with threads.blas_held:
    with threads.blas_held:
        pass
    seen["in an outer hold after an inner one ends"] = blas_threads()
model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
Probe()(model(tl.randn(2, 3, 8, 8))).sum().backward()
seen["after a training step"] = blas_threads()
user_thread = threading.Thread(target=lambda: Probe()(model(tl.randn(2, 3, 8, 8))).sum().backward())
in_main = seen.pop("in a forward")
user_thread.start(); user_thread.join()  # a user thread holds BLAS too, though the main thread set it before
seen["in a user thread's forward"], seen["in a forward"] = seen["in a forward"], in_main
seen["after a user thread's step"] = blas_threads()

def gradients(thread_count):  # with BLAS's own threads outside minitl
    tl.set_num_threads(thread_count)
    tl.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8 * 8 * 8, 64), nn.ReLU(), nn.Linear(64, 10))
    (model(tl.randn(16, 3, 16, 16)) ** 2).sum().backward()
    return [p.grad.numpy() for p in model.parameters()]
seen["the same bits on 1 and 2 minitl threads"] = all(
    numpy.array_equal(a, b) for a, b in zip(gradients(1), gradients(2), strict=True))
print(json.dumps([own, seen]))
"""


@pytest.mark.parametrize("minitl_threads", [1, 2])
def test_blas_runs_one_thread_only_while_minitl_computes(minitl_threads):
    """Inside minitl every product runs on one BLAS thread (the same bits on any machine, no spin-waiting
    BLAS threads beside minitl's); outside it, a student's own NumPy keeps BLAS's threads."""
    pytest.importorskip("threadpoolctl")
    two = {name: "2" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", BLAS_THREADS, str(minitl_threads)], capture_output=True, text=True,
                          env=dict(os.environ, **two))
    assert done.returncode == 0, done.stderr
    own, seen = json.loads(done.stdout)
    if not own or own == [1] * len(own):
        pytest.skip(f"BLAS here runs {own or 'no'} threads before minitl: nothing to hold")
    one = [1] * len(own)
    assert seen == {"after import": own, "after set_num_threads": own, "in a parallel piece": one,
                    "in an outer hold after an inner one ends": one, "in a forward": one, "in a backward": one,
                    "after a training step": own, "in a user thread's forward": one,
                    "after a user thread's step": own, "the same bits on 1 and 2 minitl threads": True}


def test_two_user_threads_share_one_hold():
    """The hold is counted: a second user thread's hold ending leaves BLAS on one thread for the first,
    which gives BLAS its threads back when it leaves."""
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    seen = []

    def second():
        with threads.blas_held:
            seen.append(blas_threads())

    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):  # BLAS's own count, set here
        own = blas_threads()
        if not own:
            pytest.skip("no BLAS found: nothing to hold")
        with threads.blas_held:
            worker = threading.Thread(target=second)
            worker.start()
            worker.join(timeout=30)
            seen.append(blas_threads())  # the second holder has left; this one still holds
        after = blas_threads()
    assert seen == [[1] * len(own)] * 2
    assert after == own == [2] * len(own)


# -- the same numbers on one thread and on several ---------------------------------------------
def _train_step_results(make_model, x, target, thread_count, train=True):
    """Loss, output, every gradient and every parameter after one SGD step, on `thread_count` threads."""
    tl.set_num_threads(thread_count)
    tl.manual_seed(0)
    model = make_model()
    model.train(train)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    output = model(x)
    loss = F.cross_entropy(output, target)
    opt.zero_grad()
    loss.backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    opt.step()
    return [loss.detach().numpy(), output.detach().numpy()] + grads + [p.detach().numpy().copy() for p in model.parameters()]


def _small_cnn():
    """Every layer with a parallel path: padded, strided and grouped convolutions, batch norm, ReLU,
    max pooling with padding, overlapping average pooling."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2), nn.ReLU(),
        nn.AvgPool2d(2, stride=1), nn.Flatten(), nn.Linear(8 * 3 * 3, 10))


@pytest.mark.parametrize("thread_count", [2, 3])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_threads_on_and_off_give_the_same_results(parallel_everywhere, thread_count, train):
    tl.manual_seed(1)
    x, target = tl.randn(12, 3, 16, 16), tl.tensor([k % 10 for k in range(12)])
    serial = _train_step_results(_small_cnn, x, target, 1, train)
    parallel = _train_step_results(_small_cnn, x, target, thread_count, train)
    for one, many in zip(serial, parallel, strict=True):
        # Pieces are combined in a fixed order, so today the results are identical; the contract is
        # float32 agreement up to the order of a reduction.
        np.testing.assert_allclose(many, one, rtol=1e-5, atol=1e-6)


def test_resnet20_is_the_same_on_two_threads(parallel_everywhere):
    tl.manual_seed(2)
    x, target = tl.randn(4, 3, 32, 32), tl.tensor([0, 1, 2, 3])
    serial = _train_step_results(models.resnet20, x, target, 1)
    parallel = _train_step_results(models.resnet20, x, target, 2)
    for one, many in zip(serial, parallel, strict=True):
        np.testing.assert_allclose(many, one, rtol=1e-5, atol=1e-6)


def test_the_thread_scaling_benchmark_runs(restore_threads, capsys):
    from benchmarks import thread_scaling
    thread_scaling.main(["--threads", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["operation", "1"]
    names = [name for name, _ in thread_scaling.operations(np.random.default_rng(0))]
    assert [line.split("  ")[0] for line in lines[1:]] == names
