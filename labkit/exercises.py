"""Self-checks for the chapters' exercises: call ``check`` with your answer.

    >>> from labkit.exercises import check
    >>> check("10.4", None)              # "10.4: not answered yet ..."
    >>> check("10.4", my_lr_lambda)      # right, or what is wrong and a hint

A check says *right*, or what is wrong with a hint; it never prints the answer. Where the
answer is a function, the check runs it on real data (the probe batch of MNIST digits, the
shared LeNet weights) or with the real toolkit (PyTorch's ``LambdaLR``, the Caffe-style
solver's learning-rate rule), so a function that only happens to return the right number
for one input does not pass. Each chapter keeps its solutions in a collapsed
``<details>`` cell below the check; ``tests/test_exercises.py`` runs every one of them
through its check, and a wrong answer for each that must fail.

Only exercises whose answer is a number, a shape or a function are here; the open ones
(timings, reading a graph, a design choice) have no check.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Verdict:
    """What ``check`` says: ``ok`` is True only for a right answer; shown as one line of text."""

    key: str
    status: str          # "right", "wrong" or "unanswered"
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "right"

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"

    __repr__ = __str__


@dataclass(frozen=True)
class Exercise:
    key: str                          # "chapter.number", as the chapter numbers its exercises
    asks: str                         # the form of the answer, said when it is missing or malformed
    judge: Callable[[object], str | None]   # None when right, else what is wrong, with a hint


EXERCISES: dict[str, Exercise] = {}


def _exercise(*keys: str, asks: str):
    def register(judge):
        for key in keys:
            EXERCISES[key] = Exercise(key, asks, judge)
        return judge
    return register


def check(key: str, answer=None) -> Verdict:
    """Check ``answer`` to exercise ``key`` ('10.4'); None means not answered yet."""
    if key not in EXERCISES:
        raise KeyError(f"no self-check for exercise {key!r}; the checked exercises are "
                       f"{', '.join(sorted(EXERCISES))} (the others are open questions)")
    exercise = EXERCISES[key]
    if answer is None:
        return Verdict(key, "unanswered", f"not answered yet: replace None with {exercise.asks}.")
    try:
        problem = exercise.judge(answer)
    except _Malformed as err:
        problem = f"{err} The answer should be {exercise.asks}."
    except Exception as err:   # the reader's function failed: say how, not a traceback
        problem = f"your answer raised {type(err).__name__}: {err}"
    if problem is None:
        return Verdict(key, "right", "right.")
    return Verdict(key, "wrong", f"not yet: {problem}")


class _Malformed(ValueError):
    """The answer is not of the form the exercise asks for."""


def _callable(answer) -> Callable:
    if not callable(answer):
        raise _Malformed(f"got {type(answer).__name__} {answer!r:.60}, not a function.")
    return answer


def _ints(answer, n: int) -> tuple[int, ...]:
    try:
        values = tuple(answer)
    except TypeError:
        raise _Malformed(f"got {answer!r:.60}, not a tuple of {n}.") from None
    if len(values) != n or not all(isinstance(v, (int, np.integer)) for v in values):
        raise _Malformed(f"got {answer!r:.60}, not a tuple of {n} whole numbers.")
    return tuple(int(v) for v in values)


def _pooled(size: int, kernel: int, stride: int, round_up: bool) -> int:
    """A pooled map's side: Caffe rounds ``(size - kernel) / stride`` up, most toolkits down."""
    steps = (size - kernel) / stride
    return (math.ceil(steps) if round_up else math.floor(steps)) + 1


def _probe_images() -> np.ndarray:
    from labkit import lenet

    return lenet.probe_batch()[0]


# --- chapter 01 --------------------------------------------------------------------------------

@_exercise("01.3", asks="a function channels_last(x) that takes an NCHW batch and returns it as NHWC")
def _channels_last(answer):
    f = _callable(answer)
    x = _probe_images()[:18].reshape(6, 3, 28, 28)          # three real digits as three channels
    for batch in (x, np.ascontiguousarray(x[:, :, :, 4:24])):   # square, then 28 rows x 20 columns
        got = np.asarray(f(batch.copy()))
        want = batch.transpose(0, 2, 3, 1)
        if got.shape == want.shape and np.array_equal(got, want):
            continue
        if got.shape == np.swapaxes(batch, 1, 3).shape and np.array_equal(got, np.swapaxes(batch, 1, 3)):
            return ("that is (N, W, H, C): rows and columns have changed places, the swapaxes mistake. "
                    "Hint: say where each of the four axes goes; H and W keep their order.")
        if got.shape != want.shape:
            return (f"an NCHW batch of shape {batch.shape} came back as {got.shape}. Hint: N stays "
                    "first, C moves to the end, H and W keep their order.")
        return ("the shape is right but the pixels are not where they should be. Hint: a reshape "
                "keeps the memory order and so mixes channels and pixels; a transpose moves axes.")
    return None


# --- chapter 10 --------------------------------------------------------------------------------

