"""The machinery every optimizer shares: parameter groups, state, state_dict.

An optimizer holds the parameters in *groups*: dicts with a ``'params'``
list and the hyper-parameters for those parameters (``'lr'``, ...), filled in
from the constructor's defaults where a group does not set them. Fine-tuning
uses this for a small learning rate on the backbone and a larger one on the
head::

    opt = SGD([{"params": backbone, "lr": 1e-4}, {"params": head}], lr=1e-2, momentum=0.9)

As in PyTorch 2.x, the parameters may also come with their names,
``SGD(model.named_parameters())``: each group then keeps them under
``'param_names'`` (shown in ``state_dict()``).

Every optimizer takes ``maximize=True`` to climb instead of descend (the
gradient's sign is flipped before the rule). The groups also carry
PyTorch's switches between its implementations of one rule: ``foreach``
(accepted, no effect: minitl has one loop over the parameters),
``differentiable``, ``capturable`` and ``fused`` (only their default values
are accepted: minitl has no differentiable step, CUDA graphs or fused kernels).

``step()`` walks every group and calls the subclass's update rule once per
parameter that has a gradient (a parameter whose ``.grad`` is None is left
alone: no weight decay, no momentum). The rule reads and writes
``state[p]``, a dict of buffers with PyTorch's names (``momentum_buffer``,
``exp_avg``, ...), so you can print them while training. The buffers are
Tensors, as in PyTorch (``opt.state[p]['exp_avg'].numpy()``); the update
rules work on their arrays, which the Tensors share (no copy per step).

``state_dict()`` uses PyTorch's layout: the parameters are numbered in group
order and ``'state'`` and the groups' ``'params'`` refer to them by number,
so a state_dict can be loaded into an optimizer built over new tensors of
the same shapes (a resumed run).
"""
import numbers

from minitl import backend, threads
from minitl.autograd import Array, Tensor, clear_grads, enable_grad, no_grad


