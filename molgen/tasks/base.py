"""The shared diffusion LightningModule: training step, EMA weights and the sampling loop.

A task subclass says how to read its batches (:meth:`DiffusionTask.unpack`) and what to check on
a few samples at validation time (:meth:`DiffusionTask.validation_samples`). The network,
the noise process and the sampler are built elsewhere (Hydra) and passed in.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Sequence

import lightning as L
import torch
from torch import Tensor, nn

from molgen.diffusion.com import remove_com, scatter_mean
from molgen.diffusion.guidance import GuidanceScale
from molgen.diffusion.processes import VPProcess
from molgen.diffusion.samplers import Sampler
from molgen.nn.base import Context

__all__ = ["DiffusionTask", "FixedAtoms", "Graphs", "Samples"]

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
class FixedAtoms:
    """Atoms held fixed while sampling: ``mask`` [N] over all nodes, ``pos`` [N, 3] and ``types``
    [N] (values used where ``mask``), in the task's frame."""

    mask: Tensor
    pos: Tensor
    types: Tensor


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
        context_dropout: probability of training a graph without its context (pocket), which
            makes classifier-free guidance possible at sampling (``guidance_scale``).
        x0_com_radius: when sampling in a frame fixed by the context (no zero-CoM projection),
            the centroid of each graph's predicted clean coordinates ``x0_hat`` is kept within
            this distance (A) of the origin (the pocket centroid). Near t = 1, alpha(t) ~ 0.003
            multiplies any error of the predicted noise's mean into a far-away ``x0_hat``; a
            graph pushed out of the context's reach never comes back (the network sees no
            pocket and keeps ``x0_hat`` where it is). ``None``: no bound.
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
        context_dropout: float = 0.0,
        x0_com_radius: float | None = None,
    ) -> None:
        super().__init__()
        self.net, self.process, self.sampler = net, process, sampler
        self.optimizer_factory, self.lr_scheduler_factory = optimizer, lr_scheduler
        self.ema_decay = float(ema_decay)
        self.ema = copy.deepcopy(net).requires_grad_(False) if self.ema_decay > 0 else None
        self.sample_steps, self.val_samples, self.val_sample_steps = sample_steps, val_samples, val_sample_steps
        self.context_dropout = float(context_dropout)
        self.x0_com_radius = None if x0_com_radius is None else float(x0_com_radius)
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
        ctx = None if g.context is None else self.encode_training_context(g.context, g.n_graphs)
        pred_x, pred_h = self.net(x_t, h_t, t, g.batch, ctx)
        if p.zero_com:
            pred_x = remove_com(pred_x, g.batch)
        loss_x = (pred_x - p.target(g.pos, eps_x, tn)).square().sum(-1).mean()
        loss_h = (pred_h - p.target(h0, eps_h, tn)).square().sum(-1).mean()
        return {"loss": p.pos_weight * loss_x + p.type_weight * loss_h, "loss_pos": loss_x, "loss_types": loss_h}

    def encode_training_context(self, context: tuple[Tensor, Tensor, Tensor], n_graphs: int) -> Context:
        """Encode a batch's context ``(pos, feat, batch)``; in training each graph loses its context
        with probability ``context_dropout`` (classifier-free guidance training)."""
        c_pos, c_feat, c_batch = context
        if self.training and self.context_dropout > 0:
            keep = torch.rand(n_graphs, device=c_pos.device) >= self.context_dropout
            sel = keep[c_batch]
            c_pos, c_feat, c_batch = c_pos[sel], c_feat[sel], c_batch[sel]
        return self.net.encode_context(c_pos, c_feat, c_batch)

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

    def _predict(self, net: nn.Module, x: Tensor, h: Tensor, t: Tensor, batch: Tensor, n_graphs: int,
                 context: Context | None, guidance_scale: float | GuidanceScale) -> tuple[Tensor, Tensor]:
        """Network output at time ``t``; with guidance, ``u + w (c - u)`` of the (un)conditional ones
        (``w``: the positions weight for coordinates, the chemistry weight for atom features)."""
        tt = torch.full((n_graphs,), float(t), device=x.device)
        out_x, out_h = net(x, h, tt, batch, context)
        w = GuidanceScale.parse(guidance_scale)
        if context is not None and not w.conditional:
            un_x, un_h = net(x, h, tt, batch, None)
            out_x = w.mix(un_x, out_x, w.positions)
            out_h = w.mix(un_h, out_h, w.chemistry)
        if self.process.zero_com:
            out_x = remove_com(out_x, batch)
        elif self.x0_com_radius is not None:
            out_x = self._bound_x0_centroid(x, out_x, t, batch, n_graphs)
        return out_x, out_h

    def _bound_x0_centroid(self, x: Tensor, out_x: Tensor, t: Tensor, batch: Tensor, n_graphs: int) -> Tensor:
        """``out_x`` whose ``x0_hat`` has its per-graph centroid moved inside ``x0_com_radius``."""
        t_node = torch.full((x.shape[0],), float(t), device=x.device, dtype=x.dtype)
        x0, _ = self.process.split(x, out_x, t_node)
        com = scatter_mean(x0, batch, n_graphs)
        norm = com.norm(dim=-1, keepdim=True)
        scale = (self.x0_com_radius / norm.clamp(min=1e-12)).clamp(max=1.0)
        if bool((scale >= 1.0).all()):
            return out_x
        x0 = x0 + ((scale - 1.0) * com)[batch]
        return self.process.output_for(x, x0, t_node)

    def _seeded_prior(self, n_atoms: Tensor, seeds: Sequence[int], dev: torch.device) -> tuple[Tensor, Tensor]:
        """Prior samples drawn graph by graph from per-graph seeds (once per run, not per step)."""
        if len(seeds) != len(n_atoms):
            raise ValueError(f"{len(seeds)} seeds for {len(n_atoms)} graphs")
        xs, hs = [], []
        for n, seed in zip(n_atoms.tolist(), seeds):
            g = torch.Generator().manual_seed(int(seed))
            xs.append(self.process.pos_noise(torch.zeros(n, 3), torch.zeros(n, dtype=torch.long), g))
            hs.append(self.process.type_noise(torch.zeros(n, self.n_types), g))
        return torch.cat(xs).to(dev), torch.cat(hs).to(dev)

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
        fixed: FixedAtoms | None = None,
        resample: int = 1,
        guidance_scale: float | GuidanceScale = 1.0,
        allowed_types: Sequence[int] | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Samples:
        """Run the reverse process for graphs of ``n_atoms`` atoms each, from prior to t=0.

        Args:
            context: encoded once by the caller (``net.encode_context``), shared by every step.
            generator: CPU generator; makes the run reproducible.
            progress: called with the step number after each step.
            fixed: atoms kept at given coordinates and types (inpainting by replacement: after
                every step they are set to the forward-noised fragment at the new time, exactly
                the fragment at t=0).
            resample: RePaint resampling: each step is repeated this many times, jumping back
                with fresh forward noise in between, so the free atoms harmonise with the fixed.
            guidance_scale: classifier-free guidance weight of the context (1: conditional
                model, 0: unconditional model), or its positions and chemistry weights
                (:class:`~molgen.diffusion.guidance.GuidanceScale`).
            allowed_types: restrict the decoded atom types to these indices.
            seeds: one seed per graph for its prior sample, so a graph's start does not depend on
                the batch it is in (with a deterministic sampler the result is then the same
                whether ligands are sampled together or one at a time).
        """
        net, p = self.sampling_net, self.process
        sampler = sampler or self.sampler
        steps = steps or self.sample_steps
        if resample < 1:
            raise ValueError(f"resample must be >= 1, got {resample}")
        if fixed is not None and p.zero_com:
            raise ValueError("fixed atoms need a process without zero-CoM projection")
        dev = self.device
        n_graphs = int(n_atoms.shape[0])
        batch = torch.repeat_interleave(torch.arange(n_graphs), n_atoms.cpu()).to(dev)
        n = int(batch.shape[0])

        def noise() -> tuple[Tensor, Tensor]:
            return (p.pos_noise(torch.zeros(n, 3), batch.cpu(), generator).to(dev),
                    p.type_noise(torch.zeros(n, self.n_types), generator).to(dev))

        def pin(x: Tensor, h: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
            if fixed is None:
                return x, h
            nx, nh = noise()
            sn = s.to(dev).expand(n).float()
            fx = p.add_noise(fixed.pos.to(dev), nx, sn) if float(s) > 0 else fixed.pos.to(dev)
            h0 = p.encode_types(fixed.types.to(dev), self.n_types)
            fh = p.add_noise(h0, nh, sn) if float(s) > 0 else h0
            m = fixed.mask.to(dev)[:, None]
            return torch.where(m, fx, x), torch.where(m, fh, h)

        ts = sampler.timesteps(steps)
        x, h = pin(*(noise() if seeds is None else self._seeded_prior(n_atoms, seeds, dev)), ts[0])
        predict = partial(self._predict, net, batch=batch, n_graphs=n_graphs, context=context,
                          guidance_scale=guidance_scale)
        for k, (t, s) in enumerate(zip(ts[:-1], ts[1:])):
            t_d, s_d = t.to(dev), s.to(dev)
            for r in range(resample):
                out_x, out_h = predict(x=x, h=h, t=t)
                nx, nh = noise() if sampler.needs_noise else (None, None)
                x_new = sampler.step(p, x, out_x, t_d, s_d, nx)
                h_new = sampler.step(p, h, out_h, t_d, s_d, nh)
                if sampler.order == 2 and float(s) > 0:
                    out2_x, out2_h = predict(x=x_new, h=h_new, t=s)
                    x_new = sampler.correct(p, x, out_x, out2_x, t_d, s_d, x_new)
                    h_new = sampler.correct(p, h, out_h, out2_h, t_d, s_d, h_new)
                x_new, h_new = pin(x_new, h_new, s)
                if r + 1 < resample and float(s) > 0:
                    jx, jh = noise()
                    x, h = p.renoise(x_new, s_d, t_d, jx), p.renoise(h_new, s_d, t_d, jh)
                else:
                    x, h = x_new, h_new
            if progress is not None:
                progress(k + 1)
        bad = ~(torch.isfinite(x).all(-1) & torch.isfinite(h).all(-1))
        finite = torch.bincount(batch[bad], minlength=n_graphs) == 0
        x = torch.where(finite[batch][:, None], x, torch.zeros_like(x))
        h = torch.nan_to_num(h)
        if allowed_types is not None:
            mask = torch.full((self.n_types,), float("-inf"), device=dev)
            mask[list(allowed_types)] = 0.0
            h = h + mask
        return Samples(x, p.decode_types(h), batch, finite)
