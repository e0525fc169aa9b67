"""BLAS threads: the flagship's training and the 3-layer net's inference at 1, 2, ... threads.

numpy's matrix products run in a BLAS (OpenBLAS in numpy's wheels) that starts one thread
per core. This script times, at each BLAS thread count (set in-process with
``tinygrad_edu.threads.set_num_threads``; by default 1, 2, the BLAS's own default and
``default_num_threads()``):

* training: SGD steps of the flagship, 784-256-10 ReLU, momentum 0.9, lr 0.1, batches of
  100, float32; a sample is ``--steps`` steps (an epoch of MNIST is 600), reported in ms per
  step and seconds per epoch;
* inference: ``models.ThreeLayerNet`` (784-50-100-10, sigmoid, float32) under
  ``no_grad()``, over the test images in batches of 100, and one image at a time;

on the machine as it is ("quiet": nothing started by the script) and, with ``--load``, also
with one CPU-bound process per core spinning beside it ("busy"), as when other programs
run. The spinning processes stop at the end of the busy part (and stop by themselves after
``--load-limit`` seconds, or when this script dies). The thread counts are timed
round-robin; "vs 1 thread" is the paired ratio (the median over rounds of the ratio within
a round) of a count's time to one thread's.

    python benchmarks/bench_threads.py --data-dir DIR/mnist --load
"""

import contextlib
import os
import subprocess
import sys
import time

import numpy as np
from common import (
    Case,
    add_data_options,
    banner,
    compare,
    environment,
    fmt,
    fmt_ratio,
    footer,
    installed_torch,
    int_list,
    load_average,
    load_mnist_data,
    make_parser,
    parse_args,
    print_table,
    save_plot,
    write_json,
)

import tinygrad_edu.functional as F
from tinygrad_edu import nn, no_grad, optim
from tinygrad_edu.models import ThreeLayerNet
from tinygrad_edu.threads import blas_info, default_num_threads, get_num_threads, set_num_threads

STEPS_PER_EPOCH = 600  # 60,000 MNIST training images in batches of 100

# ----------------------------------------------------------------------------- load


# A CPU-bound loop that ends by itself after LIMIT seconds or when its parent is gone.
BURNER = """\
import os, time
end, parent = time.monotonic() + {limit}, {parent}
while time.monotonic() < end and os.getppid() == parent:
    for _ in range(100_000):
        pass
"""


class Load:
    """``workers`` CPU-burning processes while the ``with`` block runs (none if 0)."""

    def __init__(self, workers, limit):
        self.workers, self.limit, self.processes = workers, limit, []

    def __enter__(self):
        code = BURNER.format(limit=float(self.limit), parent=os.getpid())
        self.processes = [
            subprocess.Popen([sys.executable, "-c", code]) for _ in range(self.workers)
        ]
        if self.processes:
            time.sleep(1.0)  # let them start and take their cores
        return self

    def __exit__(self, *exc):
        for p in self.processes:
            p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return False

    @property
    def pids(self):
        return [p.pid for p in self.processes]

    @property
    def all_running(self):
        return all(p.poll() is None for p in self.processes)


@contextlib.contextmanager
def blas_threads(n, inference=False):
    """The timed code's surroundings: ``n`` BLAS threads (and ``no_grad()`` for inference)."""
    set_num_threads(n)
    with no_grad() if inference else contextlib.nullcontext():
        yield


# ------------------------------------------------------------------------- training


def make_batches(x_train, t_train, count, seed, batch_size=100):
    """``count`` shuffled float32 mini-batches (contiguous), cycling if data is short."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(np.resize(np.arange(len(x_train)), count * batch_size))
    xs = x_train[order].astype(np.float32).reshape(count, batch_size, -1)
    ts = t_train[order].reshape(count, batch_size)
    return [(np.ascontiguousarray(x), np.ascontiguousarray(t)) for x, t in zip(xs, ts)]


class Trainer:
    """The flagship's model and optimizer; one call is one SGD step on the next batch."""

    def __init__(self, batches, hidden, seed):
        np.random.seed(seed)  # the same initial weights for every thread count
        self.model = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))
        self.optimizer = optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)
        self.batches, self.i = batches, 0

    def __call__(self):
        x, t = self.batches[self.i % len(self.batches)]
        self.i += 1
        loss = F.cross_entropy(self.model(x), t)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()


