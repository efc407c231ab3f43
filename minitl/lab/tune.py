"""Hyper-parameter search: random, grid and coarse-to-fine, as the lecture recommends.

    space = {"lr": loguniform(1e-4, 1), "weight_decay": loguniform(1e-6, 1e-2)}
    results = random_search(objective, space, n_trials=20, seed=0)   # objective(lr=..., weight_decay=...) -> score
    results.best()["params"]                                          # the best trial's hyper-parameters
    results.save_json("trials.json")
    results.plot("lr", "weight_decay", "trials.png")                  # the lecture's scatter plot

The advice behind it (cs231n; Bergstra & Bengio 2012):

- Random search beats grid search for the same budget when some parameters matter
  and others hardly do: a 3 x 3 grid tries 3 values of each parameter, 9 random
  trials try 9 values of each.
- Search learning rates and regularisation strengths on a log scale:
  ``loguniform(1e-4, 1)`` draws the exponent uniformly, so each decade gets
  the same share of trials.
- Coarse to fine: short trials over wide ranges first, then narrow the ranges
  around the best trials and search again (``coarse_to_fine``), learning
  rate first. If the best value sits at the edge of a range, the range was
  too narrow: widen it and search again.

The objective is called with the hyper-parameters as keyword arguments and
returns a score, by default one to maximise (a validation accuracy; pass
``maximize=False`` for a loss). Each trial is a dict::

    {"trial": 0, "round": 0, "params": {"lr": 0.012, ...}, "score": 0.91, "status": "ok", "error": None}

An objective that raises an exception or returns something that is not a
finite number (a NaN loss of a diverged run) gives a trial with
``"status": "failed"``, ``"score": None`` and the reason in ``"error"``; the
search goes on. Searches are seeded: the same seed draws the same trials.
"""
import itertools
import json
import math

import numpy as np


# -- search spaces -------------------------------------------------------------------------------
class Uniform:
    """Real values drawn uniformly from [low, high)."""
    log = False  # drawn uniformly in log10(value) instead

    def __init__(self, low, high):
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"{self._name()} needs finite low < high, got low={low!r}, high={high!r}")
        self.low, self.high = float(low), float(high)

    def _name(self):
        return "loguniform" if self.log else "uniform"

    def _to_axis(self, value):
        """The coordinate in which values are drawn uniformly and ranges are narrowed."""
        return math.log10(value) if self.log else value

    def _from_axis(self, coordinate):
        return 10 ** coordinate if self.log else coordinate

    def sample(self, rng):
        return self._from_axis(rng.uniform(self._to_axis(self.low), self._to_axis(self.high)))

    def narrow(self, values, margin):
        """The range of `values` widened by `margin` times this range's width on each side, inside this range."""
        low, high = self._to_axis(self.low), self._to_axis(self.high)
        coordinates = [self._to_axis(v) for v in values]
        pad = margin * (high - low)
        return type(self)(self._from_axis(max(low, min(coordinates) - pad)),
                          self._from_axis(min(high, max(coordinates) + pad)))

    def describe(self):
        return {"type": self._name(), "low": self.low, "high": self.high}

    def __repr__(self):
        return f"{self._name()}({self.low:.4g}, {self.high:.4g})"


class LogUniform(Uniform):
    """Positive real values whose log10 is drawn uniformly: each decade of [low, high) is equally likely."""
    log = True

    def __init__(self, low, high):
        if not low > 0:
            raise ValueError(f"loguniform needs 0 < low < high, got low={low!r}, high={high!r}")
        super().__init__(low, high)


class RandInt:
    """Integers drawn uniformly from low, low + 1, ..., high - 1 (high excluded, as in NumPy)."""
    log = False

    def __init__(self, low, high):
        if not (isinstance(low, int) and isinstance(high, int) and low < high):
            raise ValueError(f"randint needs integers low < high, got low={low!r}, high={high!r}")
        self.low, self.high = low, high

    def sample(self, rng):
        return int(rng.integers(self.low, self.high))

    def narrow(self, values, margin):
        pad = margin * (self.high - self.low)
        return RandInt(max(self.low, math.floor(min(values) - pad)), min(self.high, math.ceil(max(values) + pad) + 1))

    def describe(self):
        return {"type": "randint", "low": self.low, "high": self.high}

    def __repr__(self):
        return f"randint({self.low}, {self.high})"