@_exercise("10.4", asks="a function lr_lambda(step) returning the factor LambdaLR multiplies base_lr by")
def _lambda_lr(answer):
    import warnings

    import torch

    from labkit import lenet

    f, recipe = _callable(answer), lenet.FULL
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=recipe.base_lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, f)
        for step in range(1001):
            got, want = optimizer.param_groups[0]["lr"], recipe.lr_at(step)
            if not math.isclose(got, want, rel_tol=1e-6):
                if math.isclose(got, recipe.lr_at(step + 1), rel_tol=1e-6) or (
                        step and math.isclose(got, recipe.lr_at(step - 1), rel_tol=1e-6)):
                    return (f"at step {step} the rate is one step off Caffe's. Hint: LambdaLR calls your "
                            "function with the number of scheduler steps taken so far, starting at 0, "
                            "the same count as recipe.lr_at.")
                if math.isclose(got, recipe.base_lr * want, rel_tol=1e-6):
                    return ("the rates are base_lr times too small. Hint: LambdaLR multiplies the "
                            "optimizer's initial lr by your value: return the factor, not the rate.")
                return (f"at step {step} the optimizer's lr is {got:.6g} where Caffe's inv policy differs. "
                        "Hint: compare your formula with Recipe.lr_at in labkit.lenet.")
            optimizer.step()
            scheduler.step()
    return None


@_exercise("10.5", asks="a function grad_by_hand(x) giving d out / d x for out = (3 * (x + 2) ** 2).mean()")
def _grad_by_hand(answer):
    import torch

    f = _callable(answer)
    for shape in ((3, 3), (2, 5)):
        x = torch.linspace(-2.5, 4.0, math.prod(shape), dtype=torch.float64).reshape(shape).requires_grad_()
        (3 * (x + 2) ** 2).mean().backward()
        got = torch.as_tensor(np.asarray(f(x.detach().clone()), dtype=np.float64))
        if got.shape != x.shape:
            return f"for x of shape {tuple(shape)} your gradient has shape {tuple(got.shape)}; it has one entry per x."
        if torch.allclose(got, x.grad, rtol=1e-6, atol=1e-9):
            continue
        if shape != (3, 3) and torch.allclose(got, 6 * (x.detach() + 2) / 9):
            return ("right for a 3x3 x only: write it for x of any shape. Hint: the mean divides by "
                    "the number of elements of x.")
        if torch.allclose(got, 1.5 * (x.detach() + 2)):
            return ("that is the 2x2 example's gradient. Hint: the mean divides by the number of "
                    "elements of x, which is no longer 4.")
        return (f"for x of shape {tuple(shape)} it differs from autograd's. Hint: differentiate one term "
                "3 (x_i + 2)^2 and remember the mean's 1/n.")
    return None


# --- chapters 12 and 13 ------------------------------------------------------------------------

@_exercise("12.2", "13.1", asks="a function flip(w) turning canonical kernels (out, in, rows, columns) "
                                "into the kernels a true convolution needs to give Caffe's result")
def _flip(answer):
    from scipy import signal

    from labkit import lenet

    f, w = _callable(answer), lenet.initial_weights()["conv1.weight"]
    for name in ("conv1.weight", "conv2.weight"):
        shape = lenet.PARAM_SHAPES[name]
        out = np.asarray(f(lenet.initial_weights()[name].copy()))
        if out.shape != shape:
            return f"{name} {shape} came back as {out.shape}: the kernels keep their shape."
    turned = np.asarray(f(w.copy()))
    if np.array_equal(turned, w[::-1, ::-1, ::-1, ::-1]):
        return ("the output and input channels came back reversed too. Hint: only the two "
                "spatial axes are turned.")
    for image in _probe_images()[:4, 0]:
        for o in range(w.shape[0]):
            want = signal.correlate2d(image, w[o, 0], mode="valid")      # Caffe: cross-correlation
            got = signal.convolve2d(image, turned[o, 0], mode="valid")   # Theano's default: convolution
            if not np.allclose(got, want, atol=1e-5):
                if np.array_equal(turned, w.transpose(0, 1, 3, 2)):
                    return ("a transpose mirrors the kernel along its diagonal, not through its centre. "
                            "Hint: a convolution turns the kernel by 180 degrees.")
                return (f"on a digit of the probe batch, filter {o} gives a different feature map. "
                        "Hint: a convolution turns the kernel by 180 degrees before it slides.")
    return None


# --- chapters 14 and 16: pooling that rounds up --------------------------------------------------

@_exercise("14.1", "16.3", asks="a tuple (fc1 inputs when pooling rounds up, fc1 inputs when it rounds "
                                "down) for 30x30 images")
def _padded_fc1(answer):
    up_down = _ints(answer, 2)
    sizes = {}
    for round_up in (True, False):
        side = 30
        for layer in ("conv", "pool", "conv", "pool"):
            side = side - 4 if layer == "conv" else _pooled(side, 2, 2, round_up)
        sizes[round_up] = 50 * side * side
    if up_down == (sizes[True], sizes[False]):
        return None
    if up_down == (sizes[False], sizes[True]):
        return "the two are the wrong way round. Hint: rounding up keeps the last, partial window."
    return ("follow the side through conv1, pool1, conv2, pool2 (a 5x5 kernel takes 4 off; a 2x2 "
            "window with stride 2 halves it, rounding an odd side one way or the other), then "
            "multiply by conv2's 50 channels.")


