"""The chapter-6 examples reproduce the book's qualitative results on their --quick runs,
and ``tinygrad-edu train`` takes --optimizer and --scheduler.

Each example's ``main(["--quick", "--out", DIR])`` runs once, in-process, on whatever
MNIST is found (the real one in CI); the tests check the outcomes each docstring states:

- optimizer_comparison (figures 6-8, 6-9): the 2-D paths are the book's update formulas,
  SGD zigzags, AdaGrad ends nearest; on MNIST, SGD ends with the highest loss;
- batch_norm (figure 6-18): BatchNorm ends ahead at most weight scales;
- overfitting_regularization (figures 6-20 to 6-23): weight decay and Dropout both shrink
  the train-test gap;
- hyperparameter_search (figure 6-24): trials sorted by validation accuracy, the best far
  above the worst, tiny learning rates stuck near chance;
- training_health: the healthy run gets no warning, the sick ones the right ones.
"""

import numpy as np
import pytest
from helpers import assert_pngs, load_example, require_matplotlib

from tinygrad_edu import Tensor, optim, threads
from tinygrad_edu.apps import cli

EXAMPLES = [
    "optimizer_comparison",
    "batch_norm",
    "overfitting_regularization",
    "hyperparameter_search",
    "training_health",
]


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """One BLAS thread, as the command line runs (run_main): with two on a busy machine,
    the small matrix products of these nets run several times slower."""
    before = threads.get_num_threads()
    threads.set_num_threads(1)
    yield
    threads.set_num_threads(before)


def assert_pictures(result, out, names):
    require_matplotlib()
    assert_pngs(result, out, names)


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_chapter6_example_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        load_example(name).main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--out DIR" in text and "--quick" in text and "--data-dir" in text


# --------------------------------------------------------------- optimizer_comparison


def book_path(name, steps=30, start=(-7.0, 2.0)):
    """The path of the book's optimizer class (common/optimizer.py) on x^2 / 20 + y^2,
    written out with the book's formulas and constants (its eps is 1e-7; PyTorch's
    Adagrad and Adam use 1e-10 and 1e-8, which moves these paths by ~1e-6 at most)."""
    p = np.array(start)
    v = np.zeros(2)
    h = np.zeros(2)
    m = np.zeros(2)
    path = [p.copy()]
    for it in range(1, steps + 1):
        g = np.array([p[0] / 10, 2 * p[1]])
        if name == "SGD":
            p = p - 0.95 * g
        elif name == "Momentum":
            v = 0.9 * v - 0.1 * g
            p = p + v
        elif name == "AdaGrad":
            h += g * g
            p = p - 1.5 * g / (np.sqrt(h) + 1e-7)
        else:  # Adam
            lr_t = 0.3 * np.sqrt(1 - 0.999**it) / (1 - 0.9**it)
            m += (1 - 0.9) * (g - m)
            h += (1 - 0.999) * (g**2 - h)
            p = p - lr_t * m / (np.sqrt(h) + 1e-7)
        path.append(p.copy())
    return np.array(path)


@pytest.fixture(scope="module")
def optimizer_run(run_example):
    return run_example("optimizer_comparison")


def test_2d_paths_are_the_books_update_formulas(optimizer_run):
    """Figure 6-8 with this library's optimizers = the book's classes, step by step."""
    paths = optimizer_run[0]["trajectories"]
    assert list(paths) == ["SGD", "Momentum", "AdaGrad", "Adam"]
    for name, path in paths.items():
        assert path.shape == (31, 2)
        np.testing.assert_allclose(path, book_path(name), rtol=1e-5, atol=1e-5, err_msg=name)


def test_sgd_zigzags_and_adagrad_ends_nearest(optimizer_run):
    result, printed, _ = optimizer_run
    assert result["sign_changes"]["SGD"] == 30  # y -> -0.9 y at every step
    assert result["sign_changes"]["AdaGrad"] == 0
    f = {
        name: path[-1, 0] ** 2 / 20 + path[-1, 1] ** 2
        for name, path in result["trajectories"].items()
    }
    assert min(f, key=f.get) == "AdaGrad"
    assert "y changed sign 30 times" in printed


