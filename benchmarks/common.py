"""Shared helpers for the benchmark scripts: options, timing, tables, JSON, plots, data.

Timing follows the usual good practice:

* every variant is warmed up before it is timed;
* the variants are timed **round-robin** (A, B, C, A, B, C, ... with the starting variant
  rotated each round), so a burst of load on the machine hits all of them alike;
* each sample runs a variant ``number`` times in a loop (``number`` chosen so that a sample
  lasts about ``min_time`` seconds) and divides by ``number``;
* the result is the **median** of the samples, with the minimum and the interquartile
  range (IQR) as a guide to the noise; clocks are ``time.perf_counter``.

The garbage collector stays on (as in a real program), so its pauses count.
"""

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import threadpoolctl

import tinygrad_edu
from tinygrad_edu import threads
from tinygrad_edu.datasets import DatasetError, SampleDataWarning, load_mnist

NO_TORCH_ENV = "TINYGRAD_EDU_BENCH_NO_TORCH"
THREAD_ENV_VARS = threads.THREAD_ENV_VARS
BLAS_KERNEL_ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # force OpenBLAS's kernels

# ----------------------------------------------------------------------------- options


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks; shows defaults that say something."""

    def _get_help_string(self, action):
        text = action.help or ""
        shown = action.default is not None and action.default is not False
        if shown and action.default != argparse.SUPPRESS and "default" not in text:
            text += " (default: %(default)s)"
        return text


def make_parser(description, quick_help, torch_option=True):
    """An ``argparse`` parser with the options every benchmark shares (``--no-torch``
    only for those with a PyTorch variant). ``description``: the script's docstring."""
    parser = argparse.ArgumentParser(description=description, formatter_class=_HelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--plot", metavar="PATH", help="also save a PNG chart (needs matplotlib)")
    if torch_option:
        parser.add_argument(
            "--no-torch",
            action="store_true",
            help=f"leave PyTorch out even if it is installed (or set {NO_TORCH_ENV}=1)",
        )
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="limit numpy's BLAS (at once, with threadpoolctl) and PyTorch (through "
        "OMP_NUM_THREADS and its siblings) to N threads; default: tinygrad_edu's "
        "default_num_threads() (1), unless one of those variables is set",
    )
    return parser


def parse_args(parser, argv=None):
    """Parse the options and limit the threads: ``--threads N``, or by default
    ``tinygrad_edu.threads.default_num_threads()`` unless a thread variable is set. numpy's
    BLAS is limited at once (threadpoolctl); the variables are set for PyTorch, which
    reads them when it is imported."""
    args = parser.parse_args(argv)
    if args.threads is None and not any(os.environ.get(k) for k in THREAD_ENV_VARS):
        args.threads = threads.default_num_threads()  # see benchmarks/README.md, BLAS threads
    if args.threads is not None:
        os.environ.update({name: str(args.threads) for name in THREAD_ENV_VARS})
        threads.set_num_threads(args.threads)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(args.threads)
    return args


def add_data_options(parser):
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder holding the four MNIST files (default: $TINYGRAD_EDU_DATA/mnist, then "
        "the cache; failing those, the small sample bundled with tinygrad_edu)",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="download MNIST if it is not found (by default a benchmark never downloads)",
    )


def int_list(text):
    """``"1,10,100"`` -> ``[1, 10, 100]``, for list-valued options."""
    return [int(part) for part in text.split(",") if part]


# ---------------------------------------------------------------------------- PyTorch


def import_torch(disabled=False):
    """``(torch, note)``: the module, or None with the reason it is left out."""
    if disabled:
        return None, "left out (--no-torch)"
    if os.environ.get(NO_TORCH_ENV, "") not in ("", "0"):
        return None, f"left out (${NO_TORCH_ENV} is set)"
    try:
        import torch
    except (ImportError, OSError) as err:
        return None, f"not available ({type(err).__name__}: {err})"
    return torch, f"{torch.__version__}, {torch.get_num_threads()} threads"


