"""gradcheck's checks beyond the one-hot Jacobian: linearity in grad_output, the float32 path, a relative step.

Each wrong backward below passes a column-by-column Jacobian check, and must fail tl.gradcheck (and
tl.gradgradcheck, where the slip is in a second derivative) under default settings.
"""
import numpy as np
import pytest

import minitl as tl
from minitl.autograd import Function
from minitl.gradcheck import FLOAT32_RTOL


class CubeUsingGradOutput(Function):
    """y = x**3 (summed to a scalar when `total`); backward 3x**2 * use(gy), right only when use(gy) is gy.

    One-hot grad_outputs cannot tell: use(gy) = 1 (ignoring gy) is right when gy is the scalar 1, and
    use(gy) = gy * |gy| is right whenever gy is 0 or 1.
    """

    def __init__(self, use, total=False):
        self.use, self.total = use, total

    def forward(self, x):
        self.save_for_backward(x)
        return (x ** 3).sum() if self.total else x ** 3

    def backward(self, gy):
        (x,) = self.saved_tensors
        return (self.use(gy) * 3 * x ** 2,)


class SoftplusOverflowing(Function):
    """y = log(1 + e^x) (stable forward); backward e^x / (1 + e^x): inf / inf = NaN in float32 for x > 88."""

    def forward(self, x):
        self.save_for_backward(x)
        xp = tl.backend.get_array_module(x)
        return xp.logaddexp(0, x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        e = tl.autograd.either.exp(x)
        return (gy * e / (1 + e),)


def test_a_scalar_op_whose_backward_ignores_grad_output_fails():
    x = tl.tensor([0.5, -1.0, 2.0], dtype=tl.float64, requires_grad=True)
    with pytest.raises(tl.GradcheckError, match=r"input 0 \(shape \(3,\)\): backward is not linear in grad_output: "
                                                r"with grad_output 0 for every output, the gradient at input\[2\] "
                                                r"is 12, not 0"):
        tl.gradcheck(lambda a: CubeUsingGradOutput(lambda gy: 1, total=True)(a), [x])


def test_a_backward_nonlinear_in_grad_output_fails():
    x = tl.tensor([0.5, -1.0, 2.0], dtype=tl.float64, requires_grad=True)
    with pytest.raises(tl.GradcheckError, match=r"input 0 \(shape \(3,\)\) and output 0 \(shape \(3,\)\): backward "
                                                r"is not linear in grad_output: with a random grad_output, the "
                                                r"vector-Jacobian product at input\[\d\] has analytic"):
        tl.gradcheck(lambda a: CubeUsingGradOutput(lambda gy: gy * abs(gy))(a), [x])
    assert tl.gradcheck(lambda a: CubeUsingGradOutput(lambda gy: gy * abs(gy))(a), [x], raise_exception=False) is False


def test_a_second_derivative_nonlinear_in_grad_output_fails_gradgradcheck():
    class CubeWithBadSecondDerivative(Function):
        """y = x**3, dx = gy * 3 x**2, where 3 x**2 is a Function whose backward squares its grad_output."""

        def forward(self, x):
            self.save_for_backward(x)
            return x ** 3

        def backward(self, gy):
            (x,) = self.saved_tensors
            return (gy * ThreeSquared()(x) if isinstance(x, tl.Tensor) else gy * 3 * x ** 2,)

    class ThreeSquared(Function):
        def forward(self, x):
            self.save_for_backward(x)
            return 3 * x ** 2

        def backward(self, gy):
            (x,) = self.saved_tensors
            return (gy * abs(gy) * 6 * x,)  # should be gy * 6x

    x = tl.tensor([0.5, -1.0, 2.0], dtype=tl.float64, requires_grad=True)
    assert tl.gradcheck(lambda a: CubeWithBadSecondDerivative()(a), [x])
    # gradgradcheck's random v reaches the inner backward as a grad_output that is not one-hot.
    with pytest.raises(tl.GradcheckError, match=r"input 0 \(shape \(3,\)\) and output 0 .* has analytic"):
        tl.gradgradcheck(lambda a: CubeWithBadSecondDerivative()(a), [x])


def test_float32_inputs_check_the_float32_path_and_a_nan_fails():
    x = tl.tensor([1.0, 50.0, 100.0], requires_grad=True)  # float32: e^100 overflows to inf, inf / inf is NaN
    with np.errstate(all="ignore"):
        with pytest.raises(tl.GradcheckError, match=r"on the float32 path \(inputs as given, backward in float32\) "
                                                    r"for input 0 .* worst element d output\[\d\] / d input\[2\] "
                                                    r"is not finite: analytic nan"):
            tl.gradcheck(lambda a: SoftplusOverflowing()(a), [x])
        # The same op in float64 (e^100 is finite there) passes: only the float32 path is wrong.
        assert tl.gradcheck(lambda a: SoftplusOverflowing()(a), [x.double().detach().requires_grad_()])


class ScaledInFloat32(Function):
    """y = 2x; a backward right in float64 and `factor` times too large in float32 (a wrong float32 fast path)."""

    def __init__(self, factor):
        self.factor = factor

    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        return (gy * 2 * (1.0 if gy.dtype == np.float64 else self.factor),)


def test_a_wrong_float32_path_fails_and_float32_rounding_passes():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(tl.GradcheckError, match=r"on the float32 path .* has analytic 2.09999\d* but numerical 2 "
                                                r"\(relative error 0.0244\)"):
        tl.gradcheck(lambda a: ScaledInFloat32(1.05)(a), [x])
    assert tl.gradcheck(lambda a: ScaledInFloat32(1.05)(a), [x.double().detach().requires_grad_()])
    # Within FLOAT32_RTOL (1e-3): float32 rounding, or an error this small, is not what the float32 check is for;
    # the float64 check, at the caller's tolerances, sees the formula itself.
    assert FLOAT32_RTOL == 1e-3 and tl.gradcheck(lambda a: ScaledInFloat32(1.0005)(a), [x])
    assert not tl.gradcheck(lambda a: ScaledInFloat32(1.005)(a), [x], raise_exception=False)
    assert tl.gradcheck(lambda a: (a * 0.1).exp() * a.sin(), [tl.tensor(np.linspace(-3, 3, 7), requires_grad=True)])


def test_other_dtypes_are_refused_by_name():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    x.data = x.data.astype(np.float16)
    with pytest.raises(TypeError, match="input 0 is float16; it checks float32 and float64 inputs"):
        tl.gradcheck(lambda a: a * 2, [x])


def test_a_relative_step_checks_log_near_zero():
    x = tl.tensor([1e-7, 3e-7], dtype=tl.float64, requires_grad=True)
    with np.errstate(all="ignore"):
        assert tl.gradcheck(lambda a: a.log(), [x], raise_exception=False) is False  # log(1e-7 - 1e-6) is NaN
    assert tl.gradcheck(lambda a: a.log(), [x], relative_eps=True)
    assert tl.gradgradcheck(lambda a: a.log(), [x], relative_eps=True)
    (g,) = tl.testing.numerical_grad(lambda a: a.log().sum(), [x], relative_eps=True)
    np.testing.assert_allclose(g, 1 / x.data, rtol=1e-9)


def test_a_relative_step_still_catches_a_wrong_backward():
    x = tl.tensor([1e-7, 3e-7], dtype=tl.float64, requires_grad=True)

    class LogWrong(Function):
        def forward(self, a):
            self.save_for_backward(a)
            return np.log(a)

        def backward(self, gy):
            (a,) = self.saved_tensors
            return (gy / (a * 1.01),)

    with pytest.raises(tl.GradcheckError, match="relative error 0.00498"):
        tl.gradcheck(lambda a: LogWrong()(a), [x], relative_eps=True)


@pytest.mark.torch
def test_verdicts_on_the_wrong_backwards_agree_with_torch():
    torch = pytest.importorskip("torch")

    class TorchIgnoringGradOutput(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x ** 3).sum()

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2

    class TorchNonlinear(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return gy * gy.abs() * 3 * x ** 2

    t = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert not torch.autograd.gradcheck(TorchIgnoringGradOutput.apply, (t,), raise_exception=False)
    assert not torch.autograd.gradcheck(TorchNonlinear.apply, (t,), raise_exception=False, fast_mode=True)
    x = tl.tensor([0.5, -1.0, 2.0], dtype=tl.float64, requires_grad=True)
    assert not tl.gradcheck(lambda a: CubeUsingGradOutput(lambda gy: 1, total=True)(a), [x], raise_exception=False)
    assert not tl.gradcheck(lambda a: CubeUsingGradOutput(lambda gy: gy * abs(gy))(a), [x], raise_exception=False)