def test_on_mnist_sgd_converges_slowest(optimizer_run):
    """Figure 6-9: AdaGrad, Adam and Momentum end below SGD; every optimizer learns."""
    result, printed, out = optimizer_run
    final = result["final_loss"]
    assert max(final, key=final.get) == "SGD"
    assert all(final[name] < 0.8 * final["SGD"] for name in ("Momentum", "AdaGrad", "Adam"))
    for name, losses in result["losses"].items():
        assert len(losses) == 300 and final[name] < 0.5 * losses[0], name
    assert "SGD ends with the highest loss" in printed
    assert_pictures(result, out, ["optimizer_trajectories.png", "optimizer_mnist.png"])


# ------------------------------------------------------------------------- batch_norm


def test_batch_norm_wins_at_most_weight_scales(run_example):
    """Figure 6-18 (--quick: 6 scales from 1 to 1e-4, 20 epochs each)."""
    result, printed, out = run_example("batch_norm")
    curves = result["curves"]
    assert list(curves) == pytest.approx(np.logspace(0, -4, 6).tolist())
    wins = [std for std, c in curves.items() if c["with BN"][-1] > c["without BN"][-1]]
    assert result["bn_wins"] == len(wins) > len(curves) / 2
    # the extremes: without BN the net is stuck at chance, with BN it learns
    assert curves[1.0]["without BN"][-1] < 0.2 < curves[1.0]["with BN"][-1]
    assert all(len(c["with BN"]) == len(c["without BN"]) == 20 for c in curves.values())
    assert f"ahead at {len(wins)} of 6 weight scales" in printed
    assert_pictures(result, out, ["batch_norm.png"])


# --------------------------------------------------------- overfitting_regularization


def test_weight_decay_and_dropout_shrink_the_gap(run_example):
    """Figures 6-20 to 6-23, in --quick's 100 epochs."""
    result, printed, out = run_example("overfitting_regularization")
    plain, decay, dropout = result["histories"]
    gaps = result["gaps"]
    assert result["histories"][plain]["train"][-1] > 0.95  # the 300 images are learned
    assert gaps[plain] > 0.2  # ... the digits are not
    assert gaps[decay] < gaps[plain] and gaps[dropout] < gaps[plain]
    for history in result["histories"].values():
        assert len(history["train"]) == len(history["test"]) == 100
        assert len(history["loss"]) == 100 * 3  # 300 images in batches of 100
    assert "as in the book" in printed
    assert_pictures(result, out, ["overfitting.png"])


def test_the_books_weight_decay_spares_the_biases():
    """The book decays the weight matrices only: two parameter groups."""
    chapter6 = load_example("_chapter6")
    model = chapter6.multi_layer_net([5, 5], batch_norm=True, input_size=3)
    optimizer = chapter6.sgd_decaying_weights(model, lr=0.1, weight_decay=0.5)
    decayed, spared = optimizer.param_groups
    assert decayed["weight_decay"] == 0.5 and spared["weight_decay"] == 0
    assert {id(p) for p in decayed["params"]} == {id(model[i].weight) for i in (0, 3, 6)}
    assert len(spared["params"]) == len(model.parameters()) - 3  # biases, BN's gamma, beta


# -------------------------------------------------------------- hyperparameter_search


def test_random_search_is_sorted_and_the_learning_rate_decides(run_example):
    """Figure 6-24 (--quick: 10 trials)."""
    result, printed, out = run_example("hyperparameter_search")
    trials = result["trials"]
    scores = [trial["val"][-1] for trial in trials]
    assert len(trials) == 10 and scores == sorted(scores, reverse=True)
    assert all(1e-6 <= t["lr"] <= 1e-2 and 1e-8 <= t["weight_decay"] <= 1e-4 for t in trials)
    assert scores[0] > scores[-1] + 0.3
    assert all(t["val"][-1] < 0.3 for t in trials if t["lr"] < 1e-4)  # stuck near chance
    assert trials[0]["lr"] > 1e-3
    assert f"best-1: val acc {scores[0]:.3f}" in printed
    assert_pictures(result, out, ["hyperparameter_search.png"])


# -------------------------------------------------------------------- training_health


def test_the_monitor_tells_the_healthy_run_from_the_sick_ones(run_example):
    result, printed, out = run_example("training_health")
    runs = result["runs"]
    assert runs["healthy"]["warnings"] == []
    saturated = {
        w.layer for w in runs["sigmoid, std 1"]["warnings"] if w.symptom == "saturated units"
    }
    assert saturated == {f"layer {i} (Sigmoid)" for i in range(1, 10, 2)}
    assert {"loss is nan", "learning rate too high"} <= runs["learning rate 10"]["symptoms"]
    assert np.mean(runs["healthy"]["losses"][-10:]) < np.mean(
        runs["sigmoid, std 1"]["losses"][-10:]
    )
    assert "no problems found (50 steps recorded)" in printed
    assert "usual fix: divide the learning rate" in printed
    assert_pictures(
        result,
        out,
        ["health_healthy.png", "health_sigmoid_std_1.png", "health_learning_rate_10.png"],
    )


