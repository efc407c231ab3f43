"""Hand-assembled PyTorch checkpoints, for tests that need files torch.save would never write.

`state_pickle` writes the pickle of ``{name: tensor}`` opcode by opcode, as
torch does, so a test can give a tensor any storage, offset, size or
stride; `write_zip` and `write_legacy` wrap it in either layout.
"""
import pickle
import struct
import zipfile

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def value(obj):
    """The opcodes that push `obj` (a plain value), without the protocol header and STOP."""
    return pickle.dumps(obj, protocol=3)[2:-1]


def global_(module, name):
    return f"c{module}\n{name}\n".encode()


def storage_id(key, numel, storage_type="FloatStorage", view=False, legacy=False):
    """Opcodes pushing the persistent id of a storage; `view` (legacy): (offset, count) of a view of it."""
    parts = value("storage") + global_("torch", storage_type) + value(key) + value("cpu") + value(numel)
    if legacy:
        parts += value((key + "-view", *view) if view else None)
    return b"(" + parts + b"tQ"  # MARK ... TUPLE BINPERSID


def tensor(storage, offset, size, stride):
    """Opcodes pushing ``_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``."""
    return (global_("torch._utils", "_rebuild_tensor_v2") + b"(" + storage + value(offset) + value(tuple(size))
            + value(tuple(stride)) + b"\x89" + global_("collections", "OrderedDict") + b")R" + b"tR")


def state_pickle(entries):
    """The pickle of a dict: `entries` maps each name to the opcodes pushing its value."""
    body = b"".join(value(name) + opcodes + b"s" for name, opcodes in entries.items())  # SETITEM
    return b"\x80\x02}" + body + b"."


def write_zip(path, data_pkl, storages, extra=()):
    """A zip checkpoint: archive/data.pkl, byteorder, version, data/<key> for each storage, then `extra`
    (name, bytes) entries."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
        for key, raw in storages.items():
            archive.writestr(f"archive/data/{key}", raw)
        for name, raw in extra:
            archive.writestr(name, raw)


def write_legacy(path, object_pickle, storages, little_endian=True):
    """A legacy checkpoint: `storages` maps key -> (element count, raw bytes), written in that order;
    `little_endian` is what its system info says."""
    parts = [pickle.dumps(LEGACY_MAGIC, protocol=2), pickle.dumps(1001, protocol=2),
             pickle.dumps({"protocol_version": 1001, "little_endian": little_endian}, protocol=2), object_pickle,
             pickle.dumps(list(storages), protocol=2)]
    parts += [struct.pack("<q", numel) + raw for numel, raw in storages.values()]
    path.write_bytes(b"".join(parts))
