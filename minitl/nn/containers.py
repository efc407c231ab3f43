"""Containers: ``Sequential`` (a pipeline) and ``ModuleList`` (a list whose modules are registered).

Both keep their modules in ``_modules`` under the keys '0', '1', ... (or the
names of an OrderedDict given to Sequential), which is why their parameters
are named ``features.0.weight`` as in PyTorch.
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
