"""L-BFGS: a quasi-Newton method that builds a curvature model from recent steps.

Newton's method steps by x -= H^-1 dx with the Hessian H (see newton.py).
Storing and inverting H costs O(n^2) memory and O(n^3) time; BFGS instead
updates an approximation of H^-1 from the pairs

    s_k = x_{k+1} - x_k,    y_k = dx_{k+1} - dx_k,

and L-BFGS keeps only the last `history_size` pairs, applying the
approximate H^-1 to the gradient with the two-loop recursion:

    q = -dx
    for k = newest .. oldest:  a_k = rho_k * s_k . q;   q -= a_k * y_k        (rho_k = 1 / y_k . s_k)
    r = H_diag * q                                                           (H_diag = y.s / y.y, newest pair)
    for k = oldest .. newest:  b_k = rho_k * y_k . r;   r += (a_k - b_k) * s_k
    direction d = r

A pair is kept only when y.s > 1e-10 (positive curvature), so the model stays
positive definite. The step x += t * d uses t = lr, or with
line_search_fn='strong_wolfe' a step that satisfies the strong Wolfe
conditions (enough decrease, and the slope flattened enough):

    f(x + t d) <= f(x) + c1 * t * dx.d,      |dx(x + t d) . d| <= c2 * |dx . d|.

This is a port of torch.optim.LBFGS (itself from Mark Schmidt's minFunc) and
takes the same steps. Like PyTorch's, it works on the full batch: `step`
needs a closure that recomputes the loss and gradients, and it runs up to
`max_iter` iterations per call. All parameters form one group, flattened into
one vector.

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss
    opt.step(closure)
"""
import functools
import math

from minitl.autograd import Tensor, enable_grad, no_grad
from minitl.backend import get_array_module
from minitl.optim.optimizer import Optimizer


