"""A training health monitor: it watches a model train and says *why* training is sick.

Chapter 6 of the book diagnoses training by looking at pictures: activation histograms
piled up at 0 and 1 (saturated sigmoids, figure 6-10) or all at 0.5 (figure 6-11), ReLU
units that never fire. ``Monitor`` takes those measurements on every training step and
turns them into plain warnings, each naming the layer, the symptom and the usual fix::

    monitor = Monitor(model)                  # attaches forward hooks to every layer
    for x, t in loader:
        loss = F.cross_entropy(model(x), t)   # the hooks record each layer's output
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        monitor.step(loss)                    # records gradients, weight changes, the loss
    monitor.report()                          # prints the warnings (and returns them)
    monitor.plot("health.png")                # the dashboard picture

What it records, per step (``monitor.steps``, one ``StepRecord`` each):

- per layer without sub-modules (a "leaf": Linear, ReLU, ...): the mean and standard
  deviation of its output; for Sigmoid and Tanh the fraction of *saturated* outputs, whose
  local slope (sigmoid: y(1 - y), tanh: 1 - y^2) is under 5% of its maximum, so almost no
  gradient passes; for ReLU the fraction of *dead* units, zero for every sample of the
  batch, which therefore get no gradient at all;
- per parameter: the gradient's norm ||dL/dw||, and the update-to-weight ratio
  ||w_after - w_before|| / ||w_before||, measured as the actual change of the weights since
  the previous ``step`` (so it includes momentum, Adam's scaling, weight decay);
- the loss, and whether it is NaN or infinite.

The symptoms ``report`` knows, in the order it lists them:

- the loss is NaN or inf (and from which step);
- learning rate too high or too low, judged by the update ratio of the fastest-moving
  weight matrix; "weights do not change" when there are gradients but nothing moved;
- exploding gradients (not finite, or a weight's gradient per element 1000 times the
  output layer's) and vanishing gradients (1000 times smaller);
- saturated units and collapsed activations (sigmoid, tanh), dead units (ReLU);
- vanishing or exploding activations: a later activation layer's output spread 100
  times smaller or larger than the first one's.

The rules of thumb behind them are module constants (``SATURATED``, ``DEAD``,
``UPDATE_RATIO_HIGH`` ...), with their reasons beside them. The update ratio rule is from
Karpathy's CS231n notes ("Neural Networks Part 3", section "Ratio of weights:updates"):
about 1e-3 is healthy; much higher, the learning rate is probably too high; much lower,
too low.

Without ``Monitor`` nothing changes: a module without hooks pays one attribute check per
call. ``monitor.detach()`` (or leaving ``with Monitor(model) as monitor:``) removes the
hooks; what was recorded stays readable.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu._plot import PLOT_HINT, new_figure, save_figure
from tinygrad_edu.nn.layers import ReLU, Sigmoid, Tanh
from tinygrad_edu.nn.module import Module, RemovableHandle
from tinygrad_edu.tensor import Tensor

# A sigmoid or tanh output is saturated where the local slope is under this fraction of
# its maximum (sigmoid: y(1 - y) < 0.05 * 1/4, i.e. y < 0.0127 or y > 0.9873; tanh:
# 1 - y^2 < 0.05, i.e. |y| > 0.975): the gradient through it shrinks 20-fold or more.
SATURATION_SLOPE = 0.05
SATURATED = 0.2  # warn when more than this fraction of a layer's outputs is saturated
# A sigmoid or tanh layer whose outputs have a standard deviation under this has
# collapsed: every unit outputs about the same value (0.5 or 0; the book's figure 6-11).
COLLAPSED = 0.05
# From the first activation layer to a later one, the output's standard deviation shrinks
# below FADING times, or grows above GROWING times, its first value: the signal (and the
# gradient with it) fades or blows up layer by layer (ReLU with std 0.01, figure 6-14).
FADING = 1e-2
GROWING = 1e2
DEAD = 0.3  # warn when more than this fraction of a ReLU layer's units is dead
# Units are called dead only in batches of at least this many samples: in a smaller one,
# a healthy unit is often 0 for every sample by chance (each with probability ~1/2).
DEAD_MIN_BATCH = 8
# CS231n: an update ratio ||lr * update|| / ||w|| of about 1e-3 is healthy. Warn when the
# largest layer's ratio (median over the recent steps) is 30 times higher, or the
# largest one is 100 times lower than that.
UPDATE_RATIO_GOOD = 1e-3
UPDATE_RATIO_HIGH = 3e-2
UPDATE_RATIO_LOW = 1e-5
# Gradient RMS (||g|| / sqrt(size)) of a weight compared with the last weight's (the
# output layer's): this many times smaller is a vanishing gradient, bigger an exploding one.
VANISHING = 1e-3
EXPLODING = 1e3
RECENT_STEPS = 10  # the update ratios are judged over this many last steps
HISTOGRAM_VALUES = 100_000  # outputs kept per layer for the histograms (evenly spaced)


@dataclass
class LayerStats:
    """What one layer's output looked like in one forward pass."""

    mean: float
    std: float
    saturated: float | None = None  # Sigmoid, Tanh: fraction of saturated outputs
    dead: float | None = None  # ReLU: fraction of units zero for every sample


