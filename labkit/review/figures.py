"""The code of the review's three figures, as the paper prints it, and a check that a cell
shows that code and nothing else.

The text comes from the paper's PDF. Two things the extraction lost are put back: the
manuscript's line numbers are gone, and the indentation of the function bodies (Figure 1's
first page, all of Figure 2) is restored as Python needs it. Nothing else is changed, so
the figures keep their slips: no imports in Figures 1 and 2, no ``return`` in Figure 2,
``Variable`` and a mis-shaped gradient in Figure 3.
"""

from __future__ import annotations

import io
import tokenize

FIGURE_1 = """\
def lenet(lmdb, batch_size):
    n = caffe.NetSpec()
    n.data, n.label = L.Data(batch_size=batch_size, backend=P.Data.LMDB,
        source=lmdb, transform_param = dict(scale=1./255), ntop=2)
    n.conv1 = L.Convolution(n.data, kernel_size=5, num_output=20,
        weight_filler=dict(type='xavier'))
    n.pool1 = L.Pooling(n.conv1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.conv2 = L.Convolution(n.pool1, kernel_size=5, num_output=50,
        weight_filler=dict(type='xavier'))
    n.pool2 = L.Pooling(n.conv2, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.fc1 = L.InnerProduct(n.pool2, num_output=500,
        weight_filler=dict(type='xavier'))
    n.relu1 = L.ReLU(n.fc1, in_place=True)
    n.score = L.InnerProduct(n.relu1, num_output=10,
        weight_filler=dict(type='xavier'))
    n.loss = L.SoftmaxWithLoss(n.score, n.label)

    return n.to_proto()
"""

FIGURE_2 = """\
def lenet():
    model = Sequential()
    model.add (Convolution2D(6,5,5,border_mode='valid',input_shape=(1,28,28)))
    model.add (MaxPooling2D(pool_size=(2,2)))
    model.add (Activation("sigmoid"))

    model.add (Convolution2D(16,5,5,border_mode='valid'))
    model.add (MaxPooling2D(pool_size=(2,2)))
    model.add (Activation("sigmoid"))
    model.add(Dropout(0.5))

    model.add (Convolution2D(120,1,1,border_mode='valid'))

    model.add(Flatten())
    model.add(Dense(84))
    model.add(Activation("sigmoid"))
    model.add(Dense(10))
    model.add(Activation("softmax"))
"""

FIGURE_3 = """\
from torch.autograd import Variable

x = Variable(torch.randn(1, 10))
prev_h = Variable(torch.randn(1, 20))
W_h = Variable(torch.randn(20, 20))
W_x = Variable(torch.randn(20, 10))

i2h = torch.mm(W_x, x.t())
h2h = torch.mm(W_h, prev_h.t())
next_h = i2h + h2h
next_h = next_h.tanh()

next_h.backward(torch.ones(1, 20))
"""

FIGURES = {1: FIGURE_1, 2: FIGURE_2, 3: FIGURE_3}

CAPTIONS = {
    1: "Example code implementing LeNet CNN written in Caffe",
    2: "Example code implementing LeNet CNN written in Keras",
    3: "Example of PyTorch Code and block diagram equivalent",
}

#: The tag a notebook cell carries when it shows figure N as the paper prints it.
TAG = "review-figure-{}"

_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
         tokenize.ENDMARKER, tokenize.ENCODING}


def _kept_lines(source: str) -> str:
    """``source`` without its import statements and without the lines a comment marks as
    added (``# added ...``)."""
    kept, in_import, depth = [], False, 0
    for line in source.splitlines():
        stripped = line.strip()
        is_import = stripped.startswith("import ") or (
            stripped.startswith("from ") and " import " in stripped)
        if in_import or is_import:
            depth += line.count("(") - line.count(")")
            in_import = depth > 0 or stripped.endswith("\\")
            continue
        if "#" in line and line.split("#", 1)[1].strip().lower().startswith("added"):
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def tokens(source: str) -> list[str]:
    """The code's tokens, layout and comments aside, imports and ``# added`` lines dropped:
    two sources with the same tokens are the same code however they are wrapped."""
    text = _kept_lines(source)
    return [tok.string for tok in tokenize.generate_tokens(io.StringIO(text).readline)
            if tok.type not in _SKIP]


def differences(n: int, source: str) -> list[str]:
    """What separates ``source`` from figure ``n`` as printed (empty when it is the figure's
    code, wrapped and commented as you like, with only its imports changed and lines marked
    ``# added``). Each entry names the first token that differs."""
    if n not in FIGURES:
        raise ValueError(f"the review has Figures {sorted(FIGURES)}, not Figure {n}")
    want, got = tokens(FIGURES[n]), tokens(source)
    for i, (w, g) in enumerate(zip(want, got)):
        if w != g:
            context = " ".join(want[max(0, i - 6):i])
            return [f"token {i}: the figure has {w!r} where this has {g!r} (after: {context})"]
    if len(want) != len(got):
        extra = got[len(want):] if len(got) > len(want) else want[len(got):]
        who = "this cell" if len(got) > len(want) else "the figure"
        return [f"{who} goes on with {' '.join(extra[:12])!r}"]
    return []
