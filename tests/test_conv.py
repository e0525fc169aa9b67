"""Chapter 7: conv2d, max_pool2d, avg_pool2d (tinygrad_edu/functional/conv.py) and the layers
Conv2d, MaxPool2d, AvgPool2d (tinygrad_edu/nn/conv.py).

- im2col and col2im: against a direct loop over the windows, and adjoint to each other;
- gradients against central differences (hypothesis, float64): strides, paddings,
  non-square kernels, 1 x 1 kernels, several channels, with and without bias;
- PyTorch as the oracle: forward values and every gradient (float64, rtol 1e-8), ties of
  max pooling included, and the layers' reprs and state_dicts;
- float32 stays float32; bad input is a ValueError naming the op and the shapes.
"""

import numpy as np
import pytest
from helpers import check_gradients, float_arrays, leaf
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn, no_grad, optim
from tinygrad_edu.functional import conv
from tinygrad_edu.functional.conv import col2im, im2col, output_size

RTOL, ATOL = 1e-8, 1e-10  # float64 against PyTorch: sums in another order

# ------------------------------------------------------------------------------ strategies


@st.composite
def window_geometry(draw, max_kernel=3, pool=False):
    """(input shape (N, C, H, W), kernel, stride, padding): small, every combination of
    square and non-square kernels, strides 1-2 and paddings that leave >= 1 window (for a
    pool, padding <= kernel // 2, PyTorch's rule)."""
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if pool:
        padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    else:
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    # height, width: from the smallest that holds a kernel (once padded) to 3 more
    size = tuple(
        draw(st.integers(max(1, k - 2 * p), max(1, k - 2 * p) + 3)) for k, p in zip(kernel, padding)
    )
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *size)
    return shape, kernel, stride, padding


@st.composite
def conv_case(draw):
    """(x, weight, bias or None, stride, padding), float64."""
    shape, kernel, stride, padding = draw(window_geometry())
    out_channels = draw(st.integers(1, 3))
    x = draw(float_arrays(shape, -2, 2))
    weight = draw(float_arrays((out_channels, shape[1], *kernel), -2, 2))
    bias = draw(st.none() | float_arrays((out_channels,), -2, 2))
    return x, weight, bias, stride, padding


@st.composite
def distinct_values(draw, shape):
    """float64 values of ``shape``, all different and at least 0.25 apart, so no window
    has a tie and max pooling is differentiable for the central differences."""
    size = int(np.prod(shape))
    order = draw(st.permutations(range(size)))
    return (np.array(order, dtype=np.float64).reshape(shape) - size / 2) / 4


@st.composite
def pool_case(draw, distinct=False):
    """(x, kernel, stride, padding) for a pool."""
    shape, kernel, stride, padding = draw(window_geometry(pool=True))
    x = draw(distinct_values(shape) if distinct else float_arrays(shape, -2, 2))
    return x, kernel, stride, padding


