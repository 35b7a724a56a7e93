"""The Playground's network trained by PyTorch (float64), with ``torch.optim.SGD``.

The model is an ``nn.Sequential`` of ``nn.Linear`` layers and activations; the loss is the
summed squared error divided by the batch's count, so ``SGD(lr)`` moves the weights by
``lr / count * sum`` as the original does. L2 is SGD's ``weight_decay`` on the weights
only (it adds ``reg_rate * w_old`` to the gradient: the original's L2 step). L1 has no
optimizer switch with the original's "stop at zero" rule, so it is done after the step.
"""
from __future__ import annotations

import torch
from torch import nn

from . import Engine

_ACT = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


class TorchEngine(Engine):
    name = "torch"

    def __init__(self, net, regularization="none", regularization_rate=0.0):
        super().__init__(net, regularization, regularization_rate)
        shape, layers = net.shape, []
        for i, (n_in, n_out) in enumerate(zip(shape[:-1], shape[1:])):
            last = i == len(shape) - 2
            layers += [nn.Linear(n_in, n_out, dtype=torch.float64),
                       _ACT[net.output_activation if last else net.activation]()]
        self.model = nn.Sequential(*layers)
        self.linears = [m for m in self.model if isinstance(m, nn.Linear)]
        decay = self.regularization_rate if regularization == "L2" else 0.0
        self.optimizer = torch.optim.SGD([
            {"params": [m.weight for m in self.linears], "weight_decay": decay},
            {"params": [m.bias for m in self.linears], "weight_decay": 0.0},
        ], lr=0.03)
        self.push()

    def push(self):
        with torch.no_grad():
            for m, W, b in zip(self.linears, self.net.weights, self.net.biases):
                m.weight.copy_(torch.from_numpy(W))
                m.bias.copy_(torch.from_numpy(b))
        self.dead = [torch.from_numpy(d.copy()) for d in self.net.dead]

    def pull(self):
        for m, W, b, d, dead in zip(self.linears, self.net.weights, self.net.biases,
                                    self.net.dead, self.dead):
            W[...] = m.weight.detach().numpy()
            b[...] = m.bias.detach().numpy()
            d[...] = dead.numpy()

    def _step(self, F, y, learning_rate):
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        self.optimizer.zero_grad()
        out = self.model(torch.from_numpy(F))[:, 0]
        loss = 0.5 * ((out - torch.from_numpy(y)) ** 2).sum() / len(y)
        loss.backward()
        old = [m.weight.detach().clone() for m in self.linears]
        for m, dead in zip(self.linears, self.dead):
            m.weight.grad[dead] = 0.0
        self.optimizer.step()
        if self.regularization == "L1":
            self._l1(old, learning_rate)

    @torch.no_grad()
    def _l1(self, old, learning_rate):
        for m, w_old, dead in zip(self.linears, old, self.dead):
            moved = m.weight
            new = moved - (learning_rate * self.regularization_rate) * torch.sign(w_old)
            crossed = ~dead & (moved * new < 0)
            dead |= crossed
            new[dead] = 0.0
            moved.copy_(new)
