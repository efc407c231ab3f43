"""What each checkpoint reader costs on the files round 3 of fuzzing (issue 31) made to cost the most,
as a multiple of the file's size: peak memory (tracemalloc) and time.

    python -m benchmarks.reader_bounds [--megabytes 4]

Each file is written about --megabytes large: the dense forms of a minitl structure.json (valid files
of the smallest JSON values), a safetensors header of bulky metadata, a pickle of 1-byte EMPTY_SETs,
a zip archive of 300 entries overlapping one block, and, for scale, a valid float32 checkpoint in
each format. The table is what docs/checkpoints.md, "What a reader guarantees", reports.
"""
import argparse
import json
import os
import pathlib
import struct
import tempfile
import time
import tracemalloc
import zipfile

import numpy as np

from minitl.io import CheckpointError, load, load_torch_checkpoint, save


def minitl_structure(path, item, size):
    count = size // (len(item) + 1)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("structure.json", '{"format": "minitl", "version": 1, "object": {"list": ['
                         + ",".join([item] * count) + "]}}")


def safetensors_metadata(path, size):
    metadata = {f"k{i}": "v" for i in range(size // 10)}
    raw = json.dumps({"__metadata__": metadata, "x": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}})
    path.write_bytes(struct.pack("<Q", len(raw)) + raw.encode())


def empty_sets(path, size):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02" + b"\x8f" * size + b".")
        archive.writestr("archive/version", b"3")


def overlapping(path, size, entries=300):
    """`entries` local headers, each entry declared to run to the end of one shared block."""
    block = bytes(size)
    headers, directory = b"", b""
    names = [f"archive/x{i:03d}".encode() for i in range(entries)]
    offsets = []
    for name in names:
        offsets.append(len(headers))
        headers += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
    for i, name in enumerate(names):
        length = len(headers) - offsets[i] - 30 - len(name) + len(block)
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, length, length,
                                 len(name), 0, 0, 0, 0, 0, offsets[i]) + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, entries, entries, len(directory),
                      len(headers) + len(block), 0)
    path.write_bytes(headers + block + directory + end)


def valid_minitl(path, size):
    save({"w": np.ones(size // 4, np.float32)}, path)


def measure(reader, path):
    start = time.perf_counter()
    try:
        reader(path)
        verdict = "read"
    except CheckpointError as err:
        verdict = "refused: " + str(err).split(": ", 1)[1][:60]
    elapsed = time.perf_counter() - start
    tracemalloc.start()
    try:
        reader(path)
    except CheckpointError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, elapsed, verdict


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=4)
    size = int(parser.parse_args().megabytes * (1 << 20))
    with tempfile.TemporaryDirectory() as scratch:
        folder = pathlib.Path(scratch)
        cases = [(f"minitl structure of {item}", lambda p, item=item: minitl_structure(p, item, size), load, "npz")
                 for item in ['{"list":[]}', '{"dict":[]}', '"ab"', "1e5", "1000"]]
        cases += [("safetensors, bulky metadata", lambda p: safetensors_metadata(p, size), load_torch_checkpoint,
                   "safetensors"),
                  ("pickle of 1-byte EMPTY_SETs", lambda p: empty_sets(p, size), load_torch_checkpoint, "pt"),
                  ("300 zip entries over one block", lambda p: overlapping(p, size), load, "npz"),
                  ("300 zip entries over one block", lambda p: overlapping(p, size), load_torch_checkpoint, "pt"),
                  ("valid float32 tl.save file", lambda p: valid_minitl(p, size), load, "npz")]
        print(f"{'file':34s} {'MB':>6s} {'peak / size':>11s} {'seconds':>8s}  outcome")
        for index, (name, write, reader, suffix) in enumerate(cases):
            path = folder / f"{index}.{suffix}"
            write(path)
            peak, elapsed, verdict = measure(reader, path)
            file_size = os.path.getsize(path)
            print(f"{name:34s} {file_size / 1e6:6.2f} {peak / file_size:10.1f}x {elapsed:8.2f}  {verdict}")


if __name__ == "__main__":
    main()
