"""Evaluation metrics for classifiers, computed on plain numpy arrays.

The names and the argument order follow scikit-learn, so ``accuracy(y_true, y_pred)`` here
gives the same number as ``sklearn.metrics.accuracy_score(y_true, y_pred)``.

Every function accepts anything ``np.asarray`` understands: lists, numpy arrays, or objects
with an ``__array__`` method. Labels are integers (``bool`` and integer-valued floats such as
``1.0`` are accepted too). As in the book, a 2-D array is read as one row per sample::

    y_pred of shape (N, C)  -- scores, probabilities or logits; the label is the argmax
    y_true of shape (N, C)  -- one-hot targets; the label is the argmax

which is the book's ``if t.ndim != 1: t = np.argmax(t, axis=1)``.

Vocabulary, for one class taken as "positive":

    TP (true positive)   the sample is positive and was predicted positive
    FP (false positive)  the sample is negative but was predicted positive
    FN (false negative)  the sample is positive but was predicted negative
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from numpy.typing import ArrayLike

# Names for the types in the signatures below.
FloatArray = npt.NDArray[np.float64]
# The ``average`` of precision, recall and F1: how they combine the classes.
Average = Literal["binary", "macro", "micro"] | None
# What those three return: one number, or for average=None one score per class, shape (K,).
Score = float | FloatArray

_AVERAGES = ("binary", "macro", "micro", None)


# ---------------------------------------------------------------------------
# Input checking
# ---------------------------------------------------------------------------


def _as_samples(func_name: str, name: str, y: ArrayLike) -> np.ndarray:
    """``np.asarray(y)``, checked to hold one entry (label) or row (scores) per sample."""
    y = np.asarray(y)
    if y.ndim == 0:
        raise ValueError(
            f"{func_name}: {name} is a single value ({y.item()!r}); expected one entry per "
            f"sample, shape (N,) or (N, C)"
        )
    return y


def _check_same_length(
    func_name: str, y_true: np.ndarray, y_pred: np.ndarray, pred_name: str = "y_pred"
) -> None:
    """Raise ValueError unless ``y_true`` and ``y_pred`` have the same number of samples."""
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"{func_name}: y_true has shape {y_true.shape} but {pred_name} has shape "
            f"{y_pred.shape}; they must have the same number of samples"
        )
    if len(y_true) == 0:
        raise ValueError(f"{func_name}: y_true and {pred_name} are empty; need at least one sample")


def _to_labels(func_name: str, name: str, y: np.ndarray) -> npt.NDArray[np.integer]:
    """Turn ``y`` into a 1-D integer array of class labels, shape (N,).

    A 2-D array of shape (N, C) (one-hot targets or class scores) becomes its argmax over
    axis 1, shape (N,).
    """
    if y.ndim == 2:
        if y.shape[1] == 1:
            raise ValueError(
                f"{func_name}: {name} has shape {y.shape}; a single column is ambiguous. "
                f"Pass labels of shape (N,), e.g. {name}.ravel(), or threshold "
                f"probabilities first, e.g. ({name} > 0.5).astype(int)"
            )
        return np.argmax(y, axis=1)
    if y.ndim != 1:
        raise ValueError(
            f"{func_name}: {name} has shape {y.shape}; expected labels of shape (N,) "
            f"or scores / one-hot rows of shape (N, C)"
        )
    if y.dtype.kind == "b":
        return y.astype(np.int64)
    if y.dtype.kind in "iu":
        return y
    if y.dtype.kind == "f":
        not_integer = y != np.round(y)  # also True for NaN
        if np.any(not_integer):
            example = y[not_integer][0]
            raise ValueError(
                f"{func_name}: {name} contains non-integer values (e.g. {example}); pass class "
                f"labels, e.g. ({name} > 0.5).astype(int), or scores of shape (N, C)"
            )
        return y.astype(np.int64)
    raise ValueError(f"{func_name}: {name} must hold integer class labels, got dtype {y.dtype}")


def _labels_pair(
    func_name: str, y_true: ArrayLike, y_pred: ArrayLike
) -> tuple[npt.NDArray[np.integer], npt.NDArray[np.integer]]:
    """Check and convert ``y_true`` and ``y_pred``; return two label arrays of shape (N,)."""
    y_true = _as_samples(func_name, "y_true", y_true)
    y_pred = _as_samples(func_name, "y_pred", y_pred)
    _check_same_length(func_name, y_true, y_pred)
    if y_true.ndim == 2 and y_pred.ndim == 2 and y_true.shape[1] != y_pred.shape[1]:
        raise ValueError(
            f"{func_name}: y_true has shape {y_true.shape} but y_pred has shape "
            f"{y_pred.shape}; they must have the same number of classes (columns)"
        )
    return _to_labels(func_name, "y_true", y_true), _to_labels(func_name, "y_pred", y_pred)


def _check_average(func_name: str, average: object) -> None:
    if average not in _AVERAGES:
        raise ValueError(
            f"{func_name}: unknown average={average!r}; "
            f"use one of 'binary', 'macro', 'micro' or None"
        )


def _safe_divide(numerator: ArrayLike, denominator: ArrayLike) -> FloatArray:
    """Elementwise ``numerator / denominator``, with 0.0 wherever the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


