"""Unpickling untrusted bytes with an allow-list, in time and memory bounded by the bytes.

Two dangers, two defences:

* Code execution. Unpickling calls whatever global the pickle names
  (``os.system`` included), so ``find_class`` hands out only the callers'
  allow-list, each entry wrapped in an `Allowed` object that cannot be
  changed by the pickle (see `Frozen`).
* Resource exhaustion. CPython's C unpickler trusts the numbers in the
  stream: a 5-byte ``LONG_BINPUT 4000000000`` makes it allocate and zero a
  memo of four billion slots (8 GB, tens of seconds) and ``BINBYTES8 2**40``
  allocates a terabyte before noticing the file is short. So the bytes are
  first scanned, opcode by opcode, with `pickletools.genops` (pure Python,
  reading only what is there): every length must fit in the bytes that
  follow it, every memo index must be smaller than the number of opcodes
  seen so far, and the stream must end with STOP. Each opcode pushes,
  stores or appends at most one object, but a 1-byte opcode can make a
  232-byte one (EMPTY_SET): so the scan also adds up what each opcode can
  cost (`COSTS`, or `DEFAULT_COST`, plus its argument's bytes) and refuses a
  pickle whose total is over `MEMORY_FACTOR` times its length plus
  `MEMORY_SLACK`. Only then does the fast C unpickler run, in memory bounded
  by that total and time linear in the length: it builds nested containers
  iteratively and shares repeated objects through the memo.

The scan is simpler and faster than a pure-Python unpickler (the one torch
uses for ``weights_only``), and it leaves CPython's well-tested opcode
semantics in place.
"""
import io
import pickle
import pickletools

_MEMO_STORES = {"PUT", "BINPUT", "LONG_BINPUT"}
# Bytes an opcode's object can take at most, a stack or memo slot included (CPython 3.11-3.13, 64-bit),
# besides its argument's bytes: an empty set is 216 bytes, an empty dict 64, a new int 32 and its slot 8,
# an object an allowed callable returns (OrderedDict, a tensor's stand-in) under 128; SETITEM and APPEND
# count a container's growth. Every other opcode pushes a reference or a cached object (a small int,
# None, the empty tuple) or marks the stack: DEFAULT_COST.
COSTS = {"EMPTY_SET": 232, "EMPTY_DICT": 72, "EMPTY_LIST": 64, "REDUCE": 128, "NEWOBJ": 128, "BUILD": 128,
         "BINPERSID": 128, "GLOBAL": 64, "SETITEM": 64, "SETITEMS": 64, "APPEND": 16, "APPENDS": 16,
         "TUPLE": 56, "TUPLE1": 64, "TUPLE2": 72, "TUPLE3": 80, "BININT": 40, "BININT2": 40, "LONG1": 40,
         "BINFLOAT": 32, "BINUNICODE": 80, "SHORT_BINSTRING": 48}
DEFAULT_COST = 16
MEMORY_FACTOR, MEMORY_SLACK = 32, 1 << 20  # a pickle of N bytes may cost 32 N + 1 MiB


class UnsafePickle(ValueError):
    """A pickle refused by the scan or the allow-list; callers add the file's path."""


class Frozen:
    """Base of the objects a pickle may receive: no ``__dict__``, and BUILD (``__setstate__``) refused.

    Without this, a pickle's BUILD opcode could set any attribute on an
    allow-listed object for the rest of the process.
    """

    __slots__ = ()

    def __setstate__(self, state):
        raise UnsafePickle(f"refused to set the state of a {type(self).__name__} (BUILD opcode)")


class Allowed(Frozen):
    """An allow-listed callable as the pickle sees it."""

    __slots__ = ("function",)

    def __init__(self, function):
        object.__setattr__(self, "function", function)

    def __call__(self, *args):
        return self.function(*args)


def scan(stream, opcodes=None):
    """Check the pickle that `stream` (a seekable binary file) holds from its position on.

    `opcodes` (names), when given, are the only ones allowed. Returns the
    offset just past the STOP opcode; the stream is left there.
    """
    start = stream.tell()
    size = stream.seek(0, io.SEEK_END)
    stream.seek(start)
    count, cost, budget = 0, 0, MEMORY_FACTOR * (size - start) + MEMORY_SLACK
    try:
        for count, (opcode, argument, _position) in enumerate(pickletools.genops(stream), start=1):
            cost += COSTS.get(opcode.name, DEFAULT_COST) + (len(argument) if isinstance(argument, (bytes, str)) else 0)
            if cost > budget:
                raise UnsafePickle(f"{count} opcodes in {size - start} bytes would build objects of over {budget} "
                                   f"bytes ({MEMORY_FACTOR} x the pickle's size + {MEMORY_SLACK})")
            if opcodes is not None and opcode.name not in opcodes:
                raise UnsafePickle(f"opcode {opcode.name} at byte {stream.tell() - 1} is not one this reader allows")
            if opcode.name in _MEMO_STORES and not 0 <= argument < count:
                raise UnsafePickle(f"memo index {argument} at opcode {count} (a valid pickle numbers its memo "
                                   "entries as it goes)")
            if opcode.name == "FRAME" and argument > size - stream.tell():
                raise UnsafePickle(f"a frame of {argument} bytes, more than the {size - stream.tell()} left")
    except UnsafePickle:
        raise
    except ValueError as err:  # genops: a length longer than what is left, an unknown opcode, no STOP
        if stream.tell() >= size:  # it ran out of bytes
            raise UnsafePickle(f"malformed pickle: it ends after {count} opcodes, before its STOP (the file is "
                               f"truncated?): {err}") from None
        raise UnsafePickle(f"malformed pickle after {count} opcodes: {err}") from None
    return stream.tell()


class _AllowListUnpickler(pickle.Unpickler):
    def __init__(self, file, allowed, persistent_load, encoding):
        super().__init__(file, encoding=encoding)
        self.allowed, self.load_persistent_id = allowed, persistent_load

    def find_class(self, module, name):
        if (module, name) not in self.allowed:
            raise UnsafePickle(f"refused to load global '{module}.{name}': only "
                               f"{sorted(f'{m}.{n}' for m, n in self.allowed)} may appear "
                               "(this file could run code if unpickled normally)")
        found = self.allowed[(module, name)]
        if isinstance(found, Frozen) or isinstance(found, type) and hasattr(found, "__setstate__"):
            return found  # cannot be changed by BUILD: a Frozen object, or a class guarding its state itself
        return Allowed(found)

    def persistent_load(self, pid):
        if self.load_persistent_id is None:
            raise UnsafePickle("unexpected persistent id")
        return self.load_persistent_id(pid)


def load(data, allowed, persistent_load=None, encoding="ASCII", opcodes=None):
    """The object pickled in `data` (bytes), scanned first (see `scan`); `allowed` maps (module, name) to a
    callable."""
    scan(io.BytesIO(data), opcodes)
    return _AllowListUnpickler(io.BytesIO(data), allowed, persistent_load, encoding).load()