def installed_torch():
    """``(version, note)`` for benchmarks without a PyTorch variant: its installed version,
    found without importing it (which takes seconds), or None."""
    version = _installed_version("torch")
    return version, f"{version or 'not installed'} (not used by this benchmark)"


def _installed_version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


# ------------------------------------------------------------------------ environment


def cpu_model():
    """The CPU's model name (from /proc/cpuinfo on Linux), else what ``platform`` says."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def numpy_blas():
    """The BLAS numpy was built against, e.g. 'scipy-openblas 0.3.31', when numpy says,
    and the CPU kernels it chose at load time (threadpoolctl's "architecture", e.g.
    'Haswell'), which decide the speed of every matrix product (benchmarks/README.md)."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        name = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy, or a build that does not report it
        name = "unknown"
    kernels = {info.get("architecture") for info in threadpoolctl.threadpool_info()}
    kernels.discard(None)
    return f"{name}, kernels {', '.join(sorted(kernels))}" if kernels else name


def environment(torch=None, torch_note="", torch_version=None):
    """Where and with what the benchmark ran, as a dict (printed and saved in the JSON).

    ``torch``: the imported module, or None (not installed, left out, or not needed, when
    ``torch_version`` may still give the installed version); ``torch_note``: what to say.
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.machine()}",
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": numpy_blas(),
        "blas_env": {k: os.environ[k] for k in BLAS_KERNEL_ENV_VARS if k in os.environ},
        "tinygrad_edu": tinygrad_edu.__version__,
        "tinygrad_edu_source": source_version(),
        "torch": torch.__version__ if torch is not None else torch_version,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "torch_note": torch_note,
        "thread_env": {k: os.environ[k] for k in THREAD_ENV_VARS if k in os.environ},
        "load_average": load_average(),
    }


def source_version():
    """The git commit of the tinygrad_edu source in use, with "+changes" when its files
    differ from that commit; None when it is not in a git work tree."""
    package = Path(tinygrad_edu.__file__).resolve().parent

    def git(*args):
        done = subprocess.run(
            ["git", *args], cwd=package, capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changes = git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + (" +changes" if changes else "")


def load_average():
    """The 1-minute load average: other work on the machine makes timings noisy."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def print_environment(env):
    print(f"date:          {env['date']}")
    print(f"machine:       {env['machine']}, CPU {env['cpu']}, {env['cores']} cores", end="")
    print(f" ({env['usable_cores']} usable)" if env["usable_cores"] else "")
    print(f"python:        {env['python']}")
    print(f"numpy:         {env['numpy']} (BLAS: {env['numpy_blas']})")
    if env["blas_env"]:
        forced = " and ".join(f"{k}={v}" for k, v in env["blas_env"].items())
        print(f"note:          {forced} force OpenBLAS's kernels; to time numpy at its")
        unset = " ".join(f"-u {k}" for k in BLAS_KERNEL_ENV_VARS)
        print(f"               own speed: env {unset} python ...")
    source = env["tinygrad_edu_source"]
    print(f"tinygrad_edu:  {env['tinygrad_edu']}" + (f" (git {source})" if source else ""))
    print(f"torch:         {env['torch_note']}")
    threads = ", ".join(f"{k}={v}" for k, v in env["thread_env"].items()) or "defaults"
    print(f"threads:       {threads}")
    print(f"load average:  {env['load_average']} (1-minute, at the start; other work adds noise)")
    print()


# ----------------------------------------------------------------------------- timing


@dataclass
class Timing:
    """Seconds per call, one sample per round."""

    samples: list = field(default_factory=list)
    number: int = 1  # calls per sample

    @property
    def median(self):
        return float(np.median(self.samples))

    @property
    def min(self):
        return float(np.min(self.samples))

    @property
    def iqr(self):
        q1, q3 = np.percentile(self.samples, [25, 75])
        return float(q3 - q1)

    def to_dict(self, unit=1.0):
        """The statistics divided by ``unit`` (e.g. 1e-6 for microseconds)."""
        return {
            "median": self.median / unit,
            "min": self.min / unit,
            "iqr": self.iqr / unit,
            "samples": [s / unit for s in self.samples],
            "calls_per_sample": self.number,
        }


