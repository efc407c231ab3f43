"""A seeded mutation fuzzer for checkpoint readers, shared by the suite, its fixture script and the long run.

`mutants(data, seed, count)` derives `count` corrupted copies of a file's
bytes from one integer seed, with nothing but ``random.Random.getrandbits``
(stable across Python versions), so the fixture script (run with torch) and
the test (run without) see the same files. `digest` fingerprints what a
reader returned, so the test compares against what torch returned, recorded.

`run_batch` is what a child process runs: it loads each file with a time
limit and prints one JSON outcome per file; `classify` turns outcomes and
the expectations into the four counts the suite and the note report.
"""
import hashlib
import json
import random
import signal
import sys

import numpy as np

INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 2 ** 40, 2 ** 63 - 1,
               2 ** 64 - 1]


def _below(rng, n):
    return rng.getrandbits(64) % n


def mutate(data, rng):
    """One to three random corruptions of `data`: bit flips, byte and integer overwrites, cuts, copies."""
    data = bytearray(data)
    for _ in range(1 + _below(rng, 3)):
        kind = _below(rng, 7)
        at = _below(rng, len(data)) if data else 0
        if kind == 0 and data:
            data[at] ^= 1 << _below(rng, 8)
        elif kind == 1 and data:
            data[at] = _below(rng, 256)
        elif kind in (2, 3):  # a little-endian integer of 1, 2, 4 or 8 bytes set to an edge value
            width = 1 << _below(rng, 4)
            value = INTERESTING[_below(rng, len(INTERESTING))] % (1 << 8 * width)
            data[at:at + width] = value.to_bytes(width, "little")
        elif kind == 4:
            del data[at:]
        elif kind == 5:  # repeat a chunk
            length = 1 + _below(rng, 64)
            data[at:at] = data[at:at + length]
        else:
            del data[at:at + 1 + _below(rng, 64)]
    return bytes(data)


def mutants(data, seed, count):
    rng = random.Random(seed)
    return [mutate(data, rng) for _ in range(count)]


def digest(obj):
    """A fingerprint of what a reader returned (NaN payloads ignored): equal fingerprints, equal loads."""
    hasher = hashlib.sha256()
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            hasher.update(f"dict{len(item)}".encode())
            for key, value in item.items():
                hasher.update(repr(key).encode())
                stack.append(value)
        elif isinstance(item, (list, tuple)):
            hasher.update(f"{type(item).__name__}{len(item)}".encode())
            stack.extend(item)
        elif isinstance(item, np.ndarray):
            array = np.ascontiguousarray(item)
            if array.dtype.kind == "f":
                array = np.where(np.isnan(array), np.nan, array).astype(array.dtype)
            hasher.update(f"{array.dtype.str}{array.shape}".encode())
            hasher.update(array.tobytes())
        else:
            hasher.update(repr(item).encode())
    return hasher.hexdigest()


def run_batch(reader, paths, seconds):
    """Load each path with `reader` ('torch' or 'minitl') under a per-file alarm; print one outcome per line."""
    from minitl.io import CheckpointError, load, load_torch_checkpoint

    read = load if reader == "minitl" else load_torch_checkpoint

    def too_slow(*_):
        raise TimeoutError

    signal.signal(signal.SIGALRM, too_slow)
    for path in paths:
        signal.alarm(seconds)
        try:
            outcome = {"loaded": digest(read(path))}
        except CheckpointError as err:
            outcome = {"error": path in str(err)}
        except BaseException as err:  # noqa: BLE001 -- anything else is a finding
            outcome = {"bad": f"{type(err).__name__}: {str(err)[:200]}"}
        finally:
            signal.alarm(0)
        print(json.dumps(outcome), flush=True)


def classify(outcomes, expected):
    """Counts of (clean errors, loaded equal to the oracle, bad outcomes) and the bad ones' descriptions.

    `expected[i]` is the oracle's digest for file i, or None where the
    oracle (torch, or the safetensors reference) failed to load it.
    """
    clean, equal, bad = 0, 0, []
    for index, (outcome, oracle) in enumerate(zip(outcomes, expected)):
        if outcome.get("error") is True:
            clean += 1
        elif "loaded" in outcome and outcome["loaded"] == oracle:
            equal += 1
        else:
            bad.append((index, outcome, "oracle failed" if oracle is None else "oracle loaded"))
    return clean, equal, bad


if __name__ == "__main__":  # python checkpoint_fuzz.py READER SECONDS PATH...: the child process
    run_batch(sys.argv[1], sys.argv[3:], int(sys.argv[2]))