@dataclass
class StepRecord:
    """What ``Monitor.step`` recorded: the loss, the latest forward pass of each layer
    ({layer name: LayerStats}), and per parameter ({name: value}) the gradient norm (for
    the parameters that have a gradient) and the update-to-weight ratio (for those whose
    weights were not all 0)."""

    loss: float | None
    activations: dict[str, LayerStats]
    grad_norms: dict[str, float]
    update_ratios: dict[str, float]


@dataclass(frozen=True)
class HealthWarning:
    """One finding of ``Monitor.report``: where, what, the numbers, and the usual fix."""

    layer: str  # e.g. "layer 1 (Sigmoid)", or "the model" for the loss
    symptom: str  # e.g. "saturated units", "learning rate too high"
    detail: str
    fix: str

    def __str__(self) -> str:
        return f"{self.layer}: {self.symptom}: {self.detail}\n    usual fix: {self.fix}"


@dataclass
class _Layer:
    """A watched leaf module: its label, its kind and its latest output."""

    label: str
    kind: str  # "sigmoid", "tanh", "relu" or "other"
    stats: LayerStats | None = None
    sample: np.ndarray | None = None  # up to HISTOGRAM_VALUES of its latest output
    handle: RemovableHandle | None = field(default=None, repr=False)


class Monitor:
    """Watches ``model`` train: activation statistics by forward hooks on every leaf
    layer, gradients and weight changes at each ``step``. See the module docstring."""

    def __init__(self, model: Module):
        if not isinstance(model, Module):
            raise TypeError(f"Monitor: expected an nn.Module to watch, got {type(model).__name__}")
        self.model = model
        self.steps: list[StepRecord] = []
        self.layers: dict[str, _Layer] = {}  # by module name ("0", "encoder.1", "")
        for name, module in model.named_modules():
            if module.children():
                continue  # only leaves: a container's output is its last layer's
            layer = _Layer(_label(name, module), _kind(module))
            layer.handle = module.register_forward_hook(self._recorder(layer))
            self.layers[name] = layer
        self.params = model.named_parameters()
        self._before = {name: p.data.copy() for name, p in self.params}  # weights at start

    # ------------------------------------------------------------------ recording
    def _recorder(self, layer: _Layer) -> Any:
        """The forward hook for ``layer``: keeps statistics of its output."""

        def hook(module: Module, inputs: tuple, output: Any) -> None:
            if isinstance(output, Tensor):
                layer.stats, layer.sample = _describe(output.data, layer.kind)

        return hook

    def step(self, loss: Any = None) -> StepRecord:
        """Record one training step; call it after ``optimizer.step()``.

        Takes the latest forward pass of each layer, each parameter's gradient norm and
        how far the weights moved since the previous ``step`` (or since the Monitor was
        made), and ``loss`` (a Tensor or a number; optional). Returns the record, which
        is also appended to ``self.steps``.
        """
        grad_norms, ratios = {}, {}
        for name, p in self.params:
            if p.grad is not None:
                grad_norms[name] = _norm(p.grad.data)
            before = self._before[name]
            size = _norm(before)
            if size > 0:
                ratios[name] = _norm(p.data - before) / size
            self._before[name] = p.data.copy()
        activations = {n: layer.stats for n, layer in self.layers.items() if layer.stats}
        record = StepRecord(
            loss=None if loss is None else float(np.asarray(loss, dtype=np.float64)),
            activations=activations,
            grad_norms=grad_norms,
            update_ratios=ratios,
        )
        self.steps.append(record)
        return record

    def detach(self) -> None:
        """Remove the hooks: the model runs as if never watched. The records stay."""
        for layer in self.layers.values():
            if layer.handle is not None:
                layer.handle.remove()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.detach()

    # ------------------------------------------------------------------ judging
    def warnings(self) -> list[HealthWarning]:
        """The findings, without printing them (``report`` prints them)."""
        return (
            self._loss_warnings()
            + self._learning_rate_warnings()
            + self._gradient_warnings()
            + self._activation_warnings()
            + self._depth_warnings()
        )

    def report(self, *, quiet: bool = False) -> list[HealthWarning]:
        """Print what looks wrong (unless ``quiet``) and return it, one ``HealthWarning``
        per finding; an empty list when everything looks healthy."""
        found = self.warnings()
        if not quiet:
            steps = f"{len(self.steps)} step{'s' if len(self.steps) != 1 else ''}"
            if not found:
                print(f"Monitor: no problems found ({steps} recorded)")
            else:
                print(f"Monitor: {len(found)} problem(s) found ({steps} recorded):")
                for warning in found:
                    print(f"- {warning}")
        return found

    def _loss_warnings(self) -> list[HealthWarning]:
        for i, record in enumerate(self.steps):
            if record.loss is not None and not math.isfinite(record.loss):
                return [
                    HealthWarning(
                        "the model",
                        f"loss is {record.loss}",
                        f"first at step {i + 1} of {len(self.steps)}",
                        "lower the learning rate (the usual cause: the weights overflowed); "
                        "check the data for NaN; compute the loss from logits "
                        "(F.cross_entropy) rather than log(softmax)",
                    )
                ]
        return []

    def _depth_warnings(self) -> list[HealthWarning]:
        """Activations fading or growing from the first activation layer to the others."""
        stds = [
            (layer.label, stats.std)
            for layer in self.layers.values()
            if layer.kind != "other" and (stats := layer.stats) is not None
        ]
        if len(stds) < 2 or not stds[0][1] > 0:
            return []
        first_label, first_std = stds[0]
        for label, std in stds[1:]:
            ratio = std / first_std
            if not FADING <= ratio <= GROWING:
                fading = ratio < FADING
                return [
                    HealthWarning(
                        label,
                        "vanishing activations" if fading else "exploding activations",
                        f"the output std goes from {first_std:.3g} at {first_label} to "
                        f"{std:.3g} here ({ratio:.2g} times): the signal, and the gradient "
                        f"with it, {'fades' if fading else 'grows'} layer after layer",
                        f"{'larger' if fading else 'smaller'} initial weights: He init for "
                        f"ReLU (std sqrt(2 / fan_in), nn.init.kaiming_normal_), Xavier for "
                        f"sigmoid and tanh; or BatchNorm",
                    )
                ]
        return []

    def _activation_warnings(self) -> list[HealthWarning]:
        found = []
        for layer in self.layers.values():
            stats = layer.stats
            if stats is None:
                continue
            if stats.saturated is not None and stats.saturated > SATURATED:
                asymptotes = "0 or 1" if layer.kind == "sigmoid" else "-1 or 1"
                found.append(
                    HealthWarning(
                        layer.label,
                        "saturated units",
                        f"{stats.saturated:.0%} of the outputs are at {asymptotes}, where "
                        f"the slope is almost 0, so gradients vanish (output std "
                        f"{stats.std:.3g})",
                        "smaller initial weights: Xavier init, std sqrt(1 / fan_in) "
                        "(nn.init.xavier_normal_); or BatchNorm before the activation; or "
                        "ReLU with He init",
                    )
                )
            if stats.saturated is not None and stats.std < COLLAPSED:
                centre = "0.5" if layer.kind == "sigmoid" else "0"
                found.append(
                    HealthWarning(
                        layer.label,
                        "collapsed activations",
                        f"the outputs hardly vary (std {stats.std:.3g} around {centre}): "
                        f"every unit computes nearly the same thing, so the layer expresses "
                        f"little, and the gradients through it shrink",
                        "larger initial weights: Xavier init, std sqrt(1 / fan_in) "
                        "(nn.init.xavier_normal_); or BatchNorm",
                    )
                )
            if stats.dead is not None and stats.dead > DEAD:
                found.append(
                    HealthWarning(
                        layer.label,
                        "dead units",
                        f"{stats.dead:.0%} of the units output 0 for every sample of the "
                        f"batch, so they get no gradient and never recover",
                        "lower the learning rate; He init (nn.init.kaiming_normal_) with "
                        "zero biases; or BatchNorm before the ReLU",
                    )
                )
        return found

    def _gradient_warnings(self) -> list[HealthWarning]:
        if not self.steps:
            return []
        norms = self.steps[-1].grad_norms
        params = dict(self.params)
        bad = [n for n, g in norms.items() if not math.isfinite(g)]
        if bad:
            return [
                HealthWarning(
                    self._layer_of(bad[0]),
                    "exploding gradients",
                    f"the gradient of {_some(bad)} is not finite",
                    "lower the learning rate; clip gradients (nn.utils.clip_grad_norm_); BatchNorm",
                )
            ]
        # Gradient RMS of each weight matrix, in the model's order, against the last one.
        rms = {n: g / math.sqrt(params[n].size) for n, g in norms.items() if params[n].ndim >= 2}
        if len(rms) < 2 or list(rms.values())[-1] == 0:
            return []
        names, last = list(rms)[:-1], list(rms.values())[-1]
        smallest = min(names, key=lambda n: rms[n])
        largest = max(names, key=lambda n: rms[n])
        found = []
        if rms[smallest] < VANISHING * last:
            found.append(
                HealthWarning(
                    self._layer_of(smallest),
                    "vanishing gradients",
                    f"the gradient of {smallest} is "
                    + (
                        "exactly 0, so it does not learn"
                        if rms[smallest] == 0
                        else f"{last / rms[smallest]:.3g} times smaller (per element) than "
                        f"the output layer's, so it barely learns"
                    ),
                    "ReLU instead of sigmoid/tanh in deep nets; Xavier or He init; "
                    "BatchNorm; fewer layers",
                )
            )
        if rms[largest] > EXPLODING * last:
            found.append(
                HealthWarning(
                    self._layer_of(largest),
                    "exploding gradients",
                    f"the gradient of {largest} is {rms[largest] / last:.3g} times larger "
                    f"(per element) than the output layer's",
                    "smaller initial weights (Xavier or He init); clip gradients "
                    "(nn.utils.clip_grad_norm_); BatchNorm",
                )
            )
        return found

    def _learning_rate_warnings(self) -> list[HealthWarning]:
        """The learning rate judged by the update ratios of the weight matrices: for each,
        the median of its last RECENT_STEPS finite ratios (once the weights are NaN, the
        steps before tell why)."""
        medians = {}
        for n, p in self.params:
            if p.ndim >= 2:
                ratios = [r.update_ratios.get(n, math.nan) for r in self.steps]
                finite = [v for v in ratios if math.isfinite(v)][-RECENT_STEPS:]
                if finite:
                    medians[n] = float(np.median(finite))
        if not medians:
            return []
        worst = max(medians, key=lambda n: medians[n])
        ratio = f"{medians[worst]:.3g} of its size (median over the recent steps)"
        rule = f"about {UPDATE_RATIO_GOOD:g} is healthy (CS231n's rule of thumb)"
        if medians[worst] > UPDATE_RATIO_HIGH:
            return [
                HealthWarning(
                    self._layer_of(worst),
                    "learning rate too high",
                    f"each step changes {worst} by {ratio}; {rule}",
                    "divide the learning rate by 10 (or more); or clip gradients",
                )
            ]
        if medians[worst] == 0:
            if not any(self.steps[-1].grad_norms.get(n, 0) > 0 for n in medians):
                return []  # no gradient at all: the cause is elsewhere (e.g. dead units)
            return [
                HealthWarning(
                    "the model",
                    "weights do not change",
                    "the weights have gradients, but none of them moved",
                    "call optimizer.step() before monitor.step(); check that the "
                    "optimizer was given model.parameters() and a learning rate above 0",
                )
            ]
        if medians[worst] < UPDATE_RATIO_LOW:
            return [
                HealthWarning(
                    self._layer_of(worst),
                    "learning rate too low",
                    f"even the fastest-moving weight, {worst}, changes by {ratio} per step; {rule}",
                    "multiply the learning rate by 10 (or more); or use Adam",
                )
            ]
        return []

    def _layer_of(self, param_name: str) -> str:
        """The label of the layer that holds ``param_name`` ("0.weight" -> "layer 0
        (Linear)")."""
        module = param_name.rpartition(".")[0]
        return self.layers[module].label if module in self.layers else param_name

    # ------------------------------------------------------------------ drawing
    def plot(
        self, path: str | os.PathLike[str], max_layers: int = 8, title: str = "", dpi: float = 100
    ) -> Path:
        """Draw the dashboard into the PNG file ``path`` and return the path.

        Top row: a histogram of the latest output of each activation layer (all leaf
        layers if there is none; at most ``max_layers``, evenly spread), as the book's
        figures 6-10 to 6-14. Bottom row, once steps were recorded: over the steps, the
        loss, each weight's gradient norm and its update-to-weight ratio (with CS231n's
        1e-3 marked). Needs matplotlib (``pip install 'tinygrad_edu[plot]'``).
        """
        try:
            import matplotlib  # noqa: F401  (only to say clearly that it is missing)
        except ImportError:
            raise ImportError(f"Monitor.plot needs matplotlib: {PLOT_HINT}") from None
        shown = [layer for layer in self.layers.values() if layer.sample is not None]
        shown = [layer for layer in shown if layer.kind != "other"] or shown
        if len(shown) > max_layers:
            picks = np.linspace(0, len(shown) - 1, max_layers).round().astype(int)
            shown = [shown[i] for i in picks]
        columns = max(len(shown), 3)
        rows = 2 if self.steps else 1
        fig = new_figure((2.4 * columns, 3.0 * rows + 0.3), "training health dashboard")
        if fig is None:  # not reached: matplotlib was found above
            raise ImportError(f"Monitor.plot needs matplotlib: {PLOT_HINT}")
        if title:
            fig.suptitle(title)
        top, *bottom = fig.subfigures(rows, 1, squeeze=False)[:, 0]
        top.suptitle("activations (latest forward pass)", fontsize="medium")
        axes = top.subplots(1, columns, squeeze=False)[0]
        for ax, layer in zip(axes, shown):
            _draw_histogram(ax, layer)
        for ax in axes[len(shown) :]:
            ax.set_axis_off()
        if not shown:
            axes[0].text(0.5, 0.5, "no forward pass recorded", ha="center", va="center")
        if bottom:
            history = bottom[0]
            history.suptitle(f"over the training steps ({len(self.steps)})", fontsize="medium")
            self._draw_history(*history.subplots(1, 3))
        return save_figure(fig, path, dpi)

    def _draw_history(self, loss_ax: Any, grad_ax: Any, ratio_ax: Any) -> None:
        steps = np.arange(1, len(self.steps) + 1)
        loss_ax.set_title("loss", fontsize="small")
        grad_ax.set_title("gradient norm ||dL/dW||", fontsize="small")
        ratio_ax.set_title("update ratio ||W_new - W|| / ||W||", fontsize="small")
        for ax in (loss_ax, grad_ax, ratio_ax):
            ax.set_xlabel("step")
            ax.tick_params(labelsize="x-small")
        losses = [math.nan if r.loss is None else r.loss for r in self.steps]
        loss_ax.plot(steps, losses)
        weights = [n for n, p in self.params if p.ndim >= 2]
        for n in weights:
            grad_ax.plot(steps, [r.grad_norms.get(n, math.nan) for r in self.steps], label=n)
            ratio_ax.plot(steps, [r.update_ratios.get(n, math.nan) for r in self.steps], label=n)
        ratio_ax.axhline(UPDATE_RATIO_GOOD, color="gray", ls="--", lw=1, label="1e-3 (CS231n)")
        for ax in (grad_ax, ratio_ax):
            if any(line.get_ydata().size for line in ax.get_lines()):
                ax.set_yscale("log")
            ax.legend(fontsize="x-small")


