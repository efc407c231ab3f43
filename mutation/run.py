"""Mutation testing of minitl with cosmic-ray: put one small bug in the code, run the tests that should see it.

    pip install -e ".[test,mutation]"
    python mutation/run.py ops [--minutes 60]     # or autograd, nn, optim

Each part below names the code mutated and the tests run against each mutant. A mutant is *killed* when
those tests fail, *survives* when they pass: a survivor is a bug the tests would not see, or an
equivalent mutant (a change that computes the same thing). The session lives in mutation/sessions/PART.sqlite:
running the command again resumes it, and `cr-report mutation/sessions/PART.sqlite --show-output` lists the
survivors. Not run in CI (hours for the whole engine); run it when backward code changes, and record the
result in docs/testing.md.
"""
import argparse
import pathlib
import signal
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SESSIONS = ROOT / "mutation" / "sessions"

GRADIENT_TESTS = ["tests/test_gradcheck.py", "tests/test_gradient_mutations.py", "tests/test_higher_order.py"]
PARTS = {
    "ops": (["minitl/ops"], ["tests/test_ops.py", "tests/test_core_parity.py", "tests/test_promotion.py",
                             "tests/test_tensor.py", "tests/test_autograd.py", *GRADIENT_TESTS]),
    "autograd": (["minitl/autograd"], ["tests/test_autograd.py", "tests/test_tensor.py", "tests/test_ops.py",
                                       *GRADIENT_TESTS]),
    "nn": (["minitl/nn"], ["tests/test_functional.py", "tests/test_layers.py", "tests/test_loss_modules.py",
                           "tests/test_conv_transpose.py", "tests/test_regularization_layers.py", *GRADIENT_TESTS]),
    "optim": (["minitl/optim"], ["tests/test_optim.py", "tests/test_optim_parity.py", "tests/test_optim_averaging.py",
                                 "tests/test_optim_second_order.py", "tests/test_lr_scheduler.py"]),
}

# The mutation operators kept are the bugs a backward formula really gets: a sign, a term, an operator
# swapped for its inverse, a constant, a comparison at its boundary, a loop that never runs. Bitwise,
# shift, modulo and floor-division swaps, and variable insertion, would mostly make code that crashes
# at once; they would lengthen the run without telling anything about the tests.
EXCLUDED_OPERATORS = [
    r".*_(BitOr|BitAnd|BitXor|LShift|RShift|Mod|FloorDiv|Invert)(_|$).*",
    r".*_Not$", r"core/VariableInserter", r"core/VariableReplacer", r"core/ExceptionReplacer",
    r"core/RemoveDecorator",
]


def config(part):
    """cosmic-ray's TOML configuration for one part."""
    modules, tests = PARTS[part]
    test_files = " ".join(tests)
    excluded = ", ".join(f"'{pattern}'" for pattern in EXCLUDED_OPERATORS)
    return (f"[cosmic-ray]\nmodule-path = {modules!r}\ntimeout = 120.0\nexcluded-modules = []\n"
            f"test-command = '{sys.executable} -m pytest -x -q -p no:cacheprovider {test_files}'\n"
            f"[cosmic-ray.distributor]\nname = 'local'\n"
            f"[cosmic-ray.filters.operators-filter]\nexclude-operators = [{excluded}]\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=sorted(PARTS))
    parser.add_argument("--minutes", type=float, default=None, help="stop after this long (run again to resume)")
    args = parser.parse_args(argv)
    SESSIONS.mkdir(exist_ok=True)
    config_path, session = SESSIONS / f"{args.part}.toml", SESSIONS / f"{args.part}.sqlite"
    config_path.write_text(config(args.part))
    bin_dir = pathlib.Path(sys.executable).parent

    def run(tool, *arguments):
        return subprocess.run([str(bin_dir / tool), *map(str, arguments)], cwd=ROOT)

    if not session.exists():
        run("cosmic-ray", "init", config_path, session).check_returncode()
        run("cr-filter-operators", session, config_path).check_returncode()
        run("cosmic-ray", "baseline", config_path).check_returncode()  # the tests pass on unmutated code
    worker = subprocess.Popen([str(bin_dir / "cosmic-ray"), "exec", str(config_path), str(session)], cwd=ROOT)
    try:
        worker.wait(timeout=None if args.minutes is None else args.minutes * 60)
    except subprocess.TimeoutExpired:
        # SIGINT, not SIGKILL: cosmic-ray then puts the mutated file back before it stops.
        worker.send_signal(signal.SIGINT)
        worker.wait()
        print(f"stopped after {args.minutes} minutes: run the command again to resume")
    run("cr-report", session)
    return 0


if __name__ == "__main__":
    sys.exit(main())