def time_training(counts, batches, args):
    trainers = {n: Trainer(batches, args.hidden, args.seed) for n in counts}
    losses = {}
    for n, train in trainers.items():  # warm-up, untimed; the losses must agree
        with blas_threads(n):
            losses[n] = [train() for _ in range(args.warmup_steps)]
    reference = np.array(losses[counts[0]])
    difference = max(float(np.max(np.abs(np.array(v) - reference))) for v in losses.values())
    cases = {n: Case(train, context=lambda n=n: blas_threads(n)) for n, train in trainers.items()}
    timings = compare(cases, args.repeats, number=args.steps)
    results = {}
    for n in counts:
        seconds = timings[n].to_dict()
        results[n] = {
            "seconds_per_step": seconds,
            "ms_per_step": seconds["median"] * 1e3,
            "seconds_per_epoch": seconds["median"] * STEPS_PER_EPOCH,
            "vs_1_thread": paired_ratio(seconds, timings[counts[0]].to_dict()),
        }
    return results, difference


# ------------------------------------------------------------------------ inference


def batched_pass(model, x, batch_size):
    for i in range(0, len(x), batch_size):
        model(x[i : i + batch_size])


def time_inference(counts, model, x_batched, x_single, t_batched, args):
    accuracies = {}
    for n in counts:  # warm-up, untimed; the predictions must agree
        with blas_threads(n, inference=True):
            scores = [model(x_batched[i : i + 100]).data for i in range(0, len(x_batched), 100)]
            labels = np.concatenate(scores).argmax(axis=1)
            accuracies[n] = float(np.mean(labels == t_batched))
            batched_pass(model, x_single, 1)
    cases = {}
    for n in counts:
        context = lambda n=n: blas_threads(n, inference=True)  # noqa: E731
        cases[(n, 100)] = Case(lambda: batched_pass(model, x_batched, 100), context=context)
        cases[(n, 1)] = Case(lambda: batched_pass(model, x_single, 1), context=context)
    timings = compare(cases, args.repeats, args.min_time)
    images = {100: len(x_batched), 1: len(x_single)}
    per_image = {key: timing.to_dict(unit=images[key[1]]) for key, timing in timings.items()}
    results = {}
    for n in counts:
        batched, single = per_image[(n, 100)], per_image[(n, 1)]
        results[n] = {
            "batch_100": {"seconds_per_image": batched, "us_per_image": batched["median"] * 1e6},
            "batch_1": {"seconds_per_image": single, "us_per_image": single["median"] * 1e6},
            "batch_100_vs_1_thread": paired_ratio(batched, per_image[(counts[0], 100)]),
            "batch_1_vs_1_thread": paired_ratio(single, per_image[(counts[0], 1)]),
            "batching_speedup": paired_ratio(single, batched),
        }
    return results, accuracies


# ---------------------------------------------------------------------------- output


def paired_ratio(a, b):
    """The median over the rounds of a's sample / b's sample in the same round."""
    return float(np.median([x / y for x, y in zip(a["samples"], b["samples"])]))


def label(n, blas_default, chosen):
    notes = []
    if n == chosen:
        notes.append("tinygrad_edu default")
    if n == blas_default:
        notes.append("BLAS default")
    return f"{n}" + (f" ({', '.join(notes)})" if notes else "")