# ---------------------------------------------------------------------- helpers


def _label(name: str, module: Module) -> str:
    kind = type(module).__name__
    return f"layer {name} ({kind})" if name else kind


def _kind(module: Module) -> str:
    for cls, kind in ((Sigmoid, "sigmoid"), (Tanh, "tanh"), (ReLU, "relu")):
        if isinstance(module, cls):
            return kind
    return "other"


def _some(names: list[str], most: int = 3) -> str:
    """ "a, b, c and 4 more": a list of names, shortened."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


def _norm(array: np.ndarray) -> float:
    """The Euclidean (Frobenius) norm, accumulated in float64."""
    flat = array.astype(np.float64, copy=False).ravel()
    return math.sqrt(float(np.dot(flat, flat)))


def _describe(y: np.ndarray, kind: str) -> tuple[LayerStats, np.ndarray]:
    """Statistics of one layer output ``y`` (N, ...) and a sample for the histogram."""
    y = np.asarray(y)
    stats = LayerStats(mean=float(y.mean(dtype=np.float64)), std=float(y.std(dtype=np.float64)))
    if kind == "sigmoid":
        stats.saturated = float((y * (1 - y) < SATURATION_SLOPE / 4).mean())
    elif kind == "tanh":
        stats.saturated = float((1 - y * y < SATURATION_SLOPE).mean())
    elif kind == "relu" and y.ndim >= 1 and len(y) >= DEAD_MIN_BATCH:
        # a unit (one output feature, or one channel at one position) that is 0 for every
        # sample of the batch
        stats.dead = float((y.reshape(len(y), -1) == 0).all(axis=0).mean())
    stride = max(1, y.size // HISTOGRAM_VALUES)
    return stats, y.ravel()[::stride].copy()


def _draw_histogram(ax: Any, layer: _Layer) -> None:
    sample = layer.sample if layer.sample is not None else np.zeros(0)
    ranges = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
    finite = sample[np.isfinite(sample)]
    value_range = ranges.get(layer.kind)
    if value_range is None and finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        value_range = (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)
    ax.hist(finite, bins=30, range=value_range)
    ax.set_title(layer.label, fontsize="small")
    notes = []
    if layer.stats is not None and layer.stats.saturated is not None:
        notes.append(f"saturated {layer.stats.saturated:.0%}")
    if layer.stats is not None and layer.stats.dead is not None:
        notes.append(f"dead {layer.stats.dead:.0%}")
    if notes:
        ax.text(
            0.98,
            0.95,
            "\n".join(notes),
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize="small",
        )
    ax.tick_params(labelsize="x-small")