# --- chapter 14: a channels-last flatten --------------------------------------------------------

def _pool2(params: dict, x: np.ndarray) -> np.ndarray:
    """pool2's output (N, 50, 4, 4) in NumPy: valid cross-correlation, 2x2 max-pooling."""
    from numpy.lib.stride_tricks import sliding_window_view

    h = x.astype(np.float64)
    for layer in ("conv1", "conv2"):
        w, b = params[f"{layer}.weight"], params[f"{layer}.bias"]
        windows = sliding_window_view(h, w.shape[2:], axis=(2, 3))      # N, C, H', W', kh, kw
        h = np.einsum("nchwij,ocij->nohw", windows, w) + b[None, :, None, None]
        n, c, rows, cols = h.shape
        h = h.reshape(n, c, rows // 2, 2, cols // 2, 2).max(axis=(3, 5))
    return h


@_exercise("14.5", asks="a function permute_fc1(w) taking fc1's canonical weight (500, 800) to the "
                        "weight a (row, column, channel) flatten needs")
def _permute_fc1(answer):
    from labkit import lenet

    f, params = _callable(answer), lenet.initial_weights()
    x = _probe_images()
    w1 = params["fc1.weight"]
    out = np.asarray(f(w1.copy()))
    if out.shape != w1.shape:
        return f"fc1's weight {w1.shape} came back as {out.shape}; it keeps its shape: only its columns move."
    flat = _pool2(params, x).transpose(0, 2, 3, 1).reshape(len(x), -1)    # the channels-last flatten
    hidden = np.maximum(flat @ out.T + params["fc1.bias"], 0)
    logits = hidden @ params["fc2.weight"].T + params["fc2.bias"]
    if np.abs(logits - lenet.forward(params, x)).max() < lenet.LOGITS_ATOL:
        return None
    if np.array_equal(out, w1):
        return "the columns are still in (channel, row, column) order."
    return ("the logits on the probe batch differ from the reference. Hint: view the 800 columns as "
            "(50, 4, 4) and move the channel axis last, as the activations were.")


# --- chapter 18 ---------------------------------------------------------------------------------

@_exercise("18.1", asks="the tuple VOL_VIEW['fc1'] needs with pad: 2 on conv1: (outputs, channels, rows, columns)")
def _padded_vol_view(answer):
    got = _ints(answer, 4)
    side = _pooled(_pooled(28 + 2 * 2 - 4, 2, 2, False) - 4, 2, 2, False)
    if got == (500, 50, side, side):
        return None
    if got[:2] != (500, 50):
        return "fc1 still has 500 outputs and reads conv2's 50 channels."
    if got[2:] == (4, 4):
        return "that is the view without padding. Hint: pad 2 keeps conv1's map at 28x28."
    return "follow the side: padded conv1, pool1, conv2, pool2."


# --- chapter 20 ---------------------------------------------------------------------------------

@_exercise("20.1", asks="a tuple ((channels, rows, columns) of pool1 in PyTorch by default, the fc1 "
                        "inputs PyTorch's net then needs) with pool1 at kernel_size=3, stride=2")
def _ceil_pool1(answer):
    try:
        shape, fc1 = answer
        shape = _ints(shape, 3)
    except (TypeError, ValueError):
        raise _Malformed(f"got {answer!r:.60}.") from None
    side = _pooled(24, 3, 2, round_up=False)
    if shape != (20, side, side):
        if shape[1:] == (12, 12):
            return "that is Caffe's shape, which rounds up. PyTorch's max_pool2d rounds down unless ceil_mode=True."
        return ("pool1 keeps conv1's 20 channels; its side comes from conv1's 24 with kernel 3 and stride 2, "
                "and PyTorch rounds the number of steps down.")
    later = _pooled(side - 4, 2, 2, round_up=False)
    if fc1 != 50 * later * later:
        return "pool1 is right; follow the side on through conv2 (minus 4) and pool2 (halved, rounded down)."
    return None


@_exercise("20.3", asks="a function lr(iteration) giving the multistep rate (base_lr 0.01, gamma 0.1, "
                        "stepvalue 5000 and 7500)")
def _multistep(answer):
    from labkit.caffe import caffe_pb2
    from labkit.caffe.solver import learning_rate

    f = _callable(answer)
    param = caffe_pb2.SolverParameter(base_lr=0.01, lr_policy="multistep", gamma=0.1, stepvalue=[5000, 7500])
    for i in range(10001):
        got, want = float(f(i)), learning_rate(param, i)
        if not math.isclose(got, want, rel_tol=1e-5):
            return (f"first different at iteration {i}, where your function gives {got:.6g}. Hint: Caffe "
                    "counts the stepvalues the iteration has reached (iteration >= stepvalue) and "
                    "multiplies base_lr by gamma once for each.")
    return None
