"""Weight initialisation seen through activation histograms (book figures 6-10 to 6-15).

Part 1, no training (figures 6-10 to 6-14): 1000 random inputs of 100 features go through
5 layers of 100 units (no bias), weights drawn from N(0, std^2). A ``Monitor`` records
each layer's output; its dashboard shows the histograms and its report says what is wrong:

    sigmoid, std 1       outputs pile up at 0 and 1: saturated, the slope there is ~0,
                         so gradients vanish (figure 6-10)
    sigmoid, std 0.01    every output near 0.5: collapsed, 100 units doing the same thing
                         (figure 6-11)
    sigmoid, Xavier      std sqrt(1 / n) for n inputs per unit: a wide spread in every
                         layer (figure 6-13)
    ReLU, std 0.01       the outputs shrink towards 0 layer by layer (figure 6-14)
    ReLU, Xavier         shrinking too, more slowly
    ReLU, He             std sqrt(2 / n): the same spread in every layer (figure 6-14)

(n = fan_in; the book's "Xavier" is this library's nn.init.xavier_normal_ for square
layers, and He is nn.init.kaiming_normal_.)

Part 2, training (figure 6-15): the same 5 ReLU layers of 100 units on MNIST, SGD with
lr 0.01 and batches of 128, once per initialisation. With std 0.01 the net does not learn
(the loss stays at ln 10 = 2.30: the signals, hence the gradients, vanish); with He and
Xavier it does, He much sooner (Xavier's sqrt(1 / n) suits sigmoid and tanh; ReLU zeroes
half of each layer's signal, which He's factor 2 makes up for).

    python examples/weight_init_activations.py            # 2000 steps per init (~20 s)
    python examples/weight_init_activations.py --quick    # 200 steps on 10,000 images (~10 s)
"""

import warnings

import numpy as np
from _common import add_data_dir, figure_dpi, make_parser, new_figure, save_figure

import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.apps.common import load_data, run_main
from tinygrad_edu.data import DataLoader
from tinygrad_edu.monitor import Monitor

LAYERS, UNITS = 5, 100
# name -> the standard deviation of the weights for n inputs per unit
INITS = {
    "std 1": lambda n: 1.0,
    "std 0.01": lambda n: 0.01,
    "Xavier": lambda n: np.sqrt(1.0 / n),
    "He": lambda n: np.sqrt(2.0 / n),
}
# Part 1: (activation, initialisation), as in the book's figures
HISTOGRAM_RUNS = [
    ("sigmoid", "std 1"),
    ("sigmoid", "std 0.01"),
    ("sigmoid", "Xavier"),
    ("relu", "std 0.01"),
    ("relu", "Xavier"),
    ("relu", "He"),
]
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}
TRAINING_INITS = ["std 0.01", "Xavier", "He"]  # Part 2, ReLU


def network(activation, init, inputs=UNITS, outputs=None, bias=False):
    """LAYERS x (Linear without bias -> activation), weights N(0, INITS[init](n)^2), and a
    last Linear to ``outputs`` classes if given (Part 2)."""
    modules = []
    n = inputs
    for _ in range(LAYERS):
        linear = nn.Linear(n, UNITS, bias=bias)
        linear.weight.data[...] = np.random.standard_normal((n, UNITS)) * INITS[init](n)
        modules += [linear, ACTIVATIONS[activation]()]
        n = UNITS
    if outputs:
        last = nn.Linear(n, outputs)
        last.weight.data[...] = np.random.standard_normal((n, outputs)) * INITS[init](n)
        modules.append(last)
    return nn.Sequential(*modules)