@dataclass
class Case:
    """One thing to time: ``fn()`` (or ``fn(arg)`` for each ``arg`` that ``setup(number)``
    prepares untimed, e.g. graphs to run backward on), inside ``context()`` if given."""

    fn: object
    setup: object = None
    context: object = None


def _run(case, number):
    """Seconds for ``number`` calls of the case (setup excluded)."""
    args = case.setup(number) if case.setup else None
    with case.context() if case.context else contextlib.nullcontext():
        fn = case.fn
        if args is None:
            start = time.perf_counter()
            for _ in range(number):
                fn()
            return time.perf_counter() - start
        start = time.perf_counter()
        for arg in args:
            fn(arg)
        return time.perf_counter() - start


def calibrate(case, min_time):
    """Warm the case up and return how many calls make a sample of about ``min_time`` s."""
    number, elapsed = 1, _run(case, 1)  # the first call also warms caches and allocators
    while elapsed < min_time / 4 and number < 10**7:
        number *= 4
        elapsed = _run(case, number)
    return max(1, math.ceil(number * min_time / max(elapsed, 1e-9)))


def compare(cases, repeats, min_time=0.05, number=None):
    """Time several cases round-robin; returns ``{name: Timing}`` (seconds per call).

    ``cases`` maps names to ``Case`` objects or plain callables. With ``number`` given
    (an int, or a dict by name), each sample is exactly that many calls and there is no
    warm-up: do it yourself.
    """
    cases = {name: c if isinstance(c, Case) else Case(c) for name, c in cases.items()}
    if number is None:
        numbers = {name: calibrate(c, min_time) for name, c in cases.items()}
    else:
        numbers = number if isinstance(number, dict) else dict.fromkeys(cases, number)
    timings = {name: Timing(number=numbers[name]) for name in cases}
    names = list(cases)
    for round_ in range(repeats):
        shift = round_ % len(names)  # rotate who goes first
        for name in names[shift:] + names[:shift]:
            elapsed = _run(cases[name], numbers[name])
            timings[name].samples.append(elapsed / numbers[name])
    return timings


# ---------------------------------------------------------------------------- tables


def format_table(headers, rows, title=None):
    """A plain-text table: text columns left-aligned, numbers right-aligned.

    Cells are printed as given (format numbers before), except None, shown as '-'.
    """
    cells = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    numeric = [all(_looks_numeric(r[i]) for r in cells) for i in range(len(headers))]

    def line(values):
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    out = [title, ""] if title else []
    out += [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _looks_numeric(text):
    text = text.rstrip("x%").replace(",", "")
    if text == "-":
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def print_table(headers, rows, title=None):
    print(format_table(headers, rows, title))
    print()


def fmt(value, digits=3):
    """A number with ``digits`` significant digits, thousands separated ('-' for None)."""
    if value is None:
        return "-"
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) < 1e-3:
        return f"{value:.{digits - 1}e}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def ratio(a, b):
    return None if a is None or b is None else a / b


def fmt_ratio(value):
    return "-" if value is None else f"{value:.2f}x"


# ---------------------------------------------------------------------------- targets


def target(name, numerator, denominator, limit):
    """The performance target "numerator time / denominator time <= limit".

    ``numerator`` and ``denominator`` are ``Timing.to_dict()`` results (None when a variant
    did not run), timed round-robin by ``compare``. The verdict uses the **paired ratio**:
    the median over the rounds of numerator / denominator within the same round. Both
    samples of a round ran a fraction of a second apart, so a slow spell of the machine
    cancels out of their ratio, where it can shift one variant's median alone. The ratio of
    the medians and the ratio of the minima (the least disturbed samples) are recorded too.
    """
    value = value_min = paired = None
    if numerator and denominator:
        value = ratio(numerator["median"], denominator["median"])
        value_min = ratio(numerator["min"], denominator["min"])
        rounds = zip(numerator["samples"], denominator["samples"])
        paired = float(np.median([a / b for a, b in rounds]))
    met = None if paired is None else bool(paired <= limit)
    return {
        "target": name,
        "value": paired,
        "ratio_of_medians": value,
        "ratio_of_minima": value_min,
        "limit": limit,
        "met": met,
    }