def windows(x, kernel, stride, padding, fill=0.0):
    """Reference for im2col: each window picked one by one, in the same layout."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    oh, ow = output_size(x.shape[2:], kernel, stride, padding)
    col = np.empty((*x.shape[:2], kh, kw, oh, ow))
    for r in range(oh):
        for c in range(ow):
            col[..., r, c] = padded[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw]
    return col


# ------------------------------------------------------------------------ im2col, col2im


@given(case=pool_case())
def test_im2col_picks_every_window(case):
    x, kernel, stride, padding = case
    np.testing.assert_array_equal(
        im2col(x, kernel, stride, padding, fill=-7.0), windows(x, kernel, stride, padding, -7.0)
    )


@given(case=pool_case(), data=st.data())
def test_col2im_is_the_adjoint_of_im2col(case, data):
    """<im2col(x), c> == <x, col2im(c)> for all x, c: col2im is the transpose of im2col's
    (linear) map, which is exactly what backward needs."""
    x, kernel, stride, padding = case
    col_shape = im2col(x, kernel, stride, padding).shape
    c = data.draw(float_arrays(col_shape, -2, 2))
    left = np.sum(im2col(x, kernel, stride, padding) * c)
    right = np.sum(x * col2im(c, x.shape, stride, padding))
    assert left == pytest.approx(right, rel=1e-12, abs=1e-12)


def test_output_size_is_the_books_equation_7_1():
    # (H + 2P - FH) / S + 1: the book's examples (4 x 4 input, 3 x 3 filter, ...)
    assert output_size((4, 4), (3, 3), (1, 1), (1, 1)) == (4, 4)
    assert output_size((7, 7), (3, 3), (2, 2), (0, 0)) == (3, 3)
    assert output_size((28, 31), (5, 2), (1, 3), (2, 0)) == (28, 10)


# ------------------------------------------------------------------------------ gradients


@given(case=conv_case())
def test_conv2d_gradients(case):
    x, weight, bias, stride, padding = case
    if bias is None:
        check_gradients(lambda a, w: F.conv2d(a, w, None, stride, padding), x, weight)
    else:
        check_gradients(lambda a, w, b: F.conv2d(a, w, b, stride, padding), x, weight, bias)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "padding", "bias"),
    [
        ((2, 1, 5, 5), (3, 1, 1, 1), 1, 0, True),  # 1 x 1 kernel
        ((1, 2, 5, 6), (2, 2, 3, 2), 1, 0, True),  # non-square kernel
        ((2, 3, 6, 5), (2, 3, 3, 3), 2, 1, False),  # stride and padding, no bias
        ((1, 2, 4, 7), (3, 2, 2, 3), (1, 2), (2, 1), True),  # pairs
    ],
    ids=["1x1", "non-square", "stride-padding-no-bias", "pairs"],
)
def test_conv2d_gradients_named_cases(rng, x_shape, w_shape, stride, padding, bias):
    x, w = rng.normal(size=x_shape), rng.normal(size=w_shape)
    b = rng.normal(size=w_shape[:1])
    if bias:
        check_gradients(lambda a, v, c: F.conv2d(a, v, c, stride, padding), x, w, b)
    else:
        check_gradients(lambda a, v: F.conv2d(a, v, stride=stride, padding=padding), x, w)


@pytest.mark.parametrize("images_per_block", [1, 2, 5])
def test_conv2d_input_gradient_in_blocks_of_images(rng, monkeypatch, images_per_block):
    """col2im takes dL/drows a few images at a time (all of them on the small shapes
    above): 5 images in blocks of 1, of 2 (a last partial block) and whole."""
    x, w, b = rng.normal(size=(5, 2, 5, 6)), rng.normal(size=(2, 2, 3, 2)), rng.normal(size=2)
    oh, ow = output_size((5, 6), (3, 2), (1, 2), (1, 0))
    monkeypatch.setattr(conv, "COL2IM_BLOCK", images_per_block * 2 * oh * ow)  # C * OH * OW
    check_gradients(lambda a, v, c: F.conv2d(a, v, c, (1, 2), (1, 0)), x, w, b)


@given(case=pool_case(distinct=True))
def test_max_pool2d_gradients(case):
    x, kernel, stride, padding = case
    check_gradients(lambda a: F.max_pool2d(a, kernel, stride, padding), x)


@given(case=pool_case())
def test_avg_pool2d_gradients(case):
    x, kernel, stride, padding = case
    check_gradients(lambda a: F.avg_pool2d(a, kernel, stride, padding), x)


def test_max_pool2d_tie_gives_the_gradient_to_the_first_maximum():
    """A window of equal values (after a ReLU, all zeros is common): the whole gradient
    goes to the first of them in row-major order, as in PyTorch; the others get 0."""
    x = leaf(
        [
            [
                [
                    [1.0, 3.0, 0.0, 0.0],
                    [3.0, 3.0, 0.0, 0.0],
                    [2.0, 5.0, 4.0, 4.0],
                    [5.0, 1.0, 4.0, 4.0],
                ]
            ]
        ]
    )
    y = F.max_pool2d(x, 2)
    np.testing.assert_array_equal(y.data[0, 0], [[3.0, 0.0], [5.0, 4.0]])
    y.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    expected = [
        [0.0, 10.0, 20.0, 0.0],  # 3 at (0, 1) comes before 3 at (1, 0) and (1, 1)
        [0.0, 0.0, 0.0, 0.0],
        [0.0, 30.0, 40.0, 0.0],  # 5 at (2, 1) is first in row-major order, before (3, 0)
        [0.0, 0.0, 0.0, 0.0],
    ]
    np.testing.assert_array_equal(x.grad.data[0, 0], expected)


def test_max_pool2d_overlapping_windows_add_up():
    """A pixel that is the maximum of several windows (stride < kernel) gets the sum."""
    x = leaf(np.arange(9.0).reshape(1, 1, 3, 3))
    F.max_pool2d(x, 2, stride=1).sum().backward()  # every window's max is its bottom-right
    np.testing.assert_array_equal(x.grad.data[0, 0], [[0, 0, 0], [0, 1, 1], [0, 1, 1]])


def test_max_pool2d_padding_never_wins():
    x = leaf(-np.ones((1, 1, 2, 2)))  # padding is -inf, not 0: -1 stays the maximum
    np.testing.assert_array_equal(
        F.max_pool2d(x, 2, stride=1, padding=1).data, -np.ones((1, 1, 3, 3))
    )


def test_max_pool2d_gradient_goes_to_a_real_pixel_when_it_ties_with_the_padding():
    """All -inf: every window's maximum ties with the -inf padding; as in PyTorch, the
    gradient of each of the four windows goes to the first real pixel, not the padding."""
    x = leaf(np.full((1, 1, 2, 2), -np.inf))
    F.max_pool2d(x, 3, stride=1, padding=1).sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, 0], [[4, 0], [0, 0]])


def test_max_pool2d_of_booleans_pads_with_false():
    y = F.max_pool2d(np.eye(2, dtype=bool).reshape(1, 1, 2, 2), 2, stride=1, padding=1)
    expected = [[True, True, False], [True, True, True], [False, True, True]]
    np.testing.assert_array_equal(y.data[0, 0], expected)


def test_max_pool2d_backward_refuses_an_input_changed_in_place():
    """Backward compares the input with the output to find each window's maximum, so an
    input changed in place since forward is an error (as in PyTorch), not a gradient of 0."""
    x = leaf(np.arange(16.0).reshape(1, 1, 4, 4))
    hidden = x * 1
    y = F.max_pool2d(hidden, 2)
    with no_grad():
        hidden += 1
    with pytest.raises(RuntimeError, match=r"the input 0 of 'max_pool2d' \(shape \(1, 1, 4, 4\)\)"):
        y.sum().backward()


def test_avg_pool2d_counts_the_padding():
    x = Tensor(np.ones((1, 1, 2, 2)))
    y = F.avg_pool2d(x, 2, stride=1, padding=1).data[0, 0]
    np.testing.assert_allclose(y, [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


def test_conv2d_only_computes_the_gradients_needed():
    """A batch of images needs no gradient: only the weight and bias get one."""
    w = leaf(np.ones((2, 1, 3, 3)))
    F.conv2d(np.ones((1, 1, 4, 4)), w).sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.full((2, 1, 3, 3), 4.0))


# --------------------------------------------------------------------------- PyTorch


def assert_close(ours, theirs):
    theirs = theirs.detach().numpy()
    ours = ours.data if isinstance(ours, Tensor) else ours
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


def compare_with_torch(torch, ours, theirs, arrays, upstream):
    """Outputs and every input's gradient, ours against PyTorch's, from the same arrays."""
    xs = [leaf(a) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = ours(*xs), theirs(*ts)
    assert_close(out, ref)
    grad = upstream(out.shape)
    out.backward(grad)
    ref.backward(torch.tensor(grad))
    for x, t in zip(xs, ts):
        assert_close(x.grad, t.grad)


def upstream_from(data):
    return lambda shape: data.draw(float_arrays(shape, -2, 2), label="d(loss)/d(output)")


@given(case=conv_case(), data=st.data())
def test_conv2d_matches_pytorch(torch, case, data):
    x, weight, bias, stride, padding = case
    arrays = [x, weight] if bias is None else [x, weight, bias]
    compare_with_torch(
        torch,
        lambda *t: F.conv2d(*t, stride=stride, padding=padding),
        lambda *t: torch.nn.functional.conv2d(*t, stride=stride, padding=padding),
        arrays,
        upstream_from(data),
    )


@given(case=pool_case(), ties=st.booleans(), data=st.data())
def test_max_pool2d_matches_pytorch_ties_included(torch, case, ties, data):
    x, kernel, stride, padding = case
    if ties:  # a few small integers: most windows hold several maxima
        x = np.round(x)
    compare_with_torch(
        torch,
        lambda t: F.max_pool2d(t, kernel, stride, padding),
        lambda t: torch.nn.functional.max_pool2d(t, kernel, stride, padding),
        [x],
        upstream_from(data),
    )


@given(case=pool_case(), data=st.data())
def test_avg_pool2d_matches_pytorch(torch, case, data):
    x, kernel, stride, padding = case
    compare_with_torch(
        torch,
        lambda t: F.avg_pool2d(t, kernel, stride, padding),
        lambda t: torch.nn.functional.avg_pool2d(t, kernel, stride, padding),
        [x],
        upstream_from(data),
    )


def test_layer_reprs_match_pytorch(torch):
    pairs = [
        (nn.Conv2d(1, 30, 5), torch.nn.Conv2d(1, 30, 5)),
        (
            nn.Conv2d(3, 8, (3, 2), 2, 1, bias=False),
            torch.nn.Conv2d(3, 8, (3, 2), 2, 1, bias=False),
        ),
        (nn.AvgPool2d(3, 1, 1), torch.nn.AvgPool2d(3, 1, 1)),
        (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
    # PyTorch's MaxPool2d also shows dilation and ceil_mode, which are not supported here
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(torch.nn.MaxPool2d(2)).startswith(repr(nn.MaxPool2d(2))[:-1] + ",")


def test_conv2d_state_dict_loads_into_pytorch(torch, rng):
    """Same parameter names and layout (out, in, kh, kw) as torch.nn.Conv2d."""
    np.random.seed(0)
    ours = nn.Conv2d(2, 4, (3, 2), stride=2, padding=1, dtype=np.float64)
    theirs = torch.nn.Conv2d(2, 4, (3, 2), stride=2, padding=1).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = rng.normal(size=(3, 2, 7, 6))
    with no_grad():
        assert_close(ours(x), theirs(torch.tensor(x)))


# ------------------------------------------------------------------------------ float32


def test_float32_stays_float32(rng):
    x = Tensor(rng.normal(size=(2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    assert conv.weight.dtype == conv.bias.dtype == np.float32
    y = F.avg_pool2d(F.max_pool2d(conv(x), 2), 2, padding=1)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == conv.weight.grad.dtype == conv.bias.grad.dtype == np.float32


def test_conv2d_float64_layer():
    assert nn.Conv2d(1, 2, 3, dtype=np.float64).weight.dtype == np.float64


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: F.conv2d(np.ones((1, 3, 8, 8)), leaf(np.ones((4, 1, 3, 3)))),
            r"conv2d: the input of shape \(1, 3, 8, 8\) has 3 channels but the weight of "
            r"shape \(4, 1, 3, 3\) expects 1 .*make in_channels equal",
        ),
        (
            lambda: F.conv2d(np.ones((1, 1, 4, 4)), leaf(np.ones((2, 1, 5, 5)))),
            r"conv2d: kernel size \(5, 5\) is larger than the padded input \(4, 4\) "
            r"\(input \(1, 1, 4, 4\), padding \(0, 0\)\); use a smaller kernel",
        ),
        (
            lambda: F.conv2d(np.ones((1, 4, 4)), leaf(np.ones((2, 1, 3, 3)))),
            r"conv2d: expected a 4-D input \(N, C, H, W\), got shape \(1, 4, 4\); .*reshape",
        ),
        (
            lambda: F.conv2d(np.ones((1, 1, 4, 4)), leaf(np.ones((2, 3, 3)))),
            r"conv2d: expected a 4-D weight \(out_channels, in_channels, kh, kw\), got shape "
            r"\(2, 3, 3\)",
        ),
        (
            lambda: F.conv2d(np.ones((1, 1, 4, 4)), leaf(np.ones((2, 1, 3, 3))), leaf([1.0])),
            r"conv2d: a bias of shape \(1,\) does not fit a weight of shape \(2, 1, 3, 3\); "
            r"it must have shape \(2,\)",
        ),
        (
            lambda: F.conv2d(np.ones((1, 1, 4, 4)), leaf(np.ones((2, 1, 3, 3))), stride=0),
            r"conv2d: stride must be positive, got 0",
        ),
        (
            lambda: F.conv2d(np.ones((1, 1, 4, 4)), leaf(np.ones((2, 1, 3, 3))), padding=-1),
            r"conv2d: padding must be non-negative, got -1",
        ),
        (
            lambda: F.conv2d(np.ones((1, 1, 4, 4)), leaf(np.ones((2, 1, 3, 3))), stride=1.5),
            r"conv2d: stride must be an int or a pair of ints, got 1.5",
        ),
        (
            lambda: F.max_pool2d(np.ones((2, 4, 4)), 2),
            r"max_pool2d: expected a 4-D input \(N, C, H, W\), got shape \(2, 4, 4\)",
        ),
        (
            lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 2, stride=(1, 0)),
            r"max_pool2d: stride must be positive, got \(1, 0\)",
        ),
        (
            lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 3, padding=2),
            r"max_pool2d: padding \(2, 2\) is more than half the kernel size \(3, 3\); use "
            r"padding <= kernel_size // 2",
        ),
        (
            lambda: F.max_pool2d(np.ones((1, 1, 1, 3)), 4, padding=(1, 2)),
            r"max_pool2d: kernel size \(4, 4\) is larger than the padded input \(3, 7\)",
        ),
        (
            lambda: F.avg_pool2d(np.ones((1, 1, 2, 2)), 5, padding=1),
            r"avg_pool2d: kernel size \(5, 5\) is larger than the padded input \(4, 4\)",
        ),
        (
            lambda: F.avg_pool2d(np.ones((1, 1, 4, 4)), 2, stride=0),
            r"avg_pool2d: stride must be positive, got 0",
        ),
        (
            lambda: nn.Conv2d(3, 8, 3)(np.ones((1, 1, 8, 8))),
            r"Conv2d\(3, 8, kernel_size=\(3, 3\), stride=\(1, 1\)\): conv2d: the input of "
            r"shape \(1, 1, 8, 8\) has 1 channels",
        ),
        (lambda: nn.Conv2d(0, 8, 3), r"Conv2d: in_channels must be a positive int, got 0"),
        (lambda: nn.Conv2d(1, 8, 0), r"Conv2d: kernel_size must be positive, got 0"),
        (lambda: nn.MaxPool2d(2, padding=2), r"MaxPool2d: padding \(2, 2\) is more than half"),
        (lambda: nn.AvgPool2d(2, stride=0), r"AvgPool2d: stride must be positive, got 0"),
        (
            lambda: nn.MaxPool2d(3)(np.ones((1, 1, 2, 2))),
            r"MaxPool2d\(kernel_size=3, stride=3, padding=0\): max_pool2d: kernel size \(3, 3\)",
        ),
    ],
)
def test_bad_input_is_a_value_error_naming_the_op_and_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------------------------------------------- layers


def test_conv2d_parameters_and_he_initialisation():
    np.random.seed(0)
    conv = nn.Conv2d(16, 64, (3, 2))
    assert [(n, p.shape) for n, p in conv.named_parameters()] == [
        ("weight", (64, 16, 3, 2)),
        ("bias", (64,)),
    ]
    fan_in = 16 * 3 * 2
    assert conv.weight.data.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.05)
    assert conv.weight.data.mean() == pytest.approx(0, abs=0.01)
    np.testing.assert_array_equal(conv.bias.data, 0)
    assert [n for n, _ in nn.Conv2d(1, 2, 3, bias=False).named_parameters()] == ["weight"]
    assert nn.MaxPool2d(2).parameters() == [] and nn.AvgPool2d(2).parameters() == []


def test_pool_layers_default_stride_is_the_kernel():
    x = np.arange(2 * 3 * 6 * 6.0).reshape(2, 3, 6, 6)
    np.testing.assert_array_equal(nn.MaxPool2d(3)(x).data, F.max_pool2d(x, 3, 3).data)
    np.testing.assert_array_equal(nn.AvgPool2d((2, 3))(x).data, F.avg_pool2d(x, (2, 3)).data)
    assert nn.MaxPool2d((2, 3)).stride == (2, 3)


def test_flatten_turns_nchw_into_rows():
    x = np.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    y = nn.Flatten()(x)
    assert y.shape == (2, 60)
    np.testing.assert_array_equal(y.data, x.reshape(2, 60))  # C, then H, then W, as PyTorch


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(6 * 2 * 2, 10),
    )


def test_small_cnn_state_dict_round_trip(tmp_path, rng):
    np.random.seed(1)
    model = small_cnn()
    assert list(model.state_dict()) == [
        "0.weight",
        "0.bias",
        "3.weight",
        "3.bias",
        "7.weight",
        "7.bias",
    ]
    x = rng.normal(size=(5, 1, 12, 12)).astype(np.float32)
    model.save(tmp_path / "cnn.npz")
    np.random.seed(2)
    other = small_cnn()  # different random weights ...
    with no_grad():
        assert not np.allclose(other(x).data, model(x).data)
        other.load(tmp_path / "cnn.npz")  # ... until it loads the saved ones
        np.testing.assert_array_equal(other(x).data, model(x).data)
        assert other(x).shape == (5, 10)


def test_small_cnn_learns(rng):
    """A few Adam steps on a fixed batch bring the loss down: the layers fit together."""
    np.random.seed(0)
    model = small_cnn()
    x = rng.normal(size=(16, 1, 12, 12)).astype(np.float32)
    t = rng.integers(0, 10, size=16)
    opt = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 4


# ----------------------------------------------------------------- edge cases, names


def test_an_empty_batch_runs_forward_and_backward_like_pytorch(torch):
    """N = 0: every output and gradient is empty or zero, with PyTorch's shapes."""
    np.random.seed(0)
    conv, theirs = nn.Conv2d(2, 3, 3, padding=1), torch.nn.Conv2d(2, 3, 3, padding=1)
    x = Tensor(np.zeros((0, 2, 5, 5), np.float32), requires_grad=True)
    t = torch.zeros((0, 2, 5, 5), requires_grad=True)
    y = F.avg_pool2d(F.max_pool2d(conv(x), 2), 2, padding=1)
    ref = torch.nn.functional.avg_pool2d(torch.nn.functional.max_pool2d(theirs(t), 2), 2, padding=1)
    assert y.shape == tuple(ref.shape) and y.dtype == np.float32
    y.sum().backward()
    ref.sum().backward()
    assert x.grad.shape == tuple(t.grad.shape) and x.grad.dtype == np.float32
    for ours, param in [(conv.weight, theirs.weight), (conv.bias, theirs.bias)]:
        assert ours.grad.dtype == np.float32
        np.testing.assert_array_equal(ours.grad.data, param.grad.numpy())