class Choice:
    """One of a list of options, each equally likely."""
    log = False

    def __init__(self, options):
        self.options = list(options)
        if not self.options:
            raise ValueError("choice needs at least one option")

    def sample(self, rng):
        return self.options[int(rng.integers(len(self.options)))]

    def narrow(self, values, margin):
        """The options the best trials used, in their original order (margin does not apply)."""
        return Choice([option for option in self.options if option in values])

    def describe(self):
        return {"type": "choice", "options": self.options}

    def __repr__(self):
        return f"choice({self.options!r})"


def uniform(low, high):
    return Uniform(low, high)


def loguniform(low, high):
    return LogUniform(low, high)


def randint(low, high):
    return RandInt(low, high)


def choice(options):
    return Choice(options)


# -- results -------------------------------------------------------------------------------------
class SearchResults(list):
    """The trials of a search in the order they ran (a list of dicts), the space each round searched
    (``spaces``: one dict name -> space per round) and whether a higher score is better (``maximize``)."""

    def __init__(self, trials=(), spaces=(), maximize=True):
        super().__init__(trials)
        self.spaces = list(spaces)
        self.maximize = maximize

    def successful(self):
        return [trial for trial in self if trial["status"] == "ok"]

    def top(self, k, round_number=None):
        """The k best successful trials (of one round, if given), best first."""
        trials = [t for t in self.successful() if round_number is None or t["round"] == round_number]
        return sorted(trials, key=lambda t: t["score"], reverse=self.maximize)[:k]

    def best(self):
        """The best successful trial, or None when every trial failed."""
        top = self.top(1)
        return top[0] if top else None

    def to_json(self):
        """The trials, the spaces of every round and the direction, as a JSON string."""
        return json.dumps({"maximize": self.maximize,
                           "spaces": [{name: space.describe() for name, space in spaces.items()}
                                      for spaces in self.spaces],
                           "trials": list(self)}, indent=1, default=repr)

    def save_json(self, path):
        with open(path, "w") as file:
            file.write(self.to_json())
        return path

    def plot(self, x, y, path, log=None, score_label="validation accuracy", title=None, score_scale=1):
        """Scatter plot of the trials over two hyper-parameters, coloured by score: the lecture's figure.

        `log`: names drawn on log axes (default: those drawn from ``loguniform``).
        `score_scale` multiplies the scores on the colour bar (100: an accuracy in percent).
        Failed trials are grey crosses; with several rounds, each round's range
        is a dashed box.
        """
        from matplotlib.figure import Figure

        if log is None:
            log = {name for spaces in self.spaces[:1] for name, space in spaces.items() if space.log}
        figure = Figure(figsize=(6, 5))
        axis = figure.subplots()
        ok, failed = self.successful(), [t for t in self if t["status"] != "ok"]
        if ok:
            points = axis.scatter([t["params"][x] for t in ok], [t["params"][y] for t in ok],
                                  c=[score_scale * t["score"] for t in ok], cmap="viridis", s=40, edgecolors="black",
                                  linewidths=0.5)
            figure.colorbar(points, ax=axis, label=score_label)
        if failed:
            axis.scatter([t["params"][x] for t in failed], [t["params"][y] for t in failed], marker="x",
                         color="grey", label=f"failed ({len(failed)})")
        if len(self.spaces) > 1:
            for number, spaces in enumerate(self.spaces):
                box_x, box_y = spaces[x], spaces[y]
                if isinstance(box_x, Uniform) and isinstance(box_y, Uniform):
                    axis.plot([box_x.low, box_x.high, box_x.high, box_x.low, box_x.low],
                              [box_y.low, box_y.low, box_y.high, box_y.high, box_y.low],
                              linestyle="--", linewidth=1, color=f"C{number}", label=f"round {number} range")
        best = self.best()
        if best is not None:
            axis.scatter([best["params"][x]], [best["params"][y]], marker="*", s=250, color="red",
                         edgecolors="black", zorder=3, label="best")
        axis.legend(loc="best", fontsize=8)
        axis.set(xlabel=x, ylabel=y, xscale="log" if x in log else "linear", yscale="log" if y in log else "linear",
                 title=title or f"{len(self)} trials")
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        return path