def print_targets(targets):
    rows = []
    for t in targets:
        status = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        rows.append(
            [
                t["target"],
                fmt_ratio(t["value"]),
                fmt_ratio(t["ratio_of_medians"]),
                fmt_ratio(t["ratio_of_minima"]),
                f"<= {t['limit']:.2f}x",
                status,
            ]
        )
    headers = ["target", "paired ratio", "ratio of medians", "ratio of minima", "limit", "status"]
    print_table(headers, rows, title="Targets (float32, measured side by side in this run)")
    print(
        "paired ratio: the median over the timing rounds of the two variants' ratio within a "
        "round (the verdict); see benchmarks/README.md"
    )
    print()


def footer(env):
    """Print (and record in ``env``) the load average at the end of the run."""
    env["load_average_end"] = load_average()
    print(f"load average at the end: {env['load_average_end']}")
    print()


# ----------------------------------------------------------------------- json, plots


def write_json(path, benchmark, env, settings, results):
    """Save ``{"benchmark", "environment", "settings", "results"}`` to ``path``."""
    payload = {
        "benchmark": benchmark,
        "environment": env,
        "settings": settings,
        "results": results,
    }
    Path(path).write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    print(f"wrote {path}")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (Path, np.dtype)):
        return str(value)
    raise TypeError(f"cannot save {type(value).__name__} as JSON")


def save_plot(path, draw):
    """Call ``draw(plt)`` to build a figure and save it as ``path``; without matplotlib,
    say so and skip (it is an optional dependency)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: no plot written to {path}")
        return
    fig = draw(plt)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def grouped_bars(ax, groups, variants, value, labels):
    """A bar chart on ``ax``: for each of ``groups`` (ticked with ``labels``) one bar per
    variant, side by side, of height ``value(group, variant)``."""
    width = 0.8 / len(variants)
    for k, v in enumerate(variants):
        xs = [i + (k - (len(variants) - 1) / 2) * width for i in range(len(groups))]
        ax.bar(xs, [value(g, v) for g in groups], width, label=v)
    ax.set_xticks(range(len(groups)), labels)


# ------------------------------------------------------------------------------ data


def load_mnist_data(data_dir=None, download=False):
    """MNIST as ``((x_train, t_train), (x_test, t_test), source)``, where ``source`` says
    whether it is the full data set or the sample bundled with tinygrad_edu."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SampleDataWarning)
        try:
            train, test = load_mnist(data_dir=data_dir, download=download)
        except DatasetError as err:  # a line that says what to do, not a traceback
            raise SystemExit(f"{Path(sys.argv[0]).name}: error: {err}") from None
    sample = any(issubclass(w.category, SampleDataWarning) for w in caught)
    kind = "bundled MNIST sample (MNIST not found)" if sample else "full MNIST"
    source = f"{kind}: {len(train[0]):,} training and {len(test[0]):,} test images"
    return train, test, source


# ------------------------------------------------------- the same arithmetic in numpy


def numpy_sigmoid(x):
    """tinygrad_edu's stable sigmoid (``ops.stable_sigmoid``), in plain numpy."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


def numpy_softmax(x):
    """tinygrad_edu's max-shifted softmax over the last axis (``ops.Softmax.forward``)."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def banner(title, env, settings_lines=()):
    """Print the benchmark's title, the environment and its settings."""
    print(title)
    print("=" * len(title))
    print_environment(env)
    for line in settings_lines:
        print(line)
    if settings_lines:
        print()
    sys.stdout.flush()
