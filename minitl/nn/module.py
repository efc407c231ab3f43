"""``Module``, the base class of every layer and model, and ``Parameter``.

A module owns three ordered tables, filled by plain attribute assignment:

    self.weight = Parameter(...)        -> _parameters["weight"]
    self.register_buffer("mean", t)     -> _buffers["mean"]   (state that is not trained)
    self.block = SomeModule(...)        -> _modules["block"]

Everything else (``named_parameters``, ``state_dict``, ``train``, ``to``...)
is a walk over these tables, parent first and in definition order. That walk
gives the same dotted names in the same order as PyTorch (``features.0.weight``,
``bn.running_mean``, ``bn.num_batches_tracked``), so checkpoints map one to one.
"""
import collections

import numpy as np

from minitl import backend, threads
from minitl.autograd import Tensor, clear_grads
from minitl.autograd.hooks import RemovableHandle
from minitl.creation import tensor as _new_tensor
from minitl.nn import hooks


class Parameter(Tensor):
    """A tensor that a Module registers as trainable: a float leaf with ``requires_grad=True``.

    ``Parameter(t)`` and ``Parameter(array)`` share that data (as PyTorch's
    ``Parameter(tensor)`` does); numbers or nested lists become a float32 array.
    """
    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        if isinstance(data, Tensor):
            data = data.data
        elif not backend.is_array(data):
            data = _new_tensor(data).data
        if data.dtype.kind != "f":
            raise TypeError(f"a Parameter must hold floating-point values, got dtype {data.dtype}")
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What load_state_dict did not match: keys the model has but the state lacks, and the reverse.

    Printed as PyTorch prints it, so a notebook cell ending in ``model.load_state_dict(state)`` shows
    ``<All keys matched successfully>``.
    """
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"_IncompatibleKeys(missing_keys={self.missing_keys}, unexpected_keys={self.unexpected_keys})"

    __str__ = __repr__


class Module:
    """Base class of layers and models: subclass it, assign parts in ``__init__``, define ``forward``.

        class Net(nn.Module):
            def __init__(self):
                super().__init__()          # must come before any assignment
                self.fc = nn.Linear(4, 2)
            def forward(self, x):
                return self.fc(x)

    ``net(x)`` calls ``forward``. ``training`` is a per-module flag: ``train()``
    and ``eval()`` set it on a module and everything below it, so a part can be
    put back in eval (a frozen BatchNorm) while the rest trains.
    """

    _optional_state = ()  # names of buffers a state_dict may lack (see load_state_dict)

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these tables to exist.
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)
        for table in ("_forward_pre_hooks", "_forward_hooks", "_backward_hooks"):  # see nn/hooks.py
            object.__setattr__(self, table, {})

    def forward(self, *args, **kwargs) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        with threads.blas_held:  # a model's products on one BLAS thread (minitl/threads.py says why)
            if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks:
                return hooks.call_with_hooks(self, args, kwargs)
            return self.forward(*args, **kwargs)

    # -- hooks (nn/hooks.py) -------------------------------------------------
    def register_forward_pre_hook(self, hook):
        """``hook(module, args)`` before each forward; a value it returns replaces args. Returns a handle."""
        return RemovableHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """``hook(module, args, output)`` after each forward; a value it returns replaces output. Returns a handle."""
        return RemovableHandle(self._forward_hooks, hook)

    def register_full_backward_hook(self, hook):
        """``hook(module, grad_input, grad_output)`` once the gradients of the module's inputs are known during
        backward; a tuple it returns replaces grad_input. Returns a handle."""
        return RemovableHandle(self._backward_hooks, hook)

    # -- registration -------------------------------------------------------
    def _tables(self):
        return self._parameters, self._buffers, self._modules

    def _forget(self, name):
        """Remove `name` from every table and from the plain attributes."""
        for table in self._tables():
            table.pop(name, None)
        self._non_persistent_buffers.discard(name)
        self.__dict__.pop(name, None)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:  # before Module.__init__: only plain attributes work
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(f"cannot assign {type(value).__name__} '{name}' before Module.__init__() "
                                     f"is called: put super().__init__() first in {type(self).__name__}.__init__")
            object.__setattr__(self, name, value)
            return
        parameters, buffers, modules = self._tables()
        if isinstance(value, Parameter):
            if name not in parameters:
                self._forget(name)
            parameters[name] = value  # an existing name keeps its place in the order
        elif isinstance(value, Module):
            if name not in modules:
                self._forget(name)
            modules[name] = value
        elif name in parameters:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter '{name}' of "
                                f"{type(self).__name__}: expected nn.Parameter or None")
            parameters[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to submodule '{name}' of "
                                f"{type(self).__name__}: expected nn.Module or None")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer '{name}' of "
                                f"{type(self).__name__}: expected a Tensor or None")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Called only when ordinary lookup fails, i.e. for registered names (or typos).
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        if any(name in table for table in self._tables()):
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def _check_new_name(self, name, kind):
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{kind} name must be a non-empty string without '.', got {name!r}")
        if hasattr(self, name) and not any(name in table for table in self._tables()):
            raise KeyError(f"attribute '{name}' already exists on {type(self).__name__}")

    def register_buffer(self, name, tensor, persistent=True):
        """Register a tensor that is state but not trained (running statistics, counters).

        Persistent buffers are saved in ``state_dict``; all buffers move with ``to()``.
        """
        self._check_new_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"buffer '{name}' must be a Tensor or None, got {type(tensor).__name__}")
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def register_parameter(self, name, param):
        """Register a Parameter, or None for an absent one (``Linear(bias=False)`` registers ``bias=None``)."""
        self._check_new_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"parameter '{name}' must be an nn.Parameter or None, got {type(param).__name__}")
        self._forget(name)
        self._parameters[name] = param

    def add_module(self, name, module):
        """Register a submodule under `name` (for names that are not identifiers, like '0')."""
        self._check_new_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"submodule '{name}' must be an nn.Module or None, got {type(module).__name__}")
        self._forget(name)
        self._modules[name] = module

    # -- walking the tree ---------------------------------------------------
    def named_modules(self, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and every module below it, parent first.

        A module reachable twice (shared) comes once unless remove_duplicate=False.
        """
        seen = set()

        def walk(module, name):
            if remove_duplicate:
                if id(module) in seen:
                    return
                seen.add(id(module))
            yield name, module
            for child_name, child in module._modules.items():
                if child is not None:
                    yield from walk(child, _join(name, child_name))

        return walk(self, prefix)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """(name, module) for the direct submodules, each module once."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_tensors(self, table, prefix, recurse):
        """(dotted name, tensor) from one table ('_parameters' or '_buffers') of each module, each tensor once."""
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        seen = set()
        for module_name, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield _join(module_name, name), value

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, Parameter) pairs; a parameter shared by two modules comes once."""
        return self._named_tensors("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True):
        return self._named_tensors("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def apply(self, fn):
        """Call fn(module) on every submodule (children first) and on self; return self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- state ---------------------------------------------------------------
    def _state_tensors(self):
        """(name, tensor) for every parameter and persistent buffer, under every name it has.

        As in PyTorch, a tensor shared by two modules is listed under both names,
        so a checkpoint holds every key the model has.
        """
        for module_name, module in self.named_modules(remove_duplicate=False):
            for table in ("_parameters", "_buffers"):
                for name, value in getattr(module, table).items():
                    if value is None or (table == "_buffers" and name in module._non_persistent_buffers):
                        continue
                    yield _join(module_name, name), value

    def state_dict(self):
        """An OrderedDict of dotted name -> Tensor for every parameter and persistent buffer, as PyTorch's.

        Order and names are PyTorch's: each module's parameters, then its
        buffers, then its children. The Tensors are detached and share memory
        with the model, so later training changes them too: for a snapshot
        that stays (the best epoch's weights), copy it,
        ``{k: v.clone() for k, v in model.state_dict().items()}``, or save it with ``tl.save``.
        """
        return collections.OrderedDict((name, t.detach()) for name, t in self._state_tensors())

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from `state_dict` (name -> array, Tensor, or anything np.asarray takes) into the model.

        Every entry is checked and converted (cast to its tensor's dtype and
        device) before anything is written: missing keys, unexpected keys
        (both allowed when ``strict=False``), shape mismatches, non-numeric
        values and failed conversions are all reported in one RuntimeError,
        and then the model is unchanged. The converted values are copied in
        place, so Parameters keep their identity (an
        optimizer holding them keeps working) and never alias the caller's arrays.
        Returns ``IncompatibleKeys(missing_keys, unexpected_keys)``. A
        module's `_optional_state` entries (BatchNorm's ``num_batches_tracked``,
        absent from checkpoints older than PyTorch 0.4.1) may be missing: they
        keep their value, as PyTorch fills them in from the module.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict expects a dict of name -> array, got {type(state_dict).__name__}")
        own = collections.OrderedDict(self._state_tensors())
        optional = {_join(prefix, name) for prefix, module in self.named_modules(remove_duplicate=False)
                    for name in module._optional_state}
        missing = [name for name in own if name not in state_dict and name not in optional]
        unexpected = [name for name in state_dict if name not in own]
        problems = []
        if strict and missing:
            problems.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing))
        if strict and unexpected:
            problems.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected))
        updates = []  # (tensor, value already cast to its dtype and device): writing them cannot fail
        for name, target in own.items():
            if name not in state_dict:
                continue
            try:
                value = _as_array(state_dict[name])
                if value.dtype.kind not in "biuf":
                    problems.append(f"value for {name} is not numeric: dtype {value.dtype}")
                elif value.shape != target.shape:
                    problems.append(f"size mismatch for {name}: copying a param with shape {tuple(value.shape)}, "
                                    f"the model has {tuple(target.shape)}")
                else:
                    updates.append((target, backend.to_device(value, target.device).astype(target.dtype)))
            except (TypeError, ValueError, MemoryError, RuntimeError) as err:
                problems.append(f"value for {name} cannot be converted: {type(err).__name__}: {err}")
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(problems))
        for target, value in updates:
            target.data[...] = value
        return IncompatibleKeys(missing, unexpected)

    # -- modes and flags -------------------------------------------------------
    def train(self, mode=True):
        """Set ``training`` on this module and, through their own ``train``, on its children; return self.

        As in PyTorch, each child is asked to change mode, so a layer can refuse:
        a frozen BatchNorm (see ``BatchNorm2d.frozen``) stays in eval mode.
        """
        if not isinstance(mode, bool):
            raise ValueError(f"train(mode) expects a bool, got {mode!r}")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation mode (``train(False)``): BatchNorm uses its running statistics, Dropout does nothing."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Turn gradient tracking of every parameter on or off (freezing); return self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Clear the gradients: drop them (default) or fill them with zeros."""
        clear_grads(self.parameters(), set_to_none)

    # -- device and dtype ------------------------------------------------------
    def to(self, *args, device=None, dtype=None):
        """Move parameters, gradients and buffers to `device`; cast floating ones to `dtype`. Return self.

        PyTorch's forms: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)`` (its
        device and dtype) and the keywords. The tensors are changed in place (their ``.data`` is
        replaced), so every Parameter object stays the same one. Integer buffers such as
        ``num_batches_tracked`` keep their dtype.
        """
        if len(args) > 2:
            raise TypeError(f"Module.to() takes at most a device and a dtype, got {len(args)} arguments")
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, str) or arg is None:  # strings name devices, as in PyTorch
                device = arg
            else:
                dtype = arg
        device = backend.normalize_device(device)
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Module.to() casts only to floating-point dtypes, got {dtype}")

        def convert(array):
            if device is not None:
                array = backend.to_device(array, device)
            if dtype is not None and array.dtype.kind == "f":
                array = array.astype(dtype, copy=False)
            return array

        for module in self.modules():
            for t in [*module._parameters.values(), *module._buffers.values()]:
                if t is None:
                    continue
                t.data = convert(t.data)
                if t.grad is not None:
                    t.grad.data = convert(t.grad.data)
        return self

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    def cuda(self):
        return self.to(device=backend.CUDA)

    def cpu(self):
        return self.to(device=backend.CPU)

    # -- printing ----------------------------------------------------------------
    def extra_repr(self):
        """The arguments shown inside this module's parentheses (override in layers)."""
        return ""

    def __repr__(self):
        """PyTorch's tree: ``Name(extra)`` or ``Name(\\n  (child): ...\\n)``."""
        extra_lines = self.extra_repr().split("\n") if self.extra_repr() else []
        child_lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        lines = extra_lines + child_lines
        if not lines:
            return f"{type(self).__name__}()"
        if len(extra_lines) == 1 and not child_lines:
            return f"{type(self).__name__}({extra_lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _as_array(value):
    """A backend array from a minitl Tensor, a backend array, a torch tensor or array-like data."""
    if isinstance(value, Tensor):
        return value.data
    if backend.is_array(value):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor (no torch import needed)
        return value.detach().cpu().numpy()
    return np.asarray(value)