class Optimizer:
    """Base class: subclasses define ``_update``, and ``nonnegative_options`` or ``_check_hyperparameters``.

    ``state_names`` lists the per-parameter buffers shaped like the parameter:
    ``state[p]`` shows them as Tensors, and their shapes are checked when a
    state_dict is loaded.
    """
    state_names = ()
    nonnegative_options = ()  # checked by the default _check_hyperparameters

    def __init__(self, params, defaults):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of tensors or of "
                            "param-group dicts, got a single Tensor (wrap it in a list)")
        if hasattr(params, "named_parameters"):  # a Module
            raise TypeError(f"{name}: params must be an iterable of tensors, got the module "
                            f"{type(params).__name__} itself; pass model.parameters()")
        if callable(params):  # model.parameters, not called
            raise TypeError(f"{name}: params must be an iterable of tensors, got the method "
                            f"{getattr(params, '__name__', params)!r} uncalled; pass model.parameters()")
        self.defaults = defaults
        self.state = {}  # tensor -> dict of buffers; tensors hash by identity
        self.param_groups = []
        groups = _ordered_list(params, type(self).__name__)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self._opt_called = False  # set by step(): schedulers warn when they step before the optimizer
        for group in groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {value}" for key, value in sorted(group.items()) if key != "params")
        return "\n".join(lines) + "\n)"

    # -- parameter groups ---------------------------------------------------
    def add_param_group(self, param_group):
        """Add a dict ``{'params': tensors, <option>: value, ...}``; missing options come from the defaults."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a param group must be a dict, got {type(param_group).__name__}")
        params = param_group.get("params")
        if params is None:
            raise ValueError(f"{name}: a param group needs a 'params' entry, got keys {sorted(param_group)}")
        params = [params] if isinstance(params, Tensor) else _ordered_list(params, name)
        names = None
        if params and all(isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                          for item in params):  # model.named_parameters()
            names, params = [n for n, _ in params], [p for _, p in params]
        if self.param_groups and (names is None) != ("param_names" not in self.param_groups[0]):
            raise ValueError(f"{name}: all parameter groups must have parameter names (named_parameters()), "
                             "or none")
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name} can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name} can't optimize a non-leaf Tensor (one computed by an operation): "
                                 "optimize the leaf it came from")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a param group lists the same parameter twice")
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")

        group = dict(self.defaults)
        group.update(param_group)
        group["params"] = params
        if names is not None:
            group["param_names"] = names
        _check_implementation_switches(name, group)
        self._check_hyperparameters(group)
        self.param_groups.append(group)

    def _check_hyperparameters(self, group):
        """Raise ValueError for an invalid option in `group`: by default, each of `nonnegative_options` must be
        a number >= 0 and `betas`, where the optimizer has them, a pair in [0, 1). Subclasses add their own."""
        self._check_nonnegative(group, *self.nonnegative_options)
        if "betas" in group:
            self._check_betas(group)

    def _check_nonnegative(self, group, *names):
        for key in names:
            if isinstance(group[key], bool) or not isinstance(group[key], numbers.Real):
                raise TypeError(f"{type(self).__name__}: {key} must be a number, got {group[key]!r} "
                                f"({type(group[key]).__name__})")
            if not group[key] >= 0:  # `not >=` also catches NaN
                raise ValueError(f"{type(self).__name__}: invalid {key}={group[key]!r}: must be >= 0")

    def _check_betas(self, group):
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"{type(self).__name__}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ValueError(f"{type(self).__name__}: invalid beta parameter at index {i}: {beta!r}, "
                                 "must be in [0, 1)")

    @staticmethod
    def _next_step(state, param, *buffers):
        """Count a step in ``state['step']`` (from 1) and return it; the first step also creates `buffers`,
        zeros shaped like `param`."""
        if not state:
            state["step"] = 0
            state.update({name: backend.get_array_module(param).zeros_like(param) for name in buffers})
        state["step"] += 1
        return state["step"]

    # -- the update -----------------------------------------------------------
    def step(self, closure=None):
        """Update every parameter that has a gradient; returns closure() when a closure is given.

        `closure` re-evaluates the model and returns the loss (zero_grad,
        forward, backward); most optimizers need none.
        """
        self._opt_called = True
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            updates = [(p, group) for group in self.param_groups for p in group["params"] if p.grad is not None]
            for p, _ in updates:
                self.state.setdefault(p, {})
            # Each parameter's update reads and writes only its own arrays: they can run on any thread
            # (on the CPU; a GPU runs each update's operations in parallel itself).
            if updates and threads.work_size(updates[0][0].data):
                threads.parallel_map(self._update_parameter, updates)
            else:
                for update in updates:
                    self._update_parameter(update)
        return loss

    def _update_parameter(self, parameter_and_group):
        p, group = parameter_and_group
        state = self.state[p]
        arrays = {key: value.data if isinstance(value, Tensor) else value for key, value in state.items()}
        grad = -p.grad.data if group.get("maximize") else p.grad.data  # climbing f is descending -f
        self._update(p.data, grad, arrays, group)
        state.update(tensor_state(arrays, self.state_names, state))

    def _update(self, param: Array, grad: Array, state: dict, group: dict) -> None:
        """Apply the update rule to one parameter's array `param` in place.

        `grad` is its gradient array (left unchanged, as PyTorch's step leaves
        .grad), `state` its buffers as arrays (new or replaced ones are
        exposed as Tensors after the call), `group` its hyper-parameters.
        """
        raise NotImplementedError

    def zero_grad(self, set_to_none=True):
        """Forget the gradients: ``.grad = None`` (default), or zeros with ``set_to_none=False``."""
        clear_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    # -- saving and resuming ------------------------------------------------------
    def state_dict(self):
        """``{'state': {index: buffers}, 'param_groups': [{..., 'params': [indices]}]}``.

        Parameters are numbered 0, 1, ... in group order. The buffers are
        copies (PyTorch returns references), so the dict is a snapshot that
        later steps do not change.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: _copy_state(buffers) for p, buffers in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore groups' options and the buffers from ``state_dict()`` output.

        The groups must match this optimizer's in number and size, and every
        buffer the shape of its parameter; otherwise a ValueError is raised
        and this optimizer is left unchanged. Buffers are copied onto each
        parameter's device and dtype.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{name}.load_state_dict expects a dict with keys 'param_groups' and 'state', "
                             f"got {keys}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state_dict has {len(saved_groups)} parameter "
                             f"groups, this optimizer has {len(self.param_groups)}")
        param_of = {}  # saved index -> this optimizer's tensor
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has {len(saved['params'])} "
                                 f"parameters in the state_dict, {len(group['params'])} in this optimizer")
            param_of.update(zip(saved["params"], group["params"]))

        state = {}
        for index, buffers in state_dict["state"].items():
            if index not in param_of:
                raise ValueError(f"{name}.load_state_dict: the state_dict has state for parameter {index!r}, "
                                 "which is in none of its parameter groups")
            p = param_of[index]
            for key in self.state_names:
                if key in buffers and tuple(buffers[key].shape) != p.shape:
                    raise ValueError(f"{name}.load_state_dict: state '{key}' of parameter {index} has shape "
                                     f"{tuple(buffers[key].shape)}, the parameter has shape {p.shape}")
            state[p] = tensor_state(_copy_state(buffers, like=p.data), self.state_names)

        # everything checked: only now change this optimizer
        self.param_groups = [{**saved, "params": group["params"]}
                             for saved, group in zip(saved_groups, self.param_groups)]
        self.state = state


def _check_implementation_switches(name, group):
    """PyTorch's switches between implementations of the same rule: keep the defaults, or say why not."""
    refused = {"differentiable": "minitl's optimizer step is not recorded by autograd",
               "capturable": "minitl does not capture CUDA graphs",
               "fused": "minitl has no fused optimizer kernels"}
    for key, why in refused.items():
        if group.get(key):
            raise ValueError(f"{name}: {key}={group[key]!r} is not supported ({why}); leave it at its default")


def _ordered_list(params, name):
    if isinstance(params, (set, frozenset)):
        # a set's order changes between runs, and state_dict numbers parameters by order
        raise TypeError(f"{name}: parameters must be in an ordered collection (list or tuple), got a set")
    return list(params)


def tensor_state(buffers, names, current=None):
    """`buffers` with the arrays under `names` wrapped in Tensors that share them; an array that already
    backs the Tensor of the same key in `current` keeps that Tensor (references users hold stay live)."""
    current = current or {}
    exposed = {}
    for key, value in buffers.items():
        if key in names and backend.is_array(value):
            same = isinstance(current.get(key), Tensor) and current[key].data is value
            value = current[key] if same else Tensor(value)
        exposed[key] = value
    return exposed


def _copy_state(value, like=None):
    """A deep copy of a state value (Tensors as arrays); arrays land on the device and float dtype of
    `like` when given."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, dict):
        return {key: _copy_state(v, like) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_state(v, like) for v in value)
    if backend.is_array(value):
        if like is None:
            return value.copy()
        xp = backend.get_array_module(like)
        value = xp.array(backend.to_device(value, backend.device_of(like)), copy=True)
        return value.astype(like.dtype, copy=False) if value.dtype.kind == "f" else value
    return value  # Python numbers, None
