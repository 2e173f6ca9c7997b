"""Discrete flow matching for categorical variables (atom types, charges, bonds).

The path between a prior category and the clean one is a mixture: at time ``t`` (1: prior, 0:
data) a variable is its clean value with probability ``1 - t`` and a draw from the ``prior``
distribution otherwise (Campbell et al. 2024; Gat et al. 2024: SemlaFlow, FlowMol, MiDi's
marginal prior). The network predicts ``p(x_0 | x_t)``; a reverse step from ``t`` to ``s < t``
draws ``x_0`` from that prediction and jumps to it with probability ``(t - s) / t``, which keeps
the path's marginals exactly when the prediction is exact. ``noise_rate`` = ``eta`` > 0 adds
Campbell et al.'s detailed-balance stochasticity: an element at its (drawn) clean value goes back to
the prior at rate ``eta``, and the forward rate rises by ``eta (1 - t) / t`` so the marginals stay
those of the path; early commitments to a wrong category can then be undone.

No network here, no state: pure functions of tensors and ``t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["CategoricalFlow"]


@dataclass(frozen=True)
class CategoricalFlow:
    """Mixture-path categorical flow with a fixed ``prior`` over ``len(prior)`` categories.

    Args:
        prior: probabilities of the prior (e.g. the data's marginals, or uniform); normalised.
        noise_rate: Campbell et al.'s stochasticity ``eta`` at sampling (0: none).
    """

    prior: tuple[float, ...]
    noise_rate: float = 0.0

    def __post_init__(self) -> None:
        p = torch.tensor(self.prior, dtype=torch.float64)
        if p.ndim != 1 or p.numel() < 2 or (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"prior={self.prior}: need >= 2 non-negative probabilities with a positive sum")

    @property
    def n_classes(self) -> int:
        return len(self.prior)

    def prior_probs(self, device: torch.device | str = "cpu") -> Tensor:
        p = torch.tensor(self.prior, dtype=torch.float32, device=device)
        return p / p.sum()

    def sample_prior(self, n: int, generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu") -> Tensor:
        """``n`` draws from the prior (``long [n]``)."""
        p = self.prior_probs()
        if n == 0:
            return torch.zeros(0, dtype=torch.long, device=device)
        return torch.multinomial(p, n, replacement=True, generator=generator).to(device)

    def interpolate(self, x0: Tensor, t: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """A draw of ``x_t``: ``x0`` with probability ``1 - t`` (``t`` per element), else a prior draw."""
        u = torch.rand(x0.shape, generator=generator).to(x0.device)
        noise = self.sample_prior(x0.numel(), generator, x0.device).view_as(x0)
        return torch.where(u < t.to(x0.device), noise, x0)

    def marginal(self, x0: Tensor, t: Tensor) -> Tensor:
        """``p(x_t | x_0)`` as ``[..., n_classes]`` probabilities."""
        onehot = torch.nn.functional.one_hot(x0, self.n_classes).float()
        t = t.to(onehot.dtype)[..., None]
        return (1 - t) * onehot + t * self.prior_probs(x0.device)

    def step(self, x_t: Tensor, probs: Tensor, t: float, s: float,
             generator: torch.Generator | None = None) -> Tensor:
        """One reverse move from ``t`` to ``s < t`` given ``probs`` = predicted ``p(x_0 | x_t)``.

        At ``s = 0`` the most probable category is taken.
        """
        if s <= 0.0:
            return probs.argmax(-1)
        flat = probs.reshape(-1, probs.shape[-1]).float().clamp(min=0)
        x0 = torch.multinomial(flat.cpu() + 1e-12, 1, generator=generator).view(x_t.shape).to(x_t.device)
        u = torch.rand(x_t.shape, generator=generator).to(x_t.device)
        eta = self.noise_rate
        jump = u < (t - s) * (1 + eta * (1 - t)) / t  # forward rate 1/t, raised to balance eta's
        out = torch.where(jump, x0, x_t)
        if eta > 0:  # detailed-balance noise: an element at its clean value goes back to the prior at rate eta
            back = (torch.rand(x_t.shape, generator=generator).to(x_t.device) < eta * (t - s)) & (x_t == x0)
            noise = self.sample_prior(x_t.numel(), generator, x_t.device).view_as(x_t)
            out = torch.where(back, noise, out)
        return out