def print_condition(c, labels):
    rows = []
    for n in c["thread_counts"]:
        tr, inf = c["training"][n], c["inference"][n]
        rows.append(
            [
                labels[n],
                fmt(tr["ms_per_step"]),
                fmt(tr["seconds_per_epoch"]),
                fmt_ratio(tr["vs_1_thread"]),
                fmt(inf["batch_100"]["us_per_image"]),
                fmt_ratio(inf["batch_100_vs_1_thread"]),
                fmt(inf["batch_1"]["us_per_image"]),
                fmt_ratio(inf["batch_1_vs_1_thread"]),
                fmt_ratio(inf["batching_speedup"]),
            ]
        )
    headers = [
        "BLAS threads",
        "train ms/step",
        "s/epoch",
        "vs 1 thread",
        "batch 100 us/img",
        "vs 1 thread",
        "batch 1 us/img",
        "vs 1 thread",
        "batch 100 speed-up",
    ]
    title = (
        f"{c['condition']}: {c['description']} (load average {c['load_average_start']} "
        f"at the start, {c['load_average_end']} at the end)"
    )
    print_table(headers, rows, title=title)


def draw(conditions, labels):
    def figure(plt):
        fig, axes = plt.subplots(1, 3, figsize=(12, 4))
        measures = [
            ("training step (ms)", lambda c, n: c["training"][n]["ms_per_step"]),
            ("batch 100 (us/image)", lambda c, n: c["inference"][n]["batch_100"]["us_per_image"]),
            ("batch 1 (us/image)", lambda c, n: c["inference"][n]["batch_1"]["us_per_image"]),
        ]
        counts = conditions[0]["thread_counts"]
        width = 0.8 / len(counts)
        for ax, (title, value) in zip(axes, measures):
            for k, n in enumerate(counts):
                xs = [i + (k - (len(counts) - 1) / 2) * width for i in range(len(conditions))]
                ax.bar(xs, [value(c, n) for c in conditions], width, label=f"{labels[n]}")
            ax.set_xticks(range(len(conditions)), [c["condition"] for c in conditions])
            ax.set_yscale("log")
            ax.set_title(title)
        axes[0].legend(title="BLAS threads", fontsize="small")
        return fig

    return figure


# ------------------------------------------------------------------------------ main


