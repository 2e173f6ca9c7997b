"""What every sampling job shares: device choice, checkpoint loading, size ranges, progress, summary.

The jobs themselves live beside this module (:mod:`molgen.sampling` for ligands in a pocket and
unconditional molecules, :mod:`molgen.sampling_backbone` for backbones); ``molgen/commands/``
parses a config and calls them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import torch
from omegaconf import DictConfig

from molgen.errors import MolgenInputError
from molgen.io.atomic import write_atomic

__all__ = ["load_sampling_task", "parse_length", "parse_n_atoms", "resolve_device", "run_with_progress",
           "summary_table", "write_summary"]


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cpu`` / ``cuda`` / ``cuda:1`` as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(name).startswith("cuda") and not torch.cuda.is_available():
        raise MolgenInputError(f"device={name}: no CUDA device is available (use device=cpu)")
    if str(name) not in ("cpu",) and not str(name).startswith("cuda"):
        raise MolgenInputError(f"device={name}: allowed values are auto, cpu, cuda, cuda:N")
    return torch.device(name)


def load_sampling_task(cfg: DictConfig, device: torch.device):
    """(task, sampler or None, checkpoint path) of a ``sample`` config: ``ckpt=`` or the task's
    bundled checkpoint, refused when it was trained for another task than ``task=``."""
    from hydra.utils import instantiate

    from molgen.checkpoint import load_task

    ckpt = cfg.ckpt or cfg.task.checkpoint
    task = load_task(ckpt, map_location=device)
    if cfg.task.name != task.export_config.get("task_name", cfg.task.name):
        raise MolgenInputError(f"ckpt={ckpt}: a '{task.export_config.get('task_name')}' checkpoint, "
                               f"but task={cfg.task.name}")
    sampler = instantiate(cfg.sampler) if cfg.get("sampler") else None
    return task, sampler, ckpt


def _size_range(value: Any, key: str, what: str) -> tuple[int, int]:
    try:
        if isinstance(value, str) and "-" in value.strip()[1:]:
            lo, hi = (int(v) for v in value.split("-", 1))
        elif isinstance(value, (list, tuple)) or (hasattr(value, "__len__") and not isinstance(value, str)):
            lo, hi = (int(v) for v in value)
        else:
            lo = hi = int(value)
    except (TypeError, ValueError):
        lo = hi = 0
    if lo < 1 or hi < lo:
        raise MolgenInputError(f"{key}={value!r}: give a positive number{what} or a range 'lo-hi' "
                               f"with 1 <= lo <= hi")
    return lo, hi


def parse_n_atoms(value: Any) -> tuple[int, int] | None:
    """``25`` -> (25, 25); ``"15-25"`` or ``[15, 25]`` -> (15, 25); ``None`` -> pocket-size model."""
    if value is None or value == "":
        return None
    return _size_range(value, "n_atoms", "")


def parse_length(value: Any) -> tuple[int, int]:
    """Backbone length: ``100`` -> (100, 100); ``"50-150"`` or ``[50, 150]`` -> (50, 150)."""
    return _size_range(value, "length", " of residues")


def parse_clash_distance(value: Any) -> float | None:
    """``clash_distance``: ``None`` (the model's default) or a distance in Angstrom >= 0 (0: off)."""
    if value is None or value == "":
        return None
    try:
        distance = float(value)
    except (TypeError, ValueError):
        distance = float("nan")
    if not 0 <= distance < float("inf"):
        raise MolgenInputError(f"clash_distance={value!r}: give a distance in Angstrom (e.g. 2.8), 0 for "
                               "no pocket repulsion, or null for the model's default")
    return distance


def pocket_repulsion(task, value: Any):
    """The :class:`~molgen.diffusion.pocket_repulsion.PocketRepulsion` sampling uses for
    ``clash_distance=value``: by default (``None``) the standard one for a bond-aware model and none
    for an atoms-only one; ``0``: none; a distance: at that distance."""
    from molgen.diffusion.pocket_repulsion import PocketRepulsion

    distance = parse_clash_distance(value)
    if distance is None:
        return PocketRepulsion() if getattr(task, "predicts_bonds", False) else None
    return PocketRepulsion(min_distance=distance) if distance > 0 else None


#: The guidance a bond-aware pocket model trained with pocket dropout samples with by default:
#: coordinates conditional, chemistry halfway to the unconditional model (docs/benchmarks.md,
#: "Chemistry-only guidance").
BOND_MODEL_GUIDANCE = (1.0, 0.5)


def guidance(task, value: Any):
    """The :class:`~molgen.diffusion.guidance.GuidanceScale` for ``guidance_scale=value``: a number or
    ``[positions, chemistry]``; ``None`` is the model's default, :data:`BOND_MODEL_GUIDANCE` for a
    bond-aware model trained with pocket dropout (``context_dropout > 0``), else 1 (conditional)."""
    from molgen.diffusion.guidance import GuidanceScale

    if value is None or value == "":
        guided = getattr(task, "predicts_bonds", False) and getattr(task, "context_dropout", 0.0) > 0
        return GuidanceScale(*BOND_MODEL_GUIDANCE) if guided else GuidanceScale()
    return GuidanceScale.parse(value)


def parse_switch(key: str, value: Any) -> bool | None:
    """An on/off setting such as ``join_fragments`` or ``relax``: ``None`` (the default), ``True``
    or ``False``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise MolgenInputError(f"{key}={value!r}: give true, false, or null for the default")


def fragment_attraction(task, value: Any, fixed_atoms: bool = False):
    """The :class:`~molgen.diffusion.fragment_attraction.FragmentAttraction` sampling uses for
    ``join_fragments=value``: by default (``None``) the standard one for a bond-aware model and none
    for an atoms-only one; ``True``: the standard one; ``False``: none. With ``fixed_atoms`` (a
    fixed fragment) none by default and ``True`` is refused: the attraction moves whole pieces, and a
    piece holding fixed atoms would be torn from them (a linker's two anchors are two pieces)."""
    from molgen.diffusion.fragment_attraction import FragmentAttraction

    join = parse_switch("join_fragments", value)
    if join and fixed_atoms:
        raise MolgenInputError("join_fragments=true: fragment attraction moves whole pieces and would tear "
                               "them from fixed atoms; it is not available with fix_fragment= / fix_atoms=")
    if join is None:
        join = bool(getattr(task, "predicts_bonds", False)) and not fixed_atoms
    return FragmentAttraction() if join else None


def sampling_guides(task, clash_distance: Any = None, join_fragments: Any = None, fixed_atoms: bool = False):
    """The :class:`~molgen.diffusion.sampling_guides.SamplingGuides` for ``clash_distance=`` and
    ``join_fragments=`` (fragment attraction first, then pocket repulsion), or ``None`` when both are
    off; ``fixed_atoms``: the sampling keeps a fragment fixed (see :func:`fragment_attraction`). Both
    guide a bond-aware model's clean estimate: asking an atoms-only model for one is refused."""
    from molgen.diffusion.sampling_guides import SamplingGuides

    attraction = fragment_attraction(task, join_fragments, fixed_atoms)
    repulsion = pocket_repulsion(task, clash_distance)
    if not getattr(task, "predicts_bonds", False):
        for guide, what in ((repulsion, "clash_distance: pocket repulsion"),
                            (attraction, "join_fragments: fragment attraction")):
            if guide is not None:
                raise MolgenInputError(f"{what} needs a bond-aware (flow) model; this checkpoint's task is "
                                       f"{type(task).__name__}")
    guides = tuple(g for g in (attraction, repulsion) if g is not None)
    return SamplingGuides(guides) if guides else None


def pose_relaxation(value: Any):
    """The :class:`~molgen.chem.pose_relaxation.PoseRelaxation` for ``relax=value``: the standard
    one by default (``None``) and for ``True``; none for ``False``."""
    from molgen.chem.pose_relaxation import PoseRelaxation

    return None if parse_switch("relax", value) is False else PoseRelaxation()


def describe_relaxation(relax) -> tuple[str, str]:
    """Summary row of a :class:`~molgen.chem.pose_relaxation.PoseRelaxation` (or ``None``)."""
    if relax is None:
        return ("pose relaxation", "off")
    return ("pose relaxation", f"MMFF94 (UFF), heavy atoms free within {relax.max_displacement:g} A")


def describe_guides(guides) -> list[tuple[str, str]]:
    """Summary rows: the pocket repulsion (``'2.8 A'`` or ``'off'``) and the fragment attraction
    (``'from t = 0.5'`` or ``'off'``) of ``guides`` (a SamplingGuides or ``None``)."""
    from molgen.diffusion.fragment_attraction import FragmentAttraction
    from molgen.diffusion.pocket_repulsion import PocketRepulsion

    found = {type(g): g for g in (guides.guides if guides is not None else ())}
    rep, att = found.get(PocketRepulsion), found.get(FragmentAttraction)
    return [("pocket repulsion", "off" if rep is None else f"{rep.min_distance:g} A"),
            ("fragment attraction", "off" if att is None else f"from t = {att.start_time:g}")]


def run_with_progress(job, steps: int, what: str, fn: Callable[[Callable[[int], None]], Any]):
    """Run ``fn(on_step)`` under a progress bar over all denoising steps; return (result, seconds)."""
    from tqdm.auto import tqdm

    n_batches = -(-job.n_samples // job.batch_size)
    t0 = time.perf_counter()
    with tqdm(total=n_batches * steps, desc=f"sampling {job.n_samples} {what}", unit="step") as bar:
        result = fn(lambda _: bar.update(1))
    return result, time.perf_counter() - t0


def summary_table(rows: list[tuple[str, str]]) -> str:
    """A two-column Markdown table."""
    width = max(len(k) for k, _ in rows)
    lines = [f"| {'':<{width}} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {k:<{width}} | {v} |" for k, v in rows]
    return "\n".join(lines)


def write_summary(outdir: Path, rows: list[tuple[str, str]], extra: str | None = None) -> str:
    """Write ``rows`` (and ``extra`` Markdown below them) as ``<outdir>/summary.md``, print them and
    return the text."""
    text = summary_table(rows) + (f"\n\n{extra}" if extra else "")
    write_atomic(Path(outdir) / "summary.md", text + "\n")
    print(text)
    return text
