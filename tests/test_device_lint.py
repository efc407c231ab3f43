"""No NumPy call on a device array: a lint over the modules that compute on tensors.

Code that may hold CuPy arrays must call the array module that owns them
(``xp = backend.get_array_module(a)``, then ``xp.exp(a)``), never
``np.exp(a)``: NumPy would either fail on a CuPy array or silently copy it to
the host. This test parses those modules and finds every call of a NumPy
function. The only ones allowed are listed below, each working on host data
for the reason given. (Naming a dtype, ``np.float32``, is not a call and is
fine everywhere.) The data readers, loaders and transforms are not checked:
they work on the host by design, and the DataLoader moves each batch.
"""
import ast
import pathlib

MINITL = pathlib.Path(__file__).resolve().parents[1] / "minitl"
CHECKED = ["autograd/*.py", "creation.py", "random.py", "gradcheck.py", "testing.py", "lab/transfer.py", "lab/train.py",
           "kernels/*.py", "ops/*.py", "nn/*.py", "optim/*.py"]

HOST_CALLS = {
    "autograd/tensor.py": ({"np.array2string"}, "Tensor.__repr__ prints backend.to_numpy(data)"),
    "random.py": ({"np.random.default_rng", "np.empty"},
                  "values are drawn on the host (into a host block), then moved (same numbers on both devices)"),
    "gradcheck.py": ({"np.zeros", "np.abs", "np.unravel_index", "np.argmax", "np.finfo", "np.isfinite",
                      "np.errstate", "np.random.default_rng", "np.allclose", "np.max"},
                     "Jacobians are compared after backend.to_numpy; random grad_outputs are drawn on the host"),
    "testing.py": ({"np.max", "np.abs", "np.finfo", "np.zeros", "np.asarray", "np.dtype", "np.result_type", "np.errstate",
                    "np.isnan", "np.unravel_index", "np.argmax", "np.where"},
                   "rel_error, numerical_jacobian and assert_close work on backend.to_numpy copies (or numbers)"),
    "lab/transfer.py": ({"np.concatenate"}, "extract_features joins features already copied to the host by .numpy()"),
    "nn/module.py": ({"np.asarray", "np.dtype"},
                     "load_state_dict reads user data (lists, torch tensors) before moving it to the model's device; "
                     "np.dtype only names a type"),
    "ops/promotion.py": ({"np.dtype", "np.result_type"}, "type promotion works on dtypes, not on arrays"),
    "ops/conversion.py": ({"np.dtype"}, "np.dtype only names a type"),
    "ops/arithmetic.py": ({"np.errstate"}, "silences NumPy's warning for 0 ** -1 in Pow.backward (masked right "
                                           "after); CuPy does not warn"),
    "optim/newton.py": ({"np.array", "np.asarray", "np.any", "np.linalg.solve", "np.isfinite", "np.stack",
                         "np.random.default_rng"},
                        "newton_minimize is a 2-D study on plain host vectors; the power iteration draws its "
                        "start vector on the host"),
}


def numpy_calls(path):
    """(line, 'np.name.name') for every call whose function is an attribute of `np`."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            names, function = [], node.func
            while isinstance(function, ast.Attribute):
                names.append(function.attr)
                function = function.value
            if isinstance(function, ast.Name) and function.id == "np" and names:
                yield node.lineno, "np." + ".".join(reversed(names))


def test_compute_modules_call_numpy_only_on_host_data():
    files = sorted({path for pattern in CHECKED for path in MINITL.glob(pattern)})
    assert len(files) > 20  # the globs found the package
    offending = []
    for path in files:
        name = path.relative_to(MINITL).as_posix()
        allowed = HOST_CALLS.get(name, (set(), ""))[0]
        offending += [f"minitl/{name}:{line}: {call}" for line, call in numpy_calls(path) if call not in allowed]
    assert not offending, ("NumPy called where a device array may be; use xp = backend.get_array_module(...):\n"
                           + "\n".join(offending))


def test_the_lint_finds_a_numpy_call(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import numpy as np\ndef f(x):\n    y = np.float32\n    return np.exp(x) + np.linalg.norm(x)\n")
    assert sorted(numpy_calls(sample)) == [(4, "np.exp"), (4, "np.linalg.norm")]