def test_no_input_channels_give_the_bias_and_empty_gradients():
    """C = 0: each output is an empty sum plus the bias (PyTorch returns no output channels
    here instead); backward must still run."""
    x, w, b = leaf(np.zeros((3, 0, 5, 5))), leaf(np.zeros((2, 0, 3, 3))), leaf(np.ones(2))
    y = F.conv2d(x, w, b)
    np.testing.assert_array_equal(y.data, np.ones((3, 2, 3, 3)))
    y.sum().backward()
    assert x.grad.shape == (3, 0, 5, 5) and w.grad.shape == (2, 0, 3, 3)
    np.testing.assert_array_equal(b.grad.data, [27.0, 27.0])  # 3 images x 3 x 3 outputs


def test_the_ops_are_named_as_pytorchs_functions():
    """Graph drawings and messages name the ops as F.conv2d, F.max_pool2d, F.avg_pool2d."""
    x = leaf(np.ones((1, 1, 4, 4)))
    assert F.conv2d(x, leaf(np.ones((1, 1, 3, 3)))).creator.name == "conv2d"
    assert F.max_pool2d(x, 2).creator.name == "max_pool2d"
    assert F.avg_pool2d(x, 2).creator.name == "avg_pool2d"


def test_pool_layers_keep_pytorchs_arguments_and_check_them_once():
    layer = nn.AvgPool2d(3, padding=1)
    assert (layer.kernel_size, layer.stride, layer.padding) == (3, 3, 1)  # as PyTorch's
    x = np.arange(2 * 6 * 6.0).reshape(1, 2, 6, 6)
    np.testing.assert_array_equal(layer(x).data, F.avg_pool2d(x, 3, 3, 1).data)
    with pytest.raises(ValueError, match=r"^AvgPool2d\(kernel_size=3, stride=3, padding=1\): avg"):
        layer(np.ones((2, 6, 6)))
