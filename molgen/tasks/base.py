"""The shared diffusion LightningModule: training step, EMA weights and the sampling loop.

A task subclass says how to read its batches (:meth:`DiffusionTask.unpack`) and what to check on
a few samples at validation time (:meth:`DiffusionTask.validation_samples`). The network,
the noise process and the sampler are built elsewhere (Hydra) and passed in.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any, Callable

import lightning as L
import torch
from torch import Tensor, nn

from molgen.diffusion.com import remove_com
from molgen.diffusion.processes import VPProcess
from molgen.diffusion.samplers import Sampler
from molgen.nn.base import Context

__all__ = ["DiffusionTask", "Graphs", "Samples"]

log = logging.getLogger(__name__)


@dataclass
class Graphs:
    """What a task hands the diffusion core: atoms to denoise plus optional fixed context."""

    pos: Tensor            # [N, 3] clean coordinates (Angstrom), task frame
    types: Tensor          # [N] atom-type index
    batch: Tensor          # [N] graph index, sorted
    n_graphs: int
    context: tuple[Tensor, Tensor, Tensor] | None = None  # (pos, feat, batch) of fixed atoms


@dataclass
class Samples:
    """Generated graphs: coordinates, types, graph index, and which graphs stayed finite."""

    pos: Tensor
    types: Tensor
    batch: Tensor
    finite: Tensor  # [B] bool: False where the trajectory produced NaN/Inf

    def split(self) -> list[tuple[Tensor, Tensor]]:
        counts = torch.bincount(self.batch, minlength=self.finite.shape[0]).tolist()
        return list(zip(self.pos.split(counts), self.types.split(counts)))


class DiffusionTask(L.LightningModule):
    """Base LightningModule owning the diffusion training step and sampling loop.

    Args:
        net: a denoiser following :mod:`molgen.nn.base`.
        process: the noise process.
        sampler: default sampler for validation and generation.
        optimizer: ``functools.partial`` of a torch optimizer (Hydra ``_partial_: true``).
        lr_scheduler: optional partial of a torch LR scheduler (stepped per optimizer step).
        ema_decay: decay of the exponential moving average of the weights (0 disables EMA).
        sample_steps: default number of sampling steps.
        val_samples: graphs sampled at the end of each validation epoch (0: none).
        val_sample_steps: sampling steps used for them.
    """

    def __init__(
        self,
        net: nn.Module,
        process: VPProcess,
        sampler: Sampler,
        optimizer: Callable[..., torch.optim.Optimizer],
        lr_scheduler: Callable[..., Any] | None = None,
        ema_decay: float = 0.999,
        sample_steps: int = 100,
        val_samples: int = 0,
        val_sample_steps: int = 50,
    ) -> None:
        super().__init__()
        self.net, self.process, self.sampler = net, process, sampler
        self.optimizer_factory, self.lr_scheduler_factory = optimizer, lr_scheduler
        self.ema_decay = float(ema_decay)
        self.ema = copy.deepcopy(net).requires_grad_(False) if self.ema_decay > 0 else None
        self.sample_steps, self.val_samples, self.val_sample_steps = sample_steps, val_samples, val_sample_steps
        self.export_config: dict | None = None  # set by the train entry point, stored in checkpoints

    # ---- what subclasses provide ------------------------------------------------------------
    def unpack(self, batch: Any) -> Graphs:  # pragma: no cover - abstract
        raise NotImplementedError

    def validation_samples(self, batch: Any, generator: torch.Generator) -> dict[str, float]:
        """Sample a few graphs like those in ``batch`` and return metrics to log (default: none)."""
        return {}

    @property
    def n_types(self) -> int:
        return self.net.n_types

    # ---- training -------------------------------------------------------------------------
    def diffusion_loss(self, g: Graphs, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Noise a batch at random times and score the network's eps prediction."""
        p = self.process
        dev = g.pos.device
        t = torch.rand(g.n_graphs, generator=generator, device=dev) if generator is None else \
            torch.rand(g.n_graphs, generator=generator).to(dev)
        h0 = p.encode_types(g.types, self.n_types)
        eps_x = p.pos_noise(g.pos, g.batch, generator)
        eps_h = p.type_noise(h0, generator)
        tn = t[g.batch]
        x_t, h_t = p.add_noise(g.pos, eps_x, tn), p.add_noise(h0, eps_h, tn)
        ctx = self.net.encode_context(*g.context) if g.context is not None else None
        pred_x, pred_h = self.net(x_t, h_t, t, g.batch, ctx)
        if p.zero_com:
            pred_x = remove_com(pred_x, g.batch)
        loss_x = (pred_x - eps_x).square().sum(-1).mean()
        loss_h = (pred_h - eps_h).square().sum(-1).mean()
        return {"loss": p.pos_weight * loss_x + p.type_weight * loss_h, "loss_pos": loss_x, "loss_types": loss_h}

    def training_step(self, batch: Any, batch_idx: int) -> Tensor | None:
        g = self.unpack(batch)
        losses = self.diffusion_loss(g)
        if not torch.isfinite(losses["loss"]):
            log.warning("skipping batch %d at step %d: non-finite loss %s", batch_idx, self.global_step,
                        losses["loss"].item())
            self.log("train/skipped_batches", 1.0, reduce_fx="sum", batch_size=g.n_graphs)
            return None
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, prog_bar=True, batch_size=g.n_graphs)
        return losses["loss"]

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.ema is None:
            return
        with torch.no_grad():
            ema_p = list(self.ema.parameters())
            torch._foreach_lerp_(ema_p, list(self.net.parameters()), 1.0 - self.ema_decay)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        g = self.unpack(batch)
        gen = torch.Generator().manual_seed(batch_idx)
        losses = self.diffusion_loss(g, generator=gen)
        self.log_dict({f"val/{k}": v for k, v in losses.items()}, batch_size=g.n_graphs, sync_dist=True)
        if batch_idx == 0 and self.val_samples > 0:
            metrics = self.validation_samples(batch, torch.Generator().manual_seed(0))
            self.log_dict({f"val/{k}": float(v) for k, v in metrics.items()}, batch_size=1, sync_dist=True)

    def configure_optimizers(self) -> Any:
        opt = self.optimizer_factory(params=self.net.parameters())
        if self.lr_scheduler_factory is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": self.lr_scheduler_factory(optimizer=opt),
                                                   "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["molgen"] = {"config": self.export_config, **self.checkpoint_extras()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.load_checkpoint_extras(checkpoint.get("molgen", {}))

    def checkpoint_extras(self) -> dict[str, Any]:
        """Plain data (no objects) a task keeps beside its weights, e.g. a size model."""
        return {}

    def load_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        """Restore what :meth:`checkpoint_extras` saved."""

    # ---- sampling ---------------------------------------------------------------------------
    @property
    def sampling_net(self) -> nn.Module:
        """The EMA weights when kept, else the live ones."""
        return self.ema if self.ema is not None else self.net

    @torch.inference_mode()
    def denoise(
        self,
        n_atoms: Tensor,
        context: Context | None = None,
        *,
        steps: int | None = None,
        sampler: Sampler | None = None,
        generator: torch.Generator | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Samples:
        """Run the reverse process for graphs of ``n_atoms`` atoms each, from prior to t=0.

        ``context`` is encoded once by the caller (``net.encode_context``) and shared by every
        step. ``generator`` (CPU) makes the run reproducible. ``progress(k)`` is called after
        each step.
        """
        net, p = self.sampling_net, self.process
        sampler = sampler or self.sampler
        steps = steps or self.sample_steps
        dev = self.device
        n_graphs = int(n_atoms.shape[0])
        batch = torch.repeat_interleave(torch.arange(n_graphs), n_atoms.cpu()).to(dev)
        n = int(batch.shape[0])
        x = p.pos_noise(torch.zeros(n, 3), batch.cpu(), generator).to(dev)
        h = p.type_noise(torch.zeros(n, self.n_types), generator).to(dev)
        ts = sampler.timesteps(steps)
        for k, (t, s) in enumerate(zip(ts[:-1], ts[1:])):
            tt = torch.full((n_graphs,), float(t), device=dev)
            eps_x, eps_h = net(x, h, tt, batch, context)
            if p.zero_com:
                eps_x = remove_com(eps_x, batch)
            nx = nh = None
            if sampler.needs_noise:
                nx = p.pos_noise(torch.zeros(n, 3), batch.cpu(), generator).to(dev)
                nh = p.type_noise(torch.zeros(n, self.n_types), generator).to(dev)
            x = sampler.step(p, x, eps_x, t.to(dev), s.to(dev), nx)
            h = sampler.step(p, h, eps_h, t.to(dev), s.to(dev), nh)
            if progress is not None:
                progress(k + 1)
        bad = ~(torch.isfinite(x).all(-1) & torch.isfinite(h).all(-1))
        finite = torch.bincount(batch[bad], minlength=n_graphs) == 0
        x = torch.where(finite[batch][:, None], x, torch.zeros_like(x))
        return Samples(x, p.decode_types(torch.nan_to_num(h)), batch, finite)