# ------------------------------------------------------- tinygrad-edu train's options

FLAGSHIP = "mnist_two_layer"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--optimizer", "nadam"], "argument --optimizer: invalid choice: 'nadam'"),
        (["--scheduler", "cyclic"], "argument --scheduler: invalid choice: 'cyclic'"),
        (["--optimizer", "adam", "--momentum", "0.5"], "--momentum is for --optimizer momentum"),
        (["--optimizer", "adam", "--lr", "-1"], "--lr must be positive"),
    ],
)
def test_train_refuses_unknown_optimizers_and_schedulers(options, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", *options, "--out", str(tmp_path / "never")])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("tinygrad-edu train: error: ") and message in captured.err
    assert not (tmp_path / "never").exists()  # refused before anything was made


def test_train_defaults_are_the_flagships_sgd_with_momentum_and_step_schedule():
    flagship = load_example(FLAGSHIP)
    args = flagship.parse_args(["--epochs", "12"])
    assert (args.optimizer, args.lr, args.momentum, args.scheduler) == (
        "momentum",
        0.1,
        0.9,
        "step",
    )
    optimizer = flagship.make_optimizer(args, [optim_param()])
    assert type(optimizer) is optim.SGD and optimizer.param_groups[0]["momentum"] == 0.9
    assert epoch_rates(flagship, args, optimizer) == pytest.approx([0.1] * 8 + [0.01] * 4)


@pytest.mark.parametrize(
    ("name", "kind", "lr"),
    [
        ("sgd", optim.SGD, 0.1),
        ("adagrad", optim.Adagrad, 0.01),
        ("rmsprop", optim.RMSprop, 0.001),
        ("adam", optim.Adam, 0.001),
        ("adamw", optim.AdamW, 0.001),
    ],
)
def test_train_optimizer_option_picks_the_optimizer_and_its_default_lr(name, kind, lr):
    flagship = load_example(FLAGSHIP)
    args = flagship.parse_args(["--optimizer", name])
    optimizer = flagship.make_optimizer(args, [optim_param()])
    assert type(optimizer) is kind and optimizer.lr == lr
    if name == "sgd":
        assert optimizer.param_groups[0]["momentum"] == 0  # the book's plain SGD
    args = flagship.parse_args(["--optimizer", name, "--lr", "0.5"])
    assert flagship.make_optimizer(args, [optim_param()]).lr == 0.5


def test_train_scheduler_option_sets_the_rate_of_each_epoch():
    flagship = load_example(FLAGSHIP)
    last_rates = {  # of epoch 9 of 10 (counting from 0), by the closed forms
        "none": 0.1,
        "cosine": 0.1 * (1 + np.cos(np.pi * 9 / 10)) / 2,
        "exponential": 0.1 * 0.1 ** (9 / 10),
    }
    for name, last in last_rates.items():
        args = flagship.parse_args(["--epochs", "10", "--scheduler", name])
        optimizer = flagship.make_optimizer(args, [optim_param()])
        rates = epoch_rates(flagship, args, optimizer)
        assert rates[0] == pytest.approx(0.1) and rates[-1] == pytest.approx(last), name
        assert (flagship.make_scheduler(args, optimizer) is None) == (name == "none")


def test_train_with_adam_and_cosine_learns_mnist(mnist_dir, capsys):
    status = cli.main(
        [
            "train",
            "--data-dir",
            str(mnist_dir),
            "--quick",
            "--optimizer",
            "adam",
            "--scheduler",
            "cosine",
        ]
    )
    assert status == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("final test accuracy: ") and float(last.split()[-1]) > 0.9


def optim_param():
    return Tensor(np.zeros(3), requires_grad=True)


def epoch_rates(flagship, args, optimizer):
    """The learning rate in use in each of ``args.epochs`` epochs, with the example's
    scheduler stepped once per epoch as its training loop does."""
    scheduler = flagship.make_scheduler(args, optimizer)
    rates = []
    for _ in range(args.epochs):
        rates.append(optimizer.lr)
        if scheduler is not None:
            scheduler.step()
    return rates
