"""minitl keeps the memory it frees for the next step (minitl/allocator.py): checked in fresh processes,
since the allocator's setting is the whole process's and made once."""
import os
import subprocess
import sys
import textwrap

import pytest

from minitl import allocator

pytestmark = pytest.mark.skipif(allocator._glibc_mallopt() is None, reason="the C library is not glibc")

# A 24 MiB block, freed: glibc's adaptive rule starts by giving it a mapping of its own, handed back
# when freed, so the resident size falls back; kept, it stays in the heap and the size does not fall.
PROGRAM = textwrap.dedent("""
    import os, numpy as np, minitl as tl
    def resident_mib():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    tl.nn.Linear(3, 2)(tl.ones(4, 3)).sum().backward()  # minitl computes: a Module's call and a backward pass
    before = resident_mib()
    block = np.ones(6 * 2 ** 20, dtype=np.float32)
    del block
    print(resident_mib() - before)
""")


def kept_after_free(**env):
    result = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True,
                            env={**os.environ, **env})
    return float(result.stdout.strip().splitlines()[-1])


def test_memory_freed_after_minitl_computed_stays_with_the_process():
    assert kept_after_free() > 20


def test_the_environment_variable_leaves_the_allocator_alone():
    assert kept_after_free(MINITL_KEEP_FREED_MEMORY="0") < 4


def test_the_setting_is_made_once():
    program = "from minitl import allocator\nprint(allocator.keep_freed_memory(), allocator.keep_freed_memory())"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "False"]


TRAINING = textwrap.dedent("""
    import hashlib, numpy as np, minitl as tl
    from minitl import models, optim
    from minitl.nn import functional as F
    tl.manual_seed(0)
    model = models.resnet20()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = tl.randn(32, 3, 32, 32), tl.tensor(np.arange(32) % 10)
    for _ in range(2):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    digest = hashlib.sha256()
    for p in model.parameters():
        digest.update(p.detach().numpy().tobytes())
    print(digest.hexdigest())
""")


def test_results_are_the_same_whether_memory_is_kept_or_not():
    """Where an array lies could matter to a sum that starts at an aligned address; these do not."""
    runs = [subprocess.run([sys.executable, "-c", TRAINING], capture_output=True, text=True, check=True,
                           env={**os.environ, **env}).stdout.strip()
            for env in ({}, {"MINITL_KEEP_FREED_MEMORY": "0"})]
    assert runs[0] == runs[1]