def main(argv=None):
    parser = make_parser(
        __doc__, "a few seconds: 10 steps and 2 rounds, few images", torch_option=False
    )
    add_data_options(parser)
    parser.add_argument(
        "--thread-counts",
        type=int_list,
        default=[1, 2],
        metavar="N,N,...",
        help="BLAS thread counts to time (the BLAS's default and default_num_threads() are added)",
    )
    parser.add_argument("--load", action="store_true", help="also time with the machine busy")
    parser.add_argument(
        "--load-workers", type=int, default=os.cpu_count() or 1, help="CPU-burning processes"
    )
    parser.add_argument(
        "--load-limit", type=float, default=900, help="seconds after which they stop anyway"
    )
    parser.add_argument("--hidden", type=int, default=256, help="the flagship's hidden units")
    parser.add_argument("--steps", type=int, default=300, help="SGD steps per timed sample")
    parser.add_argument("--warmup-steps", type=int, default=20, help="untimed steps first")
    parser.add_argument("--images", type=int, default=10_000, help="test images, batches of 100")
    parser.add_argument(
        "--single-images", type=int, default=1_000, help="test images, one at a time"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed samples per count")
    parser.add_argument(
        "--min-time", type=float, default=0.2, help="seconds per inference sample (at least)"
    )
    args = parse_args(parser, argv)
    if args.quick:
        args.steps, args.warmup_steps = min(args.steps, 10), min(args.warmup_steps, 3)
        args.images, args.single_images = min(args.images, 500), min(args.single_images, 50)
        args.repeats, args.min_time = min(args.repeats, 2), min(args.min_time, 0.01)
        args.load_limit = min(args.load_limit, 120)
    if min(args.thread_counts, default=0) < 1:
        parser.error("--thread-counts must be positive integers")

    torch_version, torch_note = installed_torch()
    env = environment(None, torch_note, torch_version)
    env["blas_libraries"] = blas_info()
    blas_default, chosen = get_num_threads(), default_num_threads()
    counts = sorted({*args.thread_counts, blas_default, chosen})
    labels = {n: label(n, blas_default, chosen) for n in counts}

    (x_train, t_train), (x_test, t_test), data_source = load_mnist_data(
        args.data_dir, args.download
    )
    batches = make_batches(x_train, t_train, max(1, min(STEPS_PER_EPOCH, args.steps)), args.seed)
    x_batched = np.ascontiguousarray(x_test[: args.images], dtype=np.float32)
    x_single = np.ascontiguousarray(x_test[: args.single_images], dtype=np.float32)
    np.random.seed(args.seed)
    model = ThreeLayerNet(784, 50, 100, 10, weight_init_std=0.1)  # random weights: timing only

    libraries = "; ".join(
        f"{lib.get('internal_api')} {lib.get('version')} ({lib.get('threading_layer')}, "
        f"kernel {lib.get('architecture')}), {lib.get('num_threads')} threads"
        for lib in env["blas_libraries"]
    )
    banner(
        "BLAS threads: flagship training step and 3-layer inference, quiet and busy",
        env,
        [
            f"BLAS:     {libraries or 'none found by threadpoolctl'}",
            f"threads:  {counts}; BLAS default {blas_default}, tinygrad_edu default {chosen}",
            f"data:     {data_source}",
            f"training: 784-{args.hidden}-10, batch 100, float32, SGD momentum 0.9; samples of "
            f"{args.steps} steps, {args.repeats} rounds",
            f"infer:    784-50-100-10 sigmoid; {len(x_batched):,} images in batches of 100, "
            f"{len(x_single):,} one at a time; {args.repeats} rounds of >= {args.min_time} s",
            "load:     "
            + (
                f"quiet, then busy ({args.load_workers} CPU-burning processes)"
                if args.load
                else "quiet only (--load adds a busy run)"
            ),
        ],
    )

    conditions, burner_pids = [], []
    plan = [("quiet", 0)] + ([("busy", args.load_workers)] if args.load else [])
    try:
        for name, workers in plan:
            with Load(workers, args.load_limit) as load:
                burner_pids += load.pids
                start_load = load_average()
                training, loss_difference = time_training(counts, batches, args)
                inference, accuracies = time_inference(
                    counts, model, x_batched, x_single, t_test[: len(x_batched)], args
                )
                burners_ran = load.all_running
            description = (
                f"{workers} CPU-burning processes beside it" if workers else "nothing started"
            )
            conditions.append(
                {
                    "condition": name,
                    "description": description,
                    "load_workers": workers,
                    "burners_ran_throughout": burners_ran,
                    "load_average_start": start_load,
                    "load_average_end": load_average(),
                    "thread_counts": counts,
                    "training": training,
                    "inference": inference,
                    "max_loss_difference": loss_difference,
                    "accuracies": accuracies,
                }
            )
            print_condition(conditions[-1], labels)
            sys.stdout.flush()
    finally:
        set_num_threads(blas_default)

    print(
        "vs 1 thread: paired ratio of the time to one thread's (below 1.00x: faster); "
        "batch 100 speed-up: per-image time one at a time / in batches of 100"
    )
    differences = max(c["max_loss_difference"] for c in conditions)
    agree = len({a for c in conditions for a in c["accuracies"].values()}) == 1
    print(
        f"checks: training losses agree across thread counts to {fmt(differences, 2)}; "
        f"inference predictions {'agree' if agree else 'DIFFER'} across thread counts"
    )
    print()
    footer(env)

    if args.json:
        settings = {
            "data": data_source,
            "thread_counts": counts,
            "blas_default_threads": blas_default,
            "default_num_threads": chosen,
            "hidden": args.hidden,
            "steps": args.steps,
            "warmup_steps": args.warmup_steps,
            "images": len(x_batched),
            "single_images": len(x_single),
            "repeats": args.repeats,
            "min_time": args.min_time,
            "load": args.load,
            "load_workers": args.load_workers if args.load else 0,
        }
        results = {"conditions": conditions, "predictions_agree": agree, "burner_pids": burner_pids}
        write_json(args.json, "threads", env, settings, results)
    if args.plot:
        save_plot(args.plot, draw(conditions, labels))


if __name__ == "__main__":
    main()