# -- searches ------------------------------------------------------------------------------------
def run_trial(objective, params, number, round_number=0):
    """Call objective(**params) once; the trial dict, failed when it raised or gave no finite number."""
    trial = {"trial": number, "round": round_number, "params": params, "score": None, "status": "failed", "error": None}
    try:
        score = objective(**params)
    except Exception as error:  # noqa: BLE001 (a failed trial is a result, not the end of the search)
        trial["error"] = f"{type(error).__name__}: {error}"
        return trial
    try:
        score = float(score)
    except (TypeError, ValueError):
        trial["error"] = f"the objective returned {score!r}, not a number"
        return trial
    if not math.isfinite(score):
        trial["error"] = f"the objective returned {score}"
        return trial
    trial.update(score=score, status="ok")
    return trial


def _check_space(space):
    if not isinstance(space, dict) or not space:
        raise ValueError(f"a search space is a non-empty dict name -> space, got {space!r}")
    for name, dimension in space.items():
        if not isinstance(dimension, (Uniform, RandInt, Choice)):
            raise TypeError(f"hyper-parameter {name!r}: expected uniform, loguniform, randint or choice, "
                            f"got {dimension!r}")


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _sample_trials(objective, space, n_trials, rng, results, round_number):
    for _ in range(n_trials):
        params = {name: dimension.sample(rng) for name, dimension in space.items()}
        results.append(run_trial(objective, params, len(results), round_number))


def random_search(objective, space, n_trials, seed=0, maximize=True):
    """`n_trials` trials with hyper-parameters drawn from `space` (a dict name -> space), seeded by `seed`."""
    _check_space(space)
    _check_count("n_trials", n_trials)
    results = SearchResults(spaces=[dict(space)], maximize=maximize)
    _sample_trials(objective, space, n_trials, np.random.default_rng(seed), results, round_number=0)
    return results


def grid_search(objective, grid, maximize=True):
    """One trial for every combination of `grid`'s values (a dict name -> list of values), in order."""
    if not isinstance(grid, dict) or not grid or not all(len(values) for values in grid.values()):
        raise ValueError(f"a grid is a non-empty dict name -> non-empty list of values, got {grid!r}")
    results = SearchResults(spaces=[{name: Choice(values) for name, values in grid.items()}], maximize=maximize)
    for combination in itertools.product(*grid.values()):
        results.append(run_trial(objective, dict(zip(grid, combination)), len(results)))
    return results


def coarse_to_fine(objective, space, rounds, trials_per_round, keep_top, seed=0, maximize=True, margin=0.1):
    """Random search in `rounds` rounds, each over ranges narrowed around the previous round's best.

    After each round every range shrinks to the span of that round's
    `keep_top` best trials, widened by `margin` times the old width on each
    side and kept inside the old range (log ranges are narrowed in log10, so
    they stay log; a choice keeps the options the best trials used). A round
    in which every trial failed leaves the ranges as they were.
    """
    _check_space(space)
    for name, value in (("rounds", rounds), ("trials_per_round", trials_per_round), ("keep_top", keep_top)):
        _check_count(name, value)
    if not margin > 0:
        raise ValueError(f"margin must be > 0 (a range must keep a width), got {margin!r}")
    rng = np.random.default_rng(seed)
    results = SearchResults(maximize=maximize)
    current = dict(space)
    for round_number in range(rounds):
        if round_number:
            best = results.top(keep_top, round_number=round_number - 1)
            if best:
                current = {name: dimension.narrow([t["params"][name] for t in best], margin)
                           for name, dimension in current.items()}
        results.spaces.append(current)
        _sample_trials(objective, current, trials_per_round, rng, results, round_number)
    return results