# ---------------------------------------------------------------------------
# Accuracy and the confusion matrix
# ---------------------------------------------------------------------------


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of samples whose predicted label equals the true label.

    Args:
        y_true: true labels, shape (N,), or one-hot targets, shape (N, C).
        y_pred: predicted labels, shape (N,), or class scores, shape (N, C).

    Returns:
        float in [0, 1].

    Example:
        >>> accuracy([0, 1, 2, 2], [0, 2, 2, 2])
        0.75
    """
    y_true, y_pred = _labels_pair("accuracy", y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None
) -> npt.NDArray[np.int64]:
    """Count how often each true class was predicted as each class.

    ``cm[i, j]`` is the number of samples with true class ``i`` predicted as class ``j``:
    rows are true classes, columns are predicted classes (as in scikit-learn). The diagonal
    holds the correct predictions, so ``np.trace(cm) / np.sum(cm)`` is the accuracy.

    Args:
        y_true: true labels in ``0 .. C-1``, shape (N,), or one-hot targets, shape (N, C).
        y_pred: predicted labels, shape (N,), or class scores, shape (N, C).
        num_classes: C. By default the largest label + 1 (or the number of columns of a
            2-D input, if that is larger).

    Returns:
        np.ndarray of int64, shape (C, C).

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 1, 0])
        array([[1, 0],
               [1, 1]])
    """
    y_true_raw = _as_samples("confusion_matrix", "y_true", y_true)
    y_pred_raw = _as_samples("confusion_matrix", "y_pred", y_pred)
    y_true, y_pred = _labels_pair("confusion_matrix", y_true_raw, y_pred_raw)
    if np.min(y_true) < 0 or np.min(y_pred) < 0:
        raise ValueError(
            "confusion_matrix: labels must be 0, 1, ..., C-1 but found a negative label; "
            "map your labels to 0 .. C-1 first"
        )
    largest_label = int(max(np.max(y_true), np.max(y_pred)))
    if num_classes is None:
        num_classes = largest_label + 1
        for y in (y_true_raw, y_pred_raw):
            if y.ndim == 2:
                num_classes = max(num_classes, y.shape[1])
    elif (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or num_classes < 1
    ):
        raise ValueError(
            f"confusion_matrix: num_classes must be a positive integer, got {num_classes!r}"
        )
    elif largest_label >= num_classes:
        raise ValueError(
            f"confusion_matrix: found label {largest_label} but num_classes={num_classes}; "
            f"labels must be 0 .. {num_classes - 1}"
        )
    num_classes = int(num_classes)

    # Sample k goes to cell (t, p); flattened row-major that is index t * C + p,
    # so counting the flat indices counts every cell at once.
    flat_index = y_true * num_classes + y_pred
    counts = np.bincount(flat_index, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


# ---------------------------------------------------------------------------
# Precision, recall and F1
# ---------------------------------------------------------------------------


def _per_class_counts(
    y_true: np.ndarray, y_pred: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """TP, FP and FN of every class present in ``y_true`` or ``y_pred``.

    Args:
        y_true, y_pred: label arrays, shape (N,).

    Returns:
        labels, tp, fp, fn: arrays of shape (K,), where ``labels`` are the K distinct labels
        in sorted order and ``tp[k]`` etc. treat ``labels[k]`` as the positive class.
    """
    labels = np.union1d(y_true, y_pred)
    is_true = y_true[:, None] == labels[None, :]  # (N, K): sample n belongs to class k
    is_pred = y_pred[:, None] == labels[None, :]  # (N, K): sample n predicted as class k
    tp = np.sum(is_true & is_pred, axis=0)
    fp = np.sum(~is_true & is_pred, axis=0)
    fn = np.sum(is_true & ~is_pred, axis=0)
    return labels, tp, fp, fn


def _binary_counts(
    func_name: str, y_true: np.ndarray, y_pred: np.ndarray, pos_label: int
) -> tuple[np.integer, np.integer, np.integer]:
    """TP, FP and FN with ``pos_label`` as the positive class (all other labels negative)."""
    labels = np.union1d(y_true, y_pred)
    if len(labels) > 2:
        raise ValueError(
            f"{func_name}: average='binary' needs at most 2 classes but found labels "
            f"{labels.tolist()}; use average='macro' or average='micro' for multi-class data"
        )
    if len(labels) == 2 and pos_label not in labels:
        raise ValueError(
            f"{func_name}: pos_label={pos_label!r} is not one of the labels {labels.tolist()}; "
            f"pass pos_label= one of them"
        )
    is_true = y_true == pos_label
    is_pred = y_pred == pos_label
    tp = np.sum(is_true & is_pred)
    fp = np.sum(~is_true & is_pred)
    fn = np.sum(is_true & ~is_pred)
    return tp, fp, fn


def _precision_recall_f1(
    func_name: str, y_true: ArrayLike, y_pred: ArrayLike, average: Average, pos_label: int
) -> tuple[Score, Score, Score]:
    """Shared work of ``precision``, ``recall`` and ``f1_score``; returns (P, R, F1)."""
    _check_average(func_name, average)
    y_true, y_pred = _labels_pair(func_name, y_true, y_pred)

    # The counts: numbers for one positive class, or arrays of shape (K,), one per class.
    tp: np.integer | np.ndarray
    fp: np.integer | np.ndarray
    fn: np.integer | np.ndarray
    if average == "binary":
        tp, fp, fn = _binary_counts(func_name, y_true, y_pred, pos_label)
    else:
        _, tp, fp, fn = _per_class_counts(y_true, y_pred)
        if average == "micro":
            # Micro: add up the counts of all classes first, then divide once.
            tp, fp, fn = np.sum(tp), np.sum(fp), np.sum(fn)

    precision_ = _safe_divide(tp, tp + fp)  # P = TP / (TP + FP), 0 if nothing predicted
    recall_ = _safe_divide(tp, tp + fn)  # R = TP / (TP + FN), 0 if no true positives
    # F1 = 2PR / (P + R), the harmonic mean of P and R (0 if P = R = 0).
    f1 = _safe_divide(2 * precision_ * recall_, precision_ + recall_)

    if average is None:
        return precision_, recall_, f1
    if average == "macro":
        # Macro: score every class separately, then take the plain mean.
        return float(np.mean(precision_)), float(np.mean(recall_)), float(np.mean(f1))
    return float(precision_), float(recall_), float(f1)


def precision(
    y_true: ArrayLike, y_pred: ArrayLike, average: Average = "binary", pos_label: int = 1
) -> Score:
    """Precision: of the samples predicted positive, the fraction that really are positive.

    P = TP / (TP + FP). If nothing is predicted positive (TP + FP = 0), the precision is
    defined as 0.0 (scikit-learn does the same, with a warning).

    Args:
        y_true: true labels, shape (N,), or one-hot targets, shape (N, C).
        y_pred: predicted labels, shape (N,), or class scores, shape (N, C).
        average: how to combine the classes.
            ``"binary"``: only the class ``pos_label`` is positive (at most 2 classes).
            ``"macro"``: score every class separately, then take the plain mean.
            ``"micro"``: add up TP, FP and FN over all classes, then compute one score.
            ``None``: return the per-class scores.
            The classes are the labels that occur in ``y_true`` or ``y_pred``, sorted.
        pos_label: the positive class when ``average="binary"``.

    Returns:
        float, or np.ndarray of shape (K,) with one score per class for ``average=None``.

    The same arguments, and the same kind of result, serve :func:`recall` and
    :func:`f1_score`.

    Example:
        >>> precision([1, 1, 1, 0, 0], [1, 1, 0, 1, 0])  # TP=2, FP=1
        0.6666666666666666
    """
    return _precision_recall_f1("precision", y_true, y_pred, average, pos_label)[0]


def recall(
    y_true: ArrayLike, y_pred: ArrayLike, average: Average = "binary", pos_label: int = 1
) -> Score:
    """Recall: of the positive samples, the fraction that were predicted positive.

    R = TP / (TP + FN). If there are no positive samples (TP + FN = 0), the recall is
    defined as 0.0 (scikit-learn does the same, with a warning).

    Args and Returns: as for :func:`precision` (labels (N,) or rows (N, C); ``average`` is
    "binary", "macro", "micro", or None for an array of per-class scores, shape (K,)).

    Example:
        >>> recall([1, 1, 1, 0, 0], [1, 1, 0, 1, 0])  # TP=2, FN=1
        0.6666666666666666
    """
    return _precision_recall_f1("recall", y_true, y_pred, average, pos_label)[1]


def f1_score(
    y_true: ArrayLike, y_pred: ArrayLike, average: Average = "binary", pos_label: int = 1
) -> Score:
    """F1 score: the harmonic mean of precision and recall.

    F1 = 2 P R / (P + R), and 0.0 when P = R = 0. With ``average="macro"`` it is the mean of
    the per-class F1 scores (not the F1 of the macro precision and recall). For single-label
    data, micro precision = micro recall = micro F1 = accuracy, because every wrong
    prediction is one FP (for the predicted class) and one FN (for the true class).

    Args and Returns: as for :func:`precision` (labels (N,) or rows (N, C); ``average`` is
    "binary", "macro", "micro", or None for an array of per-class scores, shape (K,)).

    Example:
        >>> f1_score([1, 1, 1, 0, 0], [1, 1, 0, 1, 0])  # P = R = 2/3
        0.6666666666666666
    """
    return _precision_recall_f1("f1_score", y_true, y_pred, average, pos_label)[2]


# ---------------------------------------------------------------------------
# ROC curve and the area under it
# ---------------------------------------------------------------------------


def _binary_scores(
    func_name: str, y_true: ArrayLike, y_score: ArrayLike
) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """Check the inputs of ``roc_curve``; return (is_positive, scores), both shape (N,)."""
    y_true = _as_samples(func_name, "y_true", y_true)
    y_score = _as_samples(func_name, "y_score", y_score)
    _check_same_length(func_name, y_true, y_score, pred_name="y_score")

    if y_score.ndim == 2 and y_score.shape[1] == 2:
        y_score = y_score[:, 1]  # scores of a 2-class softmax: column 1 is the positive class
    elif y_score.ndim == 2 and y_score.shape[1] == 1:
        y_score = y_score[:, 0]  # one sigmoid output per sample
    elif y_score.ndim != 1:
        raise ValueError(
            f"{func_name}: y_score has shape {y_score.shape}; expected scores of the positive "
            f"class, shape (N,), (N, 1) or (N, 2); ROC curves are for 2 classes only"
        )
    if y_score.dtype.kind not in "biuf":
        raise ValueError(f"{func_name}: y_score must be numbers, got dtype {y_score.dtype}")
    y_score = y_score.astype(np.float64)
    if np.any(np.isnan(y_score)):
        raise ValueError(f"{func_name}: y_score contains NaN; remove or fix those samples")

    y_true = _to_labels(func_name, "y_true", y_true)
    if not np.all((y_true == 0) | (y_true == 1)):
        raise ValueError(
            f"{func_name}: y_true must contain only the labels 0 (negative) and 1 (positive), "
            f"found {np.unique(y_true).tolist()}"
        )
    if np.all(y_true == y_true[0]):
        raise ValueError(
            f"{func_name}: y_true contains only one class (label {y_true[0]}); the ROC curve "
            f"needs both positive and negative samples. Evaluate on data that contains both "
            f"classes, e.g. a larger or stratified test set"
        )
    return y_true == 1, y_score


def _roc_curve(
    func_name: str, y_true: ArrayLike, y_score: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    is_positive, y_score = _binary_scores(func_name, y_true, y_score)

    # Sort by score, highest first. Lowering the threshold step by step, every sample with
    # score >= threshold is predicted positive.
    order = np.argsort(-y_score, kind="stable")
    y_score = y_score[order]
    is_positive = is_positive[order]

    # Tied scores cross the threshold together, so keep only the last index of each run of
    # equal scores. A tie of positives and negatives then becomes one diagonal step.
    last_of_run = np.flatnonzero(y_score[1:] != y_score[:-1])
    last_of_run = np.append(last_of_run, len(y_score) - 1)

    tps = np.cumsum(is_positive)[last_of_run]  # TP when the threshold is y_score[i]
    fps = (last_of_run + 1) - tps  # FP = (number predicted positive) - TP

    # Start at (0, 0): threshold +inf, nothing predicted positive.
    tps = np.concatenate([[0], tps])
    fps = np.concatenate([[0], fps])
    thresholds = np.concatenate([[np.inf], y_score[last_of_run]])

    fpr = fps / fps[-1]  # FPR = FP / (number of negatives)
    tpr = tps / tps[-1]  # TPR = TP / (number of positives) = recall
    return fpr, tpr, thresholds


def roc_curve(y_true: ArrayLike, y_score: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Receiver operating characteristic: the trade-off between TPR and FPR.

    Predict "positive" when ``score >= threshold`` and lower the threshold from +inf to the
    smallest score. At every distinct score we record

        TPR = TP / (TP + FN)   (recall: positives found)
        FPR = FP / (FP + TN)   (negatives wrongly flagged)

    Args:
        y_true: labels 0 (negative) or 1 (positive), shape (N,); both must occur.
            One-hot targets of shape (N, 2) are accepted too.
        y_score: score of the positive class, shape (N,); higher means "more positive".
            Scores of shape (N, 2) (2-class softmax output) use column 1, and shape (N, 1)
            (a sigmoid output) is read as (N,).

    Returns:
        fpr, tpr, thresholds: np.ndarrays of shape (M + 1,), M = number of distinct scores.
        ``thresholds`` decreases and starts at ``np.inf`` so the curve starts at (0, 0);
        it ends at (1, 1). Unlike scikit-learn, no points are dropped from the curve.

    Raises:
        ValueError: if ``y_true`` contains only one class (the curve is undefined).
    """
    return _roc_curve("roc_curve", y_true, y_score)


def roc_auc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve (AUC), by the trapezoid rule.

    The AUC equals the probability that a random positive sample scores higher than a random
    negative one, counting ties as one half (the Mann-Whitney U statistic / (P * N)):

        AUC = P(score_pos > score_neg) + 0.5 * P(score_pos == score_neg)

    1.0 means every positive outranks every negative, 0.5 is guessing, 0.0 is perfectly
    reversed. Only the order of the scores matters, so logits and probabilities give the
    same AUC.

    Args:
        y_true, y_score: as in :func:`roc_curve`.

    Returns:
        float in [0, 1].

    Raises:
        ValueError: if ``y_true`` contains only one class (the AUC is undefined).

    Example:
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    fpr, tpr, _ = _roc_curve("roc_auc", y_true, y_score)
    # Trapezoid rule: sum over segments of width * (height_left + height_right) / 2.
    area = np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2)
    return float(area)
