"""Containers: ``Sequential`` (a pipeline), ``ModuleList`` and ``ModuleDict`` (a list and a dict whose
modules are registered).

Sequential and ModuleList keep their modules in ``_modules`` under the keys
'0', '1', ... (or the names of an OrderedDict given to Sequential), which is
why their parameters are named ``features.0.weight`` as in PyTorch; a
ModuleDict uses its own keys (``heads.parity.weight``).
"""
import collections

from minitl.nn.module import Module


class _IndexedModules(Module):
    """Shared list behaviour: integer and slice indexing, len, iteration, append."""

    def _key(self, index):
        keys = list(self._modules)
        if not -len(keys) <= index < len(keys):
            raise IndexError(f"index {index} is out of range for {type(self).__name__} of length {len(keys)}")
        return keys[index]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._from_items(list(self._modules.items())[index])
        return self._modules[self._key(index)]

    def __setitem__(self, index, module):
        setattr(self, self._key(index), module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        """Add `module` at the end (key: its position); return self."""
        self.add_module(str(len(self)), module)
        return self


class Sequential(_IndexedModules):
    """Apply modules one after another: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    ``Sequential(OrderedDict(conv=..., relu=...))`` names the steps.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], collections.OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for module in modules:
                self.append(module)

    @staticmethod
    def _from_items(items):
        return Sequential(collections.OrderedDict(items))  # a slice keeps the names, as in PyTorch

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


class ModuleList(_IndexedModules):
    """A list of modules whose parameters belong to the owner (a plain list would hide them)."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    @staticmethod
    def _from_items(items):
        return ModuleList(module for _, module in items)  # a slice is renumbered, as in PyTorch

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self


class ModuleDict(Module):
    """A dict of modules whose parameters belong to the owner, in insertion order (PyTorch's semantics).

        heads = nn.ModuleDict({"digit": nn.Linear(84, 10), "parity": nn.Linear(84, 2)})
        heads["digit"](features); "parity" in heads; list(heads) == ["digit", "parity"]

    Keys are the names in ``state_dict`` (``heads.digit.weight``), so they must
    be non-empty strings without '.' that are not already attribute names
    (such as 'keys' or 'training'). It has no forward: the owner decides how
    the modules are used.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        if key in self._modules:
            setattr(self, key, module)  # a replaced entry keeps its place, as in a dict
        else:
            self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key):
        """Remove `key` and return its module."""
        module = self[key]
        del self[key]
        return module

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        """Add or replace entries from a mapping or from an iterable of (key, module) pairs.

        A plain dict keeps its insertion order, as in PyTorch (since Python 3.7).
        """
        if hasattr(modules, "keys"):
            pairs = [(key, modules[key]) for key in modules.keys()]
        else:
            try:
                pairs = [tuple(pair) for pair in modules]
            except TypeError as error:
                raise TypeError(f"ModuleDict.update expects a mapping or an iterable of (key, module) pairs, "
                                f"got {type(modules).__name__}") from error
        for index, pair in enumerate(pairs):
            if len(pair) != 2:
                raise ValueError(f"ModuleDict.update: element #{index} should be a (key, module) pair, "
                                 f"got {len(pair)} items")
        for key, module in pairs:
            self[key] = module
