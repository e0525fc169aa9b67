"""Convolution and pooling (chapter 7), each one op built on the book's im2col trick.

Images are NCHW arrays, (batch N, channels C, height H, width W), as in the book and in
PyTorch; a convolution's weight is (out_channels, in_channels, kh, kw). Kernel size, stride
and padding are an int (the same for height and width) or a pair (for height, width).

The trick (the book's section 7.4.3): ``im2col`` copies every kernel-sized window of the
(zero-padded) input into a column, so that a convolution becomes one matrix product and
a pooling one reduction over the window's axis. Its adjoint, ``col2im``, adds the columns'
entries back to the pixels they were copied from, which is what each backward needs. The
output size along each axis is (the book's equation 7.1)

    OH = (H + 2 * padding - kh) // stride + 1,   OW likewise.

``col2im`` loops over the kernel's positions (kh * kw numpy additions of whole strided
slices, ``kernel_positions``), as the book does; ``im2col`` gets the same windows from
numpy's ``sliding_window_view``, measured as fast as the book's loop or faster (its
docstring shows both; ``benchmarks/bench_conv.py`` times them). Average pooling uses these
two in the layout (N, C, kh, kw, OH, OW), where a window's pixels sit on one axis per
channel.
Max pooling fuses them with its reduction: the same loop over the kernel's positions
keeps a running maximum and never copies a window (1.6-1.8x as fast on the MNIST CNN's
pools). The convolution lays its windows out as the book does, one row per output pixel,
but read from the images with the channels last, so that its copies and additions move
runs of C numbers (``Conv2d``'s docstring; measured 1.6x faster than columns per image
on the MNIST CNN's second layer, benchmarks/README.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinygrad_edu.ops import Function
from tinygrad_edu.tensor import Tensor, TensorLike, as_tensor

IntPair = int | tuple[int, int]  # what the public functions take
Pair = tuple[int, int]  # (height, width), as the ops keep them


def as_pair(op: str, name: str, value: IntPair, low: int) -> Pair:
    """``value`` (an int or a pair of ints) as a pair (height, width), each >= ``low``;
    else a ValueError naming ``op`` and the argument."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    ok = isinstance(pair, (tuple, list)) and len(pair) == 2
    if not ok or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    h, w = int(pair[0]), int(pair[1])
    if h < low or w < low:
        what = "positive" if low == 1 else "non-negative"
        raise ValueError(
            f"{op}: {name} must be {what}, got {value!r}; pass an int or a pair of ints >= {low}"
        )
    return h, w


def output_size(size: Pair, kernel: Pair, stride: Pair, padding: Pair) -> Pair:
    """(OH, OW) = ((H + 2P - kh) // S + 1, ...): the book's equation 7.1, rounded down
    (a last partial window is dropped, PyTorch's ``ceil_mode=False``)."""
    return (
        (size[0] + 2 * padding[0] - kernel[0]) // stride[0] + 1,
        (size[1] + 2 * padding[1] - kernel[1]) // stride[1] + 1,
    )


def im2col(
    x: np.ndarray,
    kernel: Pair,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    fill: float = 0.0,
) -> np.ndarray:
    """Every (kh, kw) window of the padded images, as columns.

    x: (N, C, H, W) -> col: (N, C, kh, kw, OH, OW), where

        col[n, c, i, j, oh, ow] = x_padded[n, c, oh * stride_h + i, ow * stride_w + j],

    ``x_padded`` being ``x`` with ``padding`` rows and columns of ``fill`` on each side
    (0 for a convolution and average pooling, -inf for max pooling). The book builds this
    array with a loop over the kernel's positions: for each (i, j), the pixels it touches
    in all the windows form one strided slice of the input, so

        for i in range(kh):
            for j in range(kw):
                col[:, :, i, j] = x_padded[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw]

    Here numpy's ``sliding_window_view`` does the same work: it shows every window as a
    view, ``windows[n, c, oh, ow, i, j]`` (no copy); keeping every stride-th window and
    moving the kernel's axes before the positions, one copy gives the same array, in
    0.57x to 1.03x the loop's time here (benchmarks/README.md).
    """
    (sh, sw), (ph, pw) = stride, padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    windows = sliding_window_view(x, kernel, axis=(2, 3))  # every position, a view
    windows = windows[:, :, ::sh, ::sw]  # every stride-th: (N, C, OH, OW, kh, kw)
    return windows.transpose(0, 1, 4, 5, 2, 3).copy()  # (N, C, kh, kw, OH, OW), one copy


