"""Backpropagation against numerical gradients, on the notes' TwoLayerNet (784-50-10).

Backprop gets all 39,760 gradients from one forward and one backward pass. The numerical
gradient (central differences, ``tinygrad_edu.numerical.numerical_gradient``) needs two
forward passes per parameter. Timing all of them takes a while, so by default this times a
few hundred parameters spread over W1, b1, W2 and b2 and EXTRAPOLATES to all of them
(``--full`` computes and times the whole numerical gradient instead). It also prints, per
parameter array, the mean absolute difference between the two gradients, as the notes'
gradient check does.

    python benchmarks/bench_gradients.py --data-dir DIR [--batch-size 3] [--full]
"""

import time

import numpy as np
from common import (
    Case,
    add_data_options,
    banner,
    compare,
    environment,
    fmt,
    footer,
    installed_torch,
    load_mnist_data,
    make_parser,
    parse_args,
    print_table,
    save_plot,
    write_json,
)

from tinygrad_edu import no_grad
from tinygrad_edu.models import TwoLayerNet
from tinygrad_edu.numerical import numerical_gradient


def spread_view(array, count):
    """About ``count`` elements of ``array`` spread evenly over it, as a VIEW: changing
    them changes the array, which is what ``numerical_gradient`` needs."""
    flat = array.reshape(-1)  # a view of a contiguous parameter
    step = max(1, flat.size // count)
    return flat[step // 2 :: step][:count]


def numerical_on_samples(net, x, t, count):
    """The numerical gradient of the sampled parameters: ``{name: (values, seconds)}``.

    Uses the library's ``numerical_gradient`` with the loss function that
    ``TwoLayerNet.numerical_gradient`` uses.
    """

    def loss_w(_):
        with no_grad():
            return net.loss(x, t).item()

    results = {}
    for name, p in net.named_parameters():
        view = spread_view(p.data, count)
        start = time.perf_counter()
        values = numerical_gradient(loss_w, view)
        results[name] = (values, time.perf_counter() - start)
    return results


def main(argv=None):
    parser = make_parser(
        __doc__,
        "a few seconds: 20 sampled parameters per array",
        torch_option=False,
    )
    add_data_options(parser)
    parser.add_argument("--batch-size", type=int, default=100, help="the notes use 3")
    parser.add_argument(
        "--params", type=int, default=150, help="sampled parameters per array (at most)"
    )
    parser.add_argument("--hidden", type=int, default=50, help="hidden units")
    parser.add_argument("--repeats", type=int, default=5, help="timed samples of each")
    parser.add_argument(
        "--full", action="store_true", help="also time the complete numerical gradient"
    )
    args = parse_args(parser, argv)
    if args.quick:
        args.params, args.repeats = min(args.params, 20), min(args.repeats, 2)
    torch_version, torch_note = installed_torch()
    env = environment(None, torch_note, torch_version)

    (x_train, t_train), _, data_source = load_mnist_data(args.data_dir, args.download)
    x = x_train[: args.batch_size].astype(np.float64)
    t = t_train[: args.batch_size]
    np.random.seed(args.seed)
    net = TwoLayerNet(784, args.hidden, 10)  # float64, weight_init_std 0.01, as in the notes
    params = dict(net.named_parameters())
    total = sum(p.size for p in params.values())
    banner(
        f"Gradient benchmark: backprop vs numerical gradient, TwoLayerNet(784, {args.hidden}, 10)",
        env,
        [
            f"data:     {data_source}; a batch of {args.batch_size} training images, float64",
            f"network:  {total:,} parameters ("
            + ", ".join(f"{k} {p.shape}" for k, p in params.items())
            + ")",
            f"sampled:  up to {args.params} parameters per array for the numerical gradient "
            f"(h = 1e-4, central differences); {args.repeats} timed samples, round-robin",
        ],
    )

    backprop = net.gradient(x, t)  # {name: array}
    runs = []  # each call of the numerical case: {name: (values, seconds)}
    cases = {
        "backprop": Case(lambda: net.gradient(x, t)),
        "numerical": Case(lambda: runs.append(numerical_on_samples(net, x, t, args.params))),
    }
    timings = compare(cases, args.repeats, min_time=0.05)  # calibration warms both up
    seconds_backprop = timings["backprop"].median

    rows, arrays, estimate = [], {}, 0.0
    for name, p in params.items():
        values = runs[-1][name][0]
        seconds = float(np.median([run[name][1] for run in runs[1:]]))  # skip the warm-up
        exact = spread_view(backprop[name], args.params)
        per_param = seconds / values.size
        estimate += per_param * p.size
        difference = np.abs(exact - values)
        arrays[name] = {
            "shape": list(p.shape),
            "size": p.size,
            "sampled": values.size,
            "us_per_parameter": per_param * 1e6,
            "extrapolated_seconds": per_param * p.size,
            "mean_abs_difference": float(difference.mean()),
            "max_abs_difference": float(difference.max()),
        }
        rows.append(
            [
                name,
                str(p.shape),
                f"{p.size:,}",
                values.size,
                fmt(per_param * 1e6),
                fmt(per_param * p.size),
                f"{difference.mean():.2e}",
                f"{difference.max():.2e}",
            ]
        )
    headers = [
        "array",
        "shape",
        "params",
        "sampled",
        "us/param",
        "extrapolated s",
        "mean |diff|",
        "max |diff|",
    ]
    print_table(headers, rows, title="Numerical gradient per parameter array")
    print(
        "Differences well above 1e-9 come from ReLU kinks: where a hidden unit's input lies "
        "within h of 0,\nthe central difference straddles the kink (most often for b1, which "
        "shifts every sample's input)."
    )
    print()

    full_seconds = None
    if args.full:
        start = time.perf_counter()
        full = net.numerical_gradient(x, t)
        full_seconds = time.perf_counter() - start
        for name in params:
            difference = float(np.abs(full[name] - backprop[name]).mean())
            arrays[name]["full_mean_abs_difference"] = difference
            print(f"{name}: mean |backprop - numerical| over all parameters: {difference:.2e}")
        print()
    numerical_seconds = full_seconds if full_seconds is not None else estimate
    how = "measured (--full)" if full_seconds is not None else "EXTRAPOLATED from the samples"
    summary = [
        ["backprop: all gradients", fmt(seconds_backprop * 1e3), "measured (median)"],
        [f"numerical: all {total:,} gradients", fmt(numerical_seconds * 1e3), how],
    ]
    if full_seconds is not None:
        summary.append(["numerical: extrapolation", fmt(estimate * 1e3), "from the samples"])
    print_table(["what", "ms", "how"], summary, title="Time for the whole gradient")
    speedup = numerical_seconds / seconds_backprop
    print(f"backprop is {speedup:,.0f} times faster than the numerical gradient ({how}).")
    print()
    footer(env)

    if args.json:
        settings = {
            "data": data_source,
            "batch_size": args.batch_size,
            "hidden": args.hidden,
            "parameters": total,
            "sampled_per_array": args.params,
            "repeats": args.repeats,
            "full": args.full,
        }
        results = {
            "backprop_seconds": timings["backprop"].to_dict(),
            "numerical_sampled_seconds": timings["numerical"].to_dict(),
            "numerical_all_seconds": numerical_seconds,
            "numerical_all_extrapolated": full_seconds is None,
            "numerical_extrapolated_seconds": estimate,
            "numerical_full_seconds": full_seconds,
            "speedup_backprop_over_numerical": speedup,
            "arrays": arrays,
        }
        write_json(args.json, "gradients", env, settings, results)
    if args.plot:
        save_plot(args.plot, draw(seconds_backprop, numerical_seconds, how))


def draw(backprop, numerical, how):
    def figure(plt):
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.barh(["numerical\n(" + how + ")", "backprop"], [numerical, backprop])
        ax.set_xscale("log")
        ax.set_xlabel("seconds for all gradients")
        ax.set_title(f"backprop is {numerical / backprop:,.0f}x faster")
        return fig

    return figure


if __name__ == "__main__":
    main()
