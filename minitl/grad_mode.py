"""Whether operations are recorded for backward: no_grad, enable_grad, set_grad_enabled, inference_mode.

Each works as a context manager (``with tl.no_grad():``) and as a function
decorator, with or without parentheses (``@tl.no_grad`` and
``@tl.no_grad()``), as in PyTorch. ``inference_mode`` is ``no_grad`` under
PyTorch's other name: minitl has no separate, cheaper inference tensors.

The switch is one per thread, as in PyTorch: every thread starts with
recording on, and a thread's ``no_grad`` changes only that thread (a data
loader's or a server's threads cannot switch another thread's recording
off, nor leave it off when their blocks overlap).
"""
import functools
import threading


class _Switch(threading.local):
    enabled = True  # each thread's own value, True until that thread changes it


_switch = _Switch()


def is_grad_enabled():
    """True when operations on tensors are being recorded for backward (in this thread)."""
    return _switch.enabled


class _GradMode:
    """Recording on (enabled=True) or off while a ``with`` block or a decorated function runs."""

    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        self.previous, _switch.enabled = _switch.enabled, self.enabled
        return self

    def __exit__(self, *exc_info):
        _switch.enabled = self.previous

    def __call__(self, function):
        @functools.wraps(function)
        def run_in_mode(*args, **kwargs):
            with _GradMode(self.enabled):
                return function(*args, **kwargs)
        return run_in_mode


def no_grad(function=None):
    """Run operations without recording a graph (evaluation, parameter updates)."""
    mode = _GradMode(False)
    return mode(function) if function is not None else mode


def enable_grad(function=None):
    """Record the graph again, e.g. inside a ``no_grad`` block."""
    mode = _GradMode(True)
    return mode(function) if function is not None else mode


def inference_mode(mode=True):
    """``no_grad`` (PyTorch's name for its faster variant); ``inference_mode(False)`` records as usual."""
    if callable(mode):
        return _GradMode(False)(mode)
    return _GradMode(not mode)


class set_grad_enabled(_GradMode):
    """Switch recording on or off now; as a context or decorator, switch back afterwards (as in PyTorch)."""

    def __init__(self, mode):
        super().__init__(bool(mode))
        self.previous, _switch.enabled = _switch.enabled, self.enabled

    def __enter__(self):
        return self

    def __call__(self, function):
        _switch.enabled = self.previous  # as a decorator it acts only while the function runs
        return super().__call__(function)
