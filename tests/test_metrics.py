"""Tests for tinygrad_edu.metrics: hand-computed examples, properties and error messages."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tinygrad_edu.metrics import (
    accuracy,
    confusion_matrix,
    f1_score,
    precision,
    recall,
    roc_auc,
    roc_curve,
)

PRF_FUNCTIONS = [precision, recall, f1_score]


class ArrayLike:
    """Not an ndarray, but converts to one (like a Tensor with ``__array__``)."""

    def __init__(self, values):
        self.values = list(values)

    def __array__(self, dtype=None, copy=None):
        return np.array(self.values, dtype=dtype)


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------


@st.composite
def label_pairs(draw, max_classes=5):
    """(y_true, y_pred, num_classes): two label arrays of the same length N >= 1."""
    num_classes = draw(st.integers(2, max_classes))
    n = draw(st.integers(1, 40))
    labels = arrays(np.int64, n, elements=st.integers(0, num_classes - 1))
    return draw(labels), draw(labels), num_classes


@st.composite
def binary_scores(draw):
    """(y_true, y_score) with both classes present and many tied scores."""
    n = draw(st.integers(2, 40))
    y_true = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    y_true[0], y_true[1] = 0, 1  # make sure both classes occur
    y_score = draw(arrays(np.float64, n, elements=st.integers(-20, 20).map(float)))
    return y_true, y_score


def mann_whitney_auc(y_true, y_score):
    """Brute force over all (positive, negative) pairs: P(s_pos > s_neg) + 0.5 P(tie)."""
    pos = y_score[y_true == 1]
    neg = y_score[y_true == 0]
    diff = pos[:, None] - neg[None, :]
    return np.mean((diff > 0) + 0.5 * (diff == 0))


# ---------------------------------------------------------------------------
# accuracy
# ---------------------------------------------------------------------------


def test_accuracy_by_hand():
    result = accuracy([0, 1, 2, 2, 1], [0, 2, 2, 2, 1])  # 4 of 5 right
    assert result == pytest.approx(0.8)
    assert type(result) is float


def test_accuracy_reads_scores_and_one_hot_by_argmax():
    t_one_hot = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]])
    logits = np.array([[2.0, 1.0, -1.0], [0.1, 0.3, 0.2], [5.0, 0.0, 4.0], [0.0, 0.0, 9.0]])
    assert accuracy(t_one_hot, logits) == pytest.approx(0.75)
    assert accuracy([0, 1, 2, 2], logits) == pytest.approx(0.75)


def test_inputs_can_be_lists_bools_floats_or_array_like():
    assert accuracy(ArrayLike([0, 1, 1]), ArrayLike([0, 1, 0])) == pytest.approx(2 / 3)
    assert accuracy([True, False], [1, 0]) == 1.0
    assert accuracy(np.array([0.0, 1.0]), [0, 1]) == 1.0


def test_accuracy_shape_mismatch_names_both_shapes():
    message = (
        "accuracy: y_true has shape (10,) but y_pred has shape (9,); "
        "they must have the same number of samples"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        accuracy(np.zeros(10), np.zeros(9))


def test_shape_mismatch_reports_the_shapes_as_given():
    message = "y_true has shape (4,) but y_pred has shape (3, 5)"
    with pytest.raises(ValueError, match=re.escape(message)):
        accuracy([0, 1, 2, 3], np.zeros((3, 5)))


def test_different_number_of_classes_is_an_error():
    message = "accuracy: y_true has shape (2, 3) but y_pred has shape (2, 4); they must have "
    with pytest.raises(ValueError, match=re.escape(message) + ".*number of classes"):
        accuracy(np.eye(3)[[0, 1]], np.zeros((2, 4)))


def test_probabilities_instead_of_labels_is_an_error():
    with pytest.raises(
        ValueError, match=r"accuracy: y_pred contains non-integer values \(e\.g\. 0\.7"
    ):
        accuracy([0, 1], [1.0, 0.7])


def test_single_column_is_ambiguous():
    with pytest.raises(ValueError, match=re.escape("accuracy: y_pred has shape (2, 1); a single")):
        accuracy([0, 1], [[0.2], [0.7]])


def test_scalar_input_is_an_error():
    with pytest.raises(ValueError, match=re.escape("accuracy: y_true is a single value (3)")):
        accuracy(3, [3])


def test_three_dimensional_input_is_an_error():
    with pytest.raises(
        ValueError, match=re.escape("accuracy: y_pred has shape (2, 3, 4); expected")
    ):
        accuracy([0, 1], np.zeros((2, 3, 4)))


def test_empty_input_is_an_error():
    with pytest.raises(ValueError, match="accuracy: y_true and y_pred are empty"):
        accuracy([], [])


def test_string_labels_are_an_error():
    with pytest.raises(ValueError, match="accuracy: y_true must hold integer class labels"):
        accuracy(["cat", "dog"], [0, 1])


# ---------------------------------------------------------------------------
# confusion_matrix
# ---------------------------------------------------------------------------


def test_confusion_matrix_by_hand():
    cm = confusion_matrix([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0])
    expected = np.array(
        [
            [1, 1, 0],  # true 0: once right, once predicted as 1
            [0, 2, 0],
            [1, 0, 1],
        ]
    )
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == np.int64


def test_confusion_matrix_num_classes_pads_unseen_classes():
    cm = confusion_matrix([0, 1], [0, 1], num_classes=4)
    assert cm.shape == (4, 4)
    assert cm[2:].sum() == 0 and cm[:, 2:].sum() == 0


def test_confusion_matrix_size_from_score_columns():
    scores = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1]])  # class 2 is never predicted
    assert confusion_matrix([0, 1], scores).shape == (3, 3)


@settings(deadline=None)
@given(label_pairs())
def test_confusion_matrix_properties(pair):
    y_true, y_pred, num_classes = pair
    cm = confusion_matrix(y_true, y_pred, num_classes=num_classes)
    assert cm.shape == (num_classes, num_classes)
    assert cm.sum() == len(y_true)
    assert np.trace(cm) / len(y_true) == pytest.approx(accuracy(y_true, y_pred))
    # Row i counts the samples of true class i; column j those predicted as j.
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(y_true, minlength=num_classes))
    np.testing.assert_array_equal(cm.sum(axis=0), np.bincount(y_pred, minlength=num_classes))


def test_confusion_matrix_label_too_large_for_num_classes():
    message = "confusion_matrix: found label 3 but num_classes=3; labels must be 0 .. 2"
    with pytest.raises(ValueError, match=re.escape(message)):
        confusion_matrix([0, 3], [0, 1], num_classes=3)


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "3"])
def test_confusion_matrix_bad_num_classes(bad):
    message = f"confusion_matrix: num_classes must be a positive integer, got {bad!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        confusion_matrix([0, 1], [0, 1], num_classes=bad)


def test_confusion_matrix_negative_label():
    with pytest.raises(
        ValueError, match=re.escape("confusion_matrix: labels must be 0, 1, ..., C-1")
    ):
        confusion_matrix([-1, 1], [1, 1])


# ---------------------------------------------------------------------------
# precision, recall, f1_score
# ---------------------------------------------------------------------------


def test_binary_by_hand_tp2_fp1_fn1():
    y_true = [1, 1, 1, 0, 0, 0]
    y_pred = [1, 1, 0, 1, 0, 0]  # TP=2, FN=1, FP=1, TN=2
    assert precision(y_true, y_pred) == pytest.approx(2 / 3)  # 2 / (2 + 1)
    assert recall(y_true, y_pred) == pytest.approx(2 / 3)  # 2 / (2 + 1)
    assert f1_score(y_true, y_pred) == pytest.approx(2 / 3)


def test_binary_by_hand_precision_differs_from_recall():
    y_true = [1, 1, 1, 1, 1, 0, 0, 0]
    y_pred = [1, 1, 1, 0, 0, 1, 0, 0]  # TP=3, FN=2, FP=1, TN=2
    assert precision(y_true, y_pred) == pytest.approx(3 / 4)
    assert recall(y_true, y_pred) == pytest.approx(3 / 5)
    assert f1_score(y_true, y_pred) == pytest.approx(2 * 0.75 * 0.6 / (0.75 + 0.6))
    # With class 0 as positive: TP=2 (the old TN), FP=2 (the old FN), FN=1 (the old FP).
    assert precision(y_true, y_pred, pos_label=0) == pytest.approx(2 / 4)
    assert recall(y_true, y_pred, pos_label=0) == pytest.approx(2 / 3)


def test_scalar_results_are_python_floats():
    for func in PRF_FUNCTIONS:
        for average in ["binary", "macro", "micro"]:
            assert type(func([0, 1, 1], [0, 1, 0], average=average)) is float


def test_no_predicted_positives_gives_precision_zero():
    result = precision([1, 1, 0], [0, 0, 0])
    assert result == 0.0 and type(result) is float
    assert f1_score([1, 1, 0], [0, 0, 0]) == 0.0


def test_no_true_positives_gives_recall_zero():
    assert recall([0, 0, 0], [1, 0, 0]) == 0.0
    assert f1_score([0, 0, 0], [1, 0, 0]) == 0.0


def test_multiclass_by_hand():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0]
    # class 0: TP=1 FP=1 FN=1; class 1: TP=2 FP=1 FN=0; class 2: TP=1 FP=0 FN=1
    per_class_p = precision(y_true, y_pred, average=None)
    per_class_r = recall(y_true, y_pred, average=None)
    assert isinstance(per_class_p, np.ndarray)
    np.testing.assert_allclose(per_class_p, [1 / 2, 2 / 3, 1])
    np.testing.assert_allclose(per_class_r, [1 / 2, 1, 1 / 2])
    assert precision(y_true, y_pred, average="macro") == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert recall(y_true, y_pred, average="macro") == pytest.approx(2 / 3)
    assert precision(y_true, y_pred, average="micro") == pytest.approx(4 / 6)


def test_per_class_scores_cover_only_labels_that_occur():
    # Labels 0 and 2 occur, 1 does not: two entries, in sorted order.
    np.testing.assert_allclose(recall([0, 2, 2], [0, 2, 0], average=None), [1, 1 / 2])


def test_precision_recall_accept_scores_and_one_hot():
    t_one_hot = np.eye(2)[[1, 1, 0, 0]]
    probs = np.array([[0.1, 0.9], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]])  # predicts 1, 0, 1, 0
    assert precision(t_one_hot, probs) == pytest.approx(1 / 2)
    assert recall(t_one_hot, probs) == pytest.approx(1 / 2)


@settings(deadline=None)
@given(label_pairs())
def test_micro_scores_equal_accuracy(pair):
    y_true, y_pred, _ = pair
    acc = accuracy(y_true, y_pred)
    assert precision(y_true, y_pred, average="micro") == pytest.approx(acc)
    assert recall(y_true, y_pred, average="micro") == pytest.approx(acc)
    assert f1_score(y_true, y_pred, average="micro") == pytest.approx(acc)


@settings(deadline=None)
@given(label_pairs())
def test_macro_is_mean_of_per_class(pair):
    y_true, y_pred, _ = pair
    for func in PRF_FUNCTIONS:
        per_class = func(y_true, y_pred, average=None)
        assert per_class.shape == (len(np.union1d(y_true, y_pred)),)
        assert np.all((per_class >= 0) & (per_class <= 1))
        assert func(y_true, y_pred, average="macro") == pytest.approx(np.mean(per_class))


@settings(deadline=None)
@given(label_pairs(max_classes=2))
def test_binary_f1_is_harmonic_mean(pair):
    y_true, y_pred, _ = pair
    p = precision(y_true, y_pred)
    r = recall(y_true, y_pred)
    expected = 0.0 if p + r == 0 else 2 * p * r / (p + r)
    assert f1_score(y_true, y_pred) == pytest.approx(expected)


@pytest.mark.parametrize("func", PRF_FUNCTIONS)
def test_unknown_average_lists_valid_values(func):
    message = (
        f"{func.__name__}: unknown average='weighted'; "
        "use one of 'binary', 'macro', 'micro' or None"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        func([0, 1], [0, 1], average="weighted")


@pytest.mark.parametrize("func", PRF_FUNCTIONS)
def test_binary_average_with_three_classes_is_an_error(func):
    message = (
        f"{func.__name__}: average='binary' needs at most 2 classes but found labels [0, 1, 2]"
    )
    with pytest.raises(ValueError, match=re.escape(message) + ".*average='macro'"):
        func([0, 1, 2], [0, 1, 1])


def test_pos_label_must_be_one_of_the_labels():
    message = "recall: pos_label=1 is not one of the labels [0, 2]"
    with pytest.raises(ValueError, match=re.escape(message)):
        recall([0, 2], [0, 2])


@pytest.mark.parametrize("func", PRF_FUNCTIONS)
def test_prf_shape_mismatch(func):
    message = f"{func.__name__}: y_true has shape (3,) but y_pred has shape (2,)"
    with pytest.raises(ValueError, match=re.escape(message)):
        func([0, 1, 1], [0, 1])


# ---------------------------------------------------------------------------
# roc_curve and roc_auc
# ---------------------------------------------------------------------------


def test_roc_curve_by_hand():
    fpr, tpr, thresholds = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(thresholds, [np.inf, 0.8, 0.4, 0.35, 0.1])


def test_roc_curve_groups_tied_scores_into_one_point():
    fpr, tpr, thresholds = roc_curve([0, 1, 1, 0], [0.5, 0.5, 0.2, 0.2])
    np.testing.assert_allclose(fpr, [0, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 1])
    np.testing.assert_allclose(thresholds, [np.inf, 0.5, 0.2])


@settings(deadline=None)
@given(binary_scores())
def test_roc_curve_properties(data):
    y_true, y_score = data
    fpr, tpr, thresholds = roc_curve(y_true, y_score)
    assert fpr.shape == tpr.shape == thresholds.shape == (len(np.unique(y_score)) + 1,)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert thresholds[0] == np.inf and np.all(np.diff(thresholds) < 0)


def test_roc_auc_by_hand():
    # Pairs (pos, neg): (0.35, 0.1) yes, (0.35, 0.4) no, (0.8, 0.1) yes, (0.8, 0.4) yes.
    result = roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert result == pytest.approx(3 / 4)
    assert type(result) is float


def test_roc_auc_perfect_reversed_and_all_tied():
    y_true = [0, 0, 0, 1, 1]
    assert roc_auc(y_true, [0.1, 0.2, 0.3, 0.8, 0.9]) == 1.0
    assert roc_auc(y_true, [0.9, 0.8, 0.7, 0.2, 0.1]) == 0.0
    assert roc_auc(y_true, [0.5] * 5) == 0.5


@settings(deadline=None)
@given(binary_scores())
def test_roc_auc_equals_mann_whitney(data):
    y_true, y_score = data
    assert roc_auc(y_true, y_score) == pytest.approx(mann_whitney_auc(y_true, y_score))


INCREASING_TRANSFORMS = [
    lambda s: 3 * s - 7,
    lambda s: s**3,
    lambda s: np.exp(s / 4),
    lambda s: 1 / (1 + np.exp(-s / 10)),  # sigmoid: logits -> probabilities
]


@settings(deadline=None)
@given(binary_scores(), st.sampled_from(INCREASING_TRANSFORMS))
def test_roc_auc_only_depends_on_the_order_of_scores(data, transform):
    y_true, y_score = data
    assert roc_auc(y_true, transform(y_score)) == pytest.approx(roc_auc(y_true, y_score))


@settings(deadline=None)
@given(binary_scores())
def test_roc_auc_of_negated_scores(data):
    y_true, y_score = data
    assert roc_auc(y_true, -y_score) == pytest.approx(1 - roc_auc(y_true, y_score))


def test_roc_auc_reads_softmax_columns_and_one_hot():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])
    y_true = [0, 0, 1, 1]
    expected = roc_auc(y_true, probs[:, 1])
    assert roc_auc(y_true, probs) == expected
    assert roc_auc(np.eye(2)[y_true], probs) == expected
    assert roc_auc(y_true, probs[:, 1:]) == expected  # shape (N, 1)
    assert roc_auc(ArrayLike(y_true), ArrayLike(probs[:, 1])) == expected


@pytest.mark.parametrize("func", [roc_auc, roc_curve])
def test_roc_with_one_class_is_an_error(func):
    message = (
        f"{func.__name__}: y_true contains only one class (label 1); the ROC curve needs both "
        "positive and negative samples"
    )
    with pytest.raises(ValueError, match=re.escape(message) + ".*stratified"):
        func([1, 1, 1], [0.2, 0.5, 0.9])


def test_roc_auc_labels_must_be_0_and_1():
    message = "roc_auc: y_true must contain only the labels 0 (negative) and 1 (positive), found"
    with pytest.raises(ValueError, match=re.escape(message) + r" \[1, 2\]"):
        roc_auc([1, 2, 2], [0.2, 0.5, 0.9])


def test_roc_auc_shape_mismatch_names_y_score():
    message = "roc_auc: y_true has shape (3,) but y_score has shape (2,)"
    with pytest.raises(ValueError, match=re.escape(message)):
        roc_auc([0, 1, 1], [0.2, 0.5])


def test_roc_auc_rejects_multiclass_scores():
    with pytest.raises(ValueError, match=re.escape("roc_auc: y_score has shape (2, 3); expected")):
        roc_auc([0, 1], np.zeros((2, 3)))


def test_roc_auc_rejects_nan_scores():
    with pytest.raises(ValueError, match="roc_auc: y_score contains NaN"):
        roc_auc([0, 1], [0.5, np.nan])