def col2im(
    col: np.ndarray,
    input_shape: tuple[int, ...],
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
) -> np.ndarray:
    """The adjoint of ``im2col``: col (N, C, kh, kw, OH, OW) -> (N, C, H, W).

    Each entry of ``col`` is added to the pixel ``im2col`` copied it from, so a pixel
    that lies in several windows (stride < kernel) receives the sum; pixels of the
    padding are dropped. This turns d(loss)/d(col) into d(loss)/d(x): backward of a copy
    is a sum over the copies.
    """
    n, c, kh, kw, oh, ow = col.shape
    ph, pw = padding
    h, w = input_shape[2:]
    x = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=col.dtype)
    for (i, j), (rows, cols) in kernel_positions((kh, kw), stride, (oh, ow)):
        x[:, :, rows, cols] += col[:, :, i, j]
    return x[:, :, ph : ph + h, pw : pw + w]


def kernel_positions(
    kernel: Pair, stride: Pair, out_size: Pair
) -> list[tuple[Pair, tuple[slice, slice]]]:
    """For each position (i, j) of the kernel, row-major: ((i, j), (rows, cols)), the
    slices of the padded image's height and width that position covers in all the
    windows. With (OH, OW) = ``out_size``,

        x_padded[:, :, rows, cols][n, c, oh, ow]
            = x_padded[n, c, oh * stride_h + i, ow * stride_w + j],

    an (N, C, OH, OW) strided view: pixel (i, j) of every window. The book's im2col and
    col2im loop over these slices (``im2col``'s docstring); here ``col2im`` and max
    pooling do, and ``Conv2d.backward`` on its channels-last images (``[:, rows, cols]``)."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_size
    return [
        ((i, j), (slice(i, i + sh * oh, sh), slice(j, j + sw * ow, sw)))
        for i in range(kh)
        for j in range(kw)
    ]


def _check_input(op: str, x: np.ndarray, kernel: Pair, padding: Pair) -> None:
    """A 4-D input whose padded height and width hold at least one kernel window."""
    if x.ndim != 4:
        raise ValueError(
            f"{op}: expected a 4-D input (N, C, H, W), got shape {x.shape}; for a single "
            f"image add the batch axis with x.reshape(1, *x.shape)"
        )
    padded = (x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(
            f"{op}: kernel size {kernel} is larger than the padded input {padded} (input "
            f"{x.shape}, padding {padding}); use a smaller kernel, more padding or larger images"
        )


def pool_arguments(
    op: str, kernel_size: IntPair, stride: IntPair | None, padding: IntPair
) -> tuple[Pair, Pair, Pair]:
    """A pool's (kernel, stride, padding) as pairs, checked (ValueError naming ``op``).

    ``stride`` None means ``kernel_size``. PyTorch's rule: padding is at most half the
    kernel, so that every window holds at least one real pixel.
    """
    kernel = as_pair(op, "kernel_size", kernel_size, 1)
    steps = as_pair(op, "stride", kernel_size if stride is None else stride, 1)
    pads = as_pair(op, "padding", padding, 0)
    if pads[0] > kernel[0] // 2 or pads[1] > kernel[1] // 2:
        raise ValueError(
            f"{op}: padding {pads} is more than half the kernel size {kernel}; use "
            f"padding <= kernel_size // 2"
        )
    return kernel, steps, pads


# ------------------------------------------------------------------------- convolution


COL2IM_BLOCK = 32_768  # most numbers in a block of Conv2d's dL/drows: 128 kB in float32


class Conv2d(Function):
    """The 2-D convolution (cross-correlation, as in every deep-learning library) as one op.

    x: (N, C, H, W), weight: (F, C, kh, kw), bias: (F,) or None -> y: (N, F, OH, OW) with

        y[n, f, oh, ow] = bias[f] + sum over c, i, j of
                          weight[f, c, i, j] * x_padded[n, c, oh * sh + i, ow * sw + j].

    Forward, as the book's ``Convolution`` (section 7.4.3): im2col turns the images into
    ``rows``, one row per output pixel (N * OH * OW of them) holding the kh * kw * C input
    values of its window; with W the weight as (F, kh * kw * C), one row per output
    channel, a single matrix product gives every output, y = rows @ W^T + bias, as
    (N * OH * OW, F) (NCHW after moving F before OH and OW). Backward is the affine
    layer's (section 5.6.2), with g = dL/dy laid out as (F, N * OH * OW), one row per
    output channel (one transpose of the NCHW gradient, and none in the products):
    dL/dW = g @ rows, dL/dbias = g summed along its rows, and dL/drows = g^T @ W, which
    col2im adds back onto the pixels the rows were copied from.

    Unlike the book, the windows are read from the images with the channels last
    (N, H, W, C), so a row lists its window pixel by pixel, the C channels of each pixel
    side by side (the order (kh, kw, C); W's columns are put in the same order). Each copy
    of im2col and each addition of col2im then moves runs of C numbers, not single ones.
    And dL/drows is never built whole: col2im takes it in blocks, one kernel position
    (i, j) and a few images at a time, g^T @ W[:, i, j] on those images' columns of g
    (the gradients of the C values that position read in their windows), each block at
    most ``COL2IM_BLOCK`` numbers (or one image's, if that is more), so that it is added
    onto its pixels while it is still in the cache. The channels last, the kernel
    positions one at a time and the few images at a time: each measured faster here
    (benchmarks/README.md).
    """

    reads_output = False
    once_differentiable = True  # col2im adds in place

    def __init__(self, stride: IntPair = 1, padding: IntPair = 0):
        self.stride = as_pair("conv2d", "stride", stride, 1)
        self.padding = as_pair("conv2d", "padding", padding, 0)

    def forward(self, x, weight, bias=None):
        _check_conv_shapes(x, weight, bias, self.padding)
        n, c, h, w = x.shape
        f, _, kh, kw = weight.shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        images = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=x.dtype)  # channels last
        images[:, ph : ph + h, pw : pw + w] = x.transpose(0, 2, 3, 1)
        windows = sliding_window_view(images, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
        oh, ow = windows.shape[1:3]  # windows: (N, OH, OW, C, kh, kw), a view
        # im2col: one copy, each window's values in the order (kh, kw, C)
        self.rows = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, kh * kw * c)
        y = self.rows @ weight.transpose(0, 2, 3, 1).reshape(f, kh * kw * c).T
        if bias is not None:
            y += bias  # y is a fresh array: add in place
        return np.ascontiguousarray(y.reshape(n, oh, ow, f).transpose(0, 3, 1, 2))

    def backward(self, grad):
        x, weight = self.saved_inputs()[:2]
        need_x, need_w = self.needs_input_grad[:2]
        n, f, oh, ow = grad.shape
        _, c, kh, kw = weight.shape
        g = np.ascontiguousarray(grad.swapaxes(0, 1)).reshape(f, n * oh * ow)
        grad_w = None
        if need_w:
            grad_w = (g @ self.rows).reshape(f, kh, kw, c).transpose(0, 3, 1, 2)
        grad_x = None
        if need_x:  # col2im of dL/drows = g^T @ W, by kernel position and a few images
            ph, pw = self.padding
            positions = kernel_positions((kh, kw), self.stride, (oh, ow))
            h, w = x.shape[2:]
            weight_ij = np.ascontiguousarray(weight.transpose(2, 3, 0, 1))  # (kh, kw, F, C)
            dtype = np.result_type(grad, weight)
            images = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=dtype)
            step = max(1, COL2IM_BLOCK // max(1, oh * ow * c))  # images per block
            for start in range(0, n, step):
                g_part = g[:, start * oh * ow : (start + step) * oh * ow].T
                images_part = images[start : start + step]
                for (i, j), (rows, cols) in positions:
                    block = (g_part @ weight_ij[i, j]).reshape(len(images_part), oh, ow, c)
                    images_part[:, rows, cols] += block
            grad_x = images[:, ph : ph + h, pw : pw + w].transpose(0, 3, 1, 2)
        if len(self.inputs) == 2:
            return grad_x, grad_w
        return grad_x, grad_w, g.sum(axis=1)


def _check_conv_shapes(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, padding: Pair
) -> None:
    if weight.ndim != 4:
        raise ValueError(
            f"conv2d: expected a 4-D weight (out_channels, in_channels, kh, kw), got shape "
            f"{weight.shape}"
        )
    _check_input("conv2d", x, weight.shape[2:], padding)
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"conv2d: the input of shape {x.shape} has {x.shape[1]} channels but the weight "
            f"of shape {weight.shape} expects {weight.shape[1]} (weight is (out_channels, "
            f"in_channels, kh, kw)); make in_channels equal to the input's axis 1"
        )
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(
            f"conv2d: a bias of shape {bias.shape} does not fit a weight of shape "
            f"{weight.shape}; it must have shape ({weight.shape[0]},), one per output channel"
        )


def conv2d(
    x: TensorLike,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
) -> Tensor:
    """The 2-D convolution of a batch of images, as ``torch.nn.functional.conv2d``.

    x: (N, C, H, W), weight: (out_channels, C, kh, kw), bias: (out_channels,) or None
    -> (N, out_channels, OH, OW), OH = (H + 2 * padding - kh) // stride + 1 (OW likewise).
    ``stride`` and ``padding`` (zeros) are an int or a pair (height, width). PyTorch's
    ``dilation``, ``groups`` and string paddings ('same', 'valid') are not supported.
    """
    op = Conv2d(stride, padding)
    x = as_tensor(x)
    return op(x, weight) if bias is None else op(x, weight, bias)


# ----------------------------------------------------------------------------- pooling


class MaxPool2d(Function):
    """The maximum of each (kh, kw) window, channel by channel, as one op.

    x: (N, C, H, W) -> (N, C, OH, OW). Padding is -inf (PyTorch's), so it is a window's
    maximum only if all its real pixels are -inf too, and it never takes a gradient.
    Backward (the book's section 7.5, like ReLU's): the gradient of each output goes to
    the input pixel that was its window's maximum; the others get 0. When several pixels
    of a window tie for the maximum, the **first** in row-major order (smallest row, then
    smallest column) gets it all, as in PyTorch. A window holding NaN outputs NaN, and
    none of its pixels gets a gradient.

    The book's ``Pooling`` copies the windows with im2col, then takes the maximum of each
    column. Here the two are fused: the loop of im2col over the kernel's positions
    (``kernel_positions``) takes the running maximum of each slice as it comes, kh * kw
    numpy calls on arrays of the output's size; backward is the loop of col2im, each
    slice's share (the gradient where that pixel is its window's first maximum) added
    straight into the input's gradient, a few calls per position. No window is ever
    copied: measured 1.6-1.8x as fast as im2col's copy then a reduction on the MNIST
    CNN's pools (benchmarks/README.md).
    """

    name = "max_pool2d"  # as F.max_pool2d, in messages and graph drawings
    once_differentiable = True

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0):
        self.kernel, self.stride, self.padding = pool_arguments(
            "max_pool2d", kernel_size, stride, padding
        )

    def padded(self, x: np.ndarray, fill: Any) -> np.ndarray:
        """x with ``padding`` rows and columns of ``fill`` on each side; x itself when
        there is no padding."""
        ph, pw = self.padding
        if not (ph or pw):
            return x
        return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)

    def forward(self, x):
        _check_input("max_pool2d", x, self.kernel, self.padding)
        x = self.padded(x, _least_value(x.dtype))
        out_size = output_size(x.shape[2:], self.kernel, self.stride, (0, 0))
        (_, (rows, cols)), *others = kernel_positions(self.kernel, self.stride, out_size)
        y = x[:, :, rows, cols].copy()
        for _, (rows, cols) in others:
            np.maximum(y, x[:, :, rows, cols], out=y)  # NaN wins: np.maximum propagates it
        return y

    def backward(self, grad):
        x, y = self.saved_inputs()[0], self.saved_output()
        h, w = x.shape[2:]
        # padded with NaN, which equals no maximum: the gradient goes to a real pixel
        x = self.padded(x, np.nan if x.dtype.kind == "f" else _least_value(x.dtype))
        grad_x = np.zeros(x.shape, dtype=grad.dtype)
        taken = np.zeros(y.shape, dtype=bool)  # windows whose maximum was found already
        first_max = np.empty(y.shape, dtype=bool)
        for _, (rows, cols) in kernel_positions(self.kernel, self.stride, y.shape[2:]):
            np.equal(x[:, :, rows, cols], y, out=first_max)
            np.logical_and(first_max, ~taken, out=first_max)
            grad_x[:, :, rows, cols] += grad * first_max  # col2im: this position's share
            taken |= first_max
        ph, pw = self.padding
        return grad_x[:, :, ph : ph + h, pw : pw + w]


def _least_value(dtype: np.dtype) -> Any:
    """The least value of ``dtype``: -inf for floats, the least integer, False."""
    if dtype.kind == "f":
        return -np.inf
    return False if dtype.kind == "b" else np.iinfo(dtype).min


class AvgPool2d(Function):
    """The mean of each (kh, kw) window, channel by channel, as one op.

    x: (N, C, H, W) -> (N, C, OH, OW). Padding is 0 and counts in the mean (PyTorch's
    default ``count_include_pad=True``): each output is its window's sum / (kh * kw).
    Backward: each output's gradient, divided by kh * kw, goes to every pixel of its
    window (col2im adds up the shares of pixels in several windows).
    """

    name = "avg_pool2d"  # as F.avg_pool2d, in messages and graph drawings
    reads_inputs = reads_output = False
    once_differentiable = True

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0):
        self.kernel, self.stride, self.padding = pool_arguments(
            "avg_pool2d", kernel_size, stride, padding
        )

    def forward(self, x):
        _check_input("avg_pool2d", x, self.kernel, self.padding)
        col = im2col(x, self.kernel, self.stride, self.padding)
        self.col_shape, self.input_shape = col.shape, x.shape
        return col.sum(axis=(2, 3)) / (self.kernel[0] * self.kernel[1])

    def backward(self, grad):
        share = grad / (self.kernel[0] * self.kernel[1])  # (N, C, OH, OW)
        grad_col = np.broadcast_to(share[:, :, None, None], self.col_shape)  # a view, no copy
        return col2im(grad_col, self.input_shape, self.stride, self.padding)


def max_pool2d(
    x: TensorLike, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> Tensor:
    """Max pooling, as ``torch.nn.functional.max_pool2d``: (N, C, H, W) -> (N, C, OH, OW).

    ``stride`` defaults to ``kernel_size`` (windows side by side); ``padding`` (-inf) is at
    most ``kernel_size // 2``. Ties: the first maximum of a window (row-major) gets the
    gradient. PyTorch's ``dilation``, ``ceil_mode`` and ``return_indices`` are not
    supported.
    """
    return MaxPool2d(kernel_size, stride, padding)(as_tensor(x))


def avg_pool2d(
    x: TensorLike, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> Tensor:
    """Average pooling, as ``torch.nn.functional.avg_pool2d`` with its defaults
    (``count_include_pad=True``, ``ceil_mode=False``): (N, C, H, W) -> (N, C, OH, OW).

    ``stride`` defaults to ``kernel_size``; ``padding`` (zeros, counted in the mean) is at
    most ``kernel_size // 2``.
    """
    return AvgPool2d(kernel_size, stride, padding)(as_tensor(x))
