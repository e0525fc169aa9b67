"""A training health check: one healthy run and two sick ones, diagnosed by ``Monitor``.

The book's chapter 6 diagnoses training by looking: activation histograms piled at 0 and
1, a loss that will not fall. ``tinygrad_edu.monitor.Monitor`` takes those measurements at
every step and says what it sees, naming the layer, the symptom and the usual fix. Three
runs of the same MNIST net (784 -> 5 hidden layers of 100 units -> 10, SGD, mini-batches
of 100), each watched by a Monitor:

    healthy            ReLU, He initialisation, lr 0.1: no warning; the update-to-weight
                       ratios sit near CS231n's rule of thumb, 1e-3
    sigmoid, std 1     weights drawn from N(0, 1): half of the sigmoid outputs and more
                       are stuck at 0 or 1, where the slope is ~0 (the book's figure 6-10):
                       "saturated units" in every layer, and the loss falls slowly
    learning rate 10   He's ReLU net, but steps 100 times too big: the weights change by
                       far more than their own size per step, the loss turns NaN within a
                       few steps: "loss is nan", "learning rate too high"

For each run: the report as ``monitor.report()`` prints it, and the dashboard
(``monitor.plot``): each activation layer's histogram, and the loss, gradient norms and
update ratios over the steps. Try the fixes it suggests: Xavier init for the sigmoids
(``init="xavier"``), a learning rate near 0.1.

    python examples/training_health.py            # 300 steps per run (~5 s)
    python examples/training_health.py --quick    # 50 steps per run (~3 s)
"""

import numpy as np
from _common import add_data_dir, figure_dpi, make_parser

import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.apps.common import load_data, run_main
from tinygrad_edu.data import DataLoader
from tinygrad_edu.monitor import Monitor

LAYERS, UNITS, BATCH = 5, 100, 100
RUNS = {  # name -> (activation, standard deviation of the weights or "he", learning rate)
    "healthy": (nn.ReLU, "he", 0.1),
    "sigmoid, std 1": (nn.Sigmoid, 1.0, 0.1),
    "learning rate 10": (nn.ReLU, "he", 10.0),
}


def network(activation, std):
    """LAYERS x (Linear -> activation), then Linear to 10 scores; the weights He's
    N(0, 2 / n) for n inputs per unit, or N(0, std^2)."""
    modules, n = [], 784
    for _ in range(LAYERS):
        linear = nn.Linear(n, UNITS)
        if std != "he":
            nn.init.normal_(linear.weight, std=std)
        modules += [linear, activation()]
        n = UNITS
    return nn.Sequential(*modules, nn.Linear(n, 10))


def watch(activation, std, lr, data, args):
    """Train for args.steps steps with a Monitor attached; returns (losses, monitor)."""
    np.random.seed(args.seed)
    model = network(activation, std)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    loader = DataLoader(*data, batch_size=BATCH, seed=args.seed)
    losses = []
    with Monitor(model) as monitor:  # the hooks come off at the end of the block
        while len(losses) < args.steps:
            for x_batch, t_batch in loader:
                with np.errstate(all="ignore"):  # lr 10 overflows on purpose
                    loss = F.cross_entropy(model(x_batch), t_batch)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                monitor.step(loss)
                losses.append(loss.item())
                if len(losses) == args.steps:
                    break
    return losses, monitor


def main(argv=None, prog=None):
    p = make_parser("training_health", __doc__, "50 steps per run", prog=prog)
    add_data_dir(p)
    p.add_argument("--steps", type=int, help="training steps per run (default 300, 50 quick)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-pictures", action="store_true", help="print the reports only")
    args = p.parse_args(argv)
    if args.steps is None:
        args.steps = 50 if args.quick else 300
    if args.steps < 20:
        p.error("--steps must be at least 20")
    (x_train, t_train), _ = load_data(args.data_dir)

    runs, figures = {}, []
    for name, (activation, std, lr) in RUNS.items():
        losses, monitor = watch(activation, std, lr, (x_train, t_train), args)
        last = float(np.mean(losses[-10:]))
        weights = "He init" if std == "he" else f"weights N(0, {std}^2)"
        print(f"=== {name}: {activation.__name__}, {weights}, SGD lr {lr} ===")
        print(f"mean loss of the last 10 of {args.steps} steps: {last:.4f}")
        found = monitor.report()
        print()
        runs[name] = {"losses": losses, "warnings": found, "symptoms": {w.symptom for w in found}}
        if not args.no_pictures:
            slug = name.replace(", ", "_").replace(" ", "_")
            try:
                path = args.out / f"health_{slug}.png"
                figures.append(monitor.plot(path, title=name, dpi=figure_dpi(args)))
            except ImportError as err:  # matplotlib is optional: say so and go on
                print(f"notice: {err}")
    return {"runs": runs, "figures": figures}


if __name__ == "__main__":
    raise SystemExit(run_main(main))  # errors as one line, no traceback