def histograms(args):
    """Part 1: one forward pass per configuration, watched by a Monitor."""
    x = np.random.standard_normal((1000, UNITS)).astype(np.float32)
    results, figures = {}, []
    for activation, init in HISTOGRAM_RUNS:
        model = network(activation, init)
        with Monitor(model) as monitor:
            model(x)
        stds = [monitor.layers[str(i)].stats.std for i in range(1, 2 * LAYERS, 2)]
        found = monitor.report(quiet=True)
        name = f"{activation}, {init}"
        results[name] = {
            "std": stds,
            "saturated": [monitor.layers[str(i)].stats.saturated for i in range(1, 10, 2)],
            "symptoms": sorted({w.symptom for w in found}),
        }
        print(f"{name:<18} output std per layer: {' '.join(f'{s:.3f}' for s in stds)}")
        for w in found[:2]:  # the same symptom repeats layer after layer
            print(f"    {w.layer}: {w.symptom}; usual fix: {w.fix}")
        if len(found) > 2:
            print(f"    ... and {len(found) - 2} more warning(s) of the same kind")
        if not found:
            print("    no warning: a healthy spread in every layer")
        if not args.no_pictures:
            figures.append(draw_dashboard(monitor, name, args))
    return results, [f for f in figures if f]


def draw_dashboard(monitor, name, args):
    slug = name.replace(", ", "_").replace(" ", "").replace(".", "")
    try:
        return monitor.plot(args.out / f"activations_{slug}.png", title=name, dpi=figure_dpi(args))
    except ImportError as err:  # matplotlib is optional: say so and go on
        print(f"notice: {err}")
        return None


def training(args):
    """Part 2: the same net on MNIST, once per initialisation; the loss per step."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # load_data announces a fallback loudly itself
        (x_train, t_train), _ = load_data(args.data_dir)
    if args.quick:
        x_train, t_train = x_train[:10_000], t_train[:10_000]
    losses, monitors = {}, {}
    for init in TRAINING_INITS:
        np.random.seed(args.seed)
        model = network("relu", init, inputs=784, outputs=10, bias=True)
        optimizer = optim.SGD(model.parameters(), lr=0.01)
        loader = DataLoader(x_train, t_train, batch_size=128, seed=args.seed)
        monitor = Monitor(model)
        losses[init] = []
        while len(losses[init]) < args.steps:
            for x_batch, t_batch in loader:
                loss = F.cross_entropy(model(x_batch), t_batch)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                monitor.step(loss)
                losses[init].append(loss.item())
                if len(losses[init]) == args.steps:
                    break
        monitor.detach()
        monitors[init] = monitor
        last = float(np.mean(losses[init][-50:]))
        symptoms = sorted({w.symptom for w in monitor.report(quiet=True)}) or ["none"]
        print(
            f"{init:<9} loss: first {losses[init][0]:.3f}, mean of the last 50 steps "
            f"{last:.3f}; monitor: {', '.join(symptoms)}"
        )
    return losses, monitors


def draw_losses(losses, args):
    """Figure 6-15: the training loss per step for each initialisation."""
    fig = new_figure((7, 4.5), "loss comparison")
    if fig is None:
        return None
    ax = fig.subplots()
    for init, values in losses.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=init, lw=1)
    ax.set(xlabel="step", ylabel="training loss", title="MNIST, 5 ReLU layers: initialisation")
    ax.legend()
    return save_figure(fig, args.out / "mnist_init_comparison.png", figure_dpi(args))


def main(argv=None):
    p = make_parser("weight_init_activations", __doc__, "200 training steps on 10,000 images")
    add_data_dir(p)
    p.add_argument("--steps", type=int, help="training steps per init (default 2000, 200 quick)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-pictures", action="store_true", help="print the numbers only")
    args = p.parse_args(argv)
    if args.steps is None:
        args.steps = 200 if args.quick else 2000
    if args.steps < 50:
        p.error("--steps must be at least 50")
    np.random.seed(args.seed)

    print("Part 1: activations of 5 layers of 100 units for 1000 random inputs\n")
    results, figures = histograms(args)
    print(f"\nPart 2: MNIST, 5 ReLU layers of 100 units, SGD lr 0.01, {args.steps} steps\n")
    losses, monitors = training(args)
    if not args.no_pictures:
        figures.append(draw_losses(losses, args))
        for init, monitor in monitors.items():
            figures.append(draw_dashboard(monitor, f"MNIST training, ReLU, {init}", args))
    return {
        "histograms": results,
        "losses": losses,
        "figures": [f for f in figures if f],
    }


if __name__ == "__main__":
    raise SystemExit(run_main(main))  # errors as one line, no traceback