class LBFGS(Optimizer):
    """``LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
    history_size=100, line_search_fn=None)``, as torch.optim.LBFGS.

    ``max_eval`` defaults to ``max_iter * 5 // 4``. The state (PyTorch's
    names) is kept under the first parameter: ``func_evals``, ``n_iter``, the
    last direction ``d`` and step ``t``, the history ``old_dirs`` (y),
    ``old_stps`` (s), ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss``.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size,
                        line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def _check_hyperparameters(self, group):
        self._check_nonnegative(group, "lr", "tolerance_grad", "tolerance_change")
        for key in ("max_iter", "max_eval", "history_size"):
            if not (isinstance(group[key], int) and group[key] >= 1):
                raise ValueError(f"LBFGS: invalid {key}={group[key]!r}: must be an integer >= 1")
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', "
                             f"got {group['line_search_fn']!r}")

    # -- the parameters as one flat vector ------------------------------------------
    def _gather_flat_grad(self):
        xp = get_array_module(self._params[0].data)
        return xp.concatenate([xp.zeros(p.data.size, p.dtype) if p.grad is None else p.grad.data.ravel()
                               for p in self._params])

    def _add_grad(self, step_size, update):
        """x += step_size * update, `update` being a flat vector."""
        offset = 0
        for p in self._params:
            size = p.data.size
            p.data += step_size * update[offset:offset + size].reshape(p.shape)
            offset += size

    def _directional_evaluate(self, closure, x, t, d):
        """Loss and flat gradient at x + t d, leaving the parameters at x."""
        self._add_grad(t, d)
        loss = _as_float(closure())
        flat_grad = self._gather_flat_grad()
        for p, saved in zip(self._params, x):
            p.data[...] = saved
        return loss, flat_grad

    def step(self, closure):
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss at the start."""
        self._opt_called = True
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]

        def evaluate():
            with enable_grad():
                return closure()

        with no_grad():
            xp = get_array_module(self._params[0].data)
            # LBFGS's state is global; it lives under the first parameter, as in PyTorch
            state = self.state.setdefault(self._params[0], {})
            state.setdefault("func_evals", 0)
            state.setdefault("n_iter", 0)

            orig_loss = evaluate()
            loss = _as_float(orig_loss)
            current_evals = 1
            state["func_evals"] += 1
            flat_grad = self._gather_flat_grad()
            if float(xp.abs(flat_grad).max()) <= tolerance_grad:
                return orig_loss  # already optimal

            d, t = state.get("d"), state.get("t")
            old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
            H_diag = state.get("H_diag")
            prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

            n_iter = 0
            while n_iter < max_iter:
                n_iter += 1
                state["n_iter"] += 1

                # -- direction: steepest descent first, then the two-loop recursion
                if state["n_iter"] == 1:
                    d = -flat_grad
                    old_dirs, old_stps, ro = [], [], []
                    H_diag = 1
                else:
                    y = flat_grad - prev_flat_grad
                    s = d * t
                    ys = float(xp.dot(y, s))
                    if ys > 1e-10:  # keep the pair only for positive curvature
                        if len(old_dirs) == history_size:
                            old_dirs.pop(0)
                            old_stps.pop(0)
                            ro.pop(0)
                        old_dirs.append(y)
                        old_stps.append(s)
                        ro.append(1.0 / ys)
                        H_diag = ys / float(xp.dot(y, y))
                    al = state.setdefault("al", [None] * history_size)
                    q = -flat_grad
                    for i in range(len(old_dirs) - 1, -1, -1):
                        al[i] = float(xp.dot(old_stps[i], q)) * ro[i]
                        q -= al[i] * old_dirs[i]
                    d = r = q * H_diag
                    for i in range(len(old_dirs)):
                        be_i = float(xp.dot(old_dirs[i], r)) * ro[i]
                        r += (al[i] - be_i) * old_stps[i]

                prev_flat_grad = flat_grad.copy()
                prev_loss = loss

                # -- step length: a cautious first step, then lr (or the line search's)
                if state["n_iter"] == 1:
                    t = min(1.0, 1.0 / float(xp.abs(flat_grad).sum())) * lr
                else:
                    t = lr
                gtd = float(xp.dot(flat_grad, d))  # directional derivative
                if gtd > -tolerance_change:
                    break  # not a descent direction any more

                if group["line_search_fn"] == "strong_wolfe":
                    x_init = [p.data.copy() for p in self._params]
                    # as in PyTorch, the line search keeps its own tolerance_change (1e-9)
                    loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                        functools.partial(self._directional_evaluate, evaluate), x_init, t, d, loss,
                        flat_grad, gtd, max_ls=max_eval - current_evals)
                    self._add_grad(t, d)
                    opt_cond = float(xp.abs(flat_grad).max()) <= tolerance_grad
                else:
                    self._add_grad(t, d)
                    ls_func_evals = 0
                    opt_cond = False
                    if n_iter != max_iter:
                        # re-evaluate, except after the last iteration: the next step() does it
                        loss = _as_float(evaluate())
                        flat_grad = self._gather_flat_grad()
                        opt_cond = float(xp.abs(flat_grad).max()) <= tolerance_grad
                        ls_func_evals = 1
                current_evals += ls_func_evals
                state["func_evals"] += ls_func_evals

                # -- stopping tests
                if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                    break
                if float(xp.abs(d * t).max()) <= tolerance_change:
                    break  # the step no longer moves the parameters
                if abs(loss - prev_loss) < tolerance_change:
                    break  # the loss no longer changes

            state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                         prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss


def _as_float(loss):
    return loss.item() if isinstance(loss, Tensor) else float(loss)


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped to `bounds`."""
    xmin_bound, xmax_bound = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (xmin_bound + xmax_bound) / 2.0  # no real minimiser: bisect
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, xmin_bound), xmax_bound)


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Line search along d from x for a step t meeting the strong Wolfe conditions.

    First *bracket*: grow t until an interval is known to contain an
    acceptable step; then *zoom*: shrink it by cubic interpolation. Returns
    (f, g, t, number of evaluations) at the chosen step.
    """
    xp = get_array_module(d)
    d_norm = float(xp.abs(d).max())
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = float(xp.dot(g_new, d))

    # bracketing phase
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate: a cubic step between 1.01 t and 10 t
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(xp.dot(g_new, d))
        ls_iter += 1
    if ls_iter == max_ls:  # out of evaluations
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom phase: shrink the bracket around a point satisfying the conditions
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break  # the bracket is too small to matter
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        # a t too close to an end of the bracket makes little progress: after two such
        # steps in a row (or one outside the bracket), move it 10% of the bracket inside
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(xp.dot(g_new, d))
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # not enough decrease: t becomes the high end
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True  # the strong Wolfe conditions hold
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the old high end becomes the new low end
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals
