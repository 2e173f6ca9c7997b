"""Start-up checks of the ``molgen sample`` config, before any file is parsed or model loaded.

:func:`validate_sample_config` looks at every value a user may override and reports all the bad
ones at once in one :class:`~molgen.errors.MolgenInputError` (``key=value: what is allowed``;
problems joined by ``"; "``), which the CLI prints as one line and exit status 1. Names Hydra
itself resolves are not checked here: an unknown config group option (``sampler=nope``,
``molgen train model=nope``) or an unknown key (``foo=1``) is refused by Hydra before ``run``,
with the available options listed.

A pocket larger than the model's ``max_pocket_atoms`` is refused by
:func:`molgen.sampling.check_pocket_size` (it needs the model), before any sampling.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from molgen.errors import MolgenInputError, is_finite_number

__all__ = ["DEVICE_CHOICES", "FILE_KEYS", "validate_sample_config"]

#: What ``device=`` accepts (``cuda:N`` for a given GPU).
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda", "cuda:N")
#: Config keys naming input files that must exist when given.
FILE_KEYS: tuple[str, ...] = ("ckpt", "receptor", "ref_ligand", "fix_fragment", "motif")
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_GENERATED_RESIDUES = ("G", "A")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _check_int(cfg: Mapping, key: str, low: int, problems: list[str], *, optional: str | None = None) -> None:
    if key not in cfg:
        return
    value = cfg[key]
    if value is None and optional is not None:
        return
    if not _is_int(value) or value < low:
        alt = f" (or null: {optional})" if optional is not None else ""
        problems.append(f"{key}={value!r}: must be an integer >= {low}{alt}")


def _check_bool(cfg: Mapping, key: str, problems: list[str]) -> None:
    if key in cfg and not isinstance(cfg[key], bool):
        problems.append(f"{key}={cfg[key]!r}: must be true or false")


def _check_positive(cfg: Mapping, key: str, problems: list[str], *, allow_three: bool = False) -> None:
    if key not in cfg or cfg[key] is None:
        return
    value = _plain(cfg[key])
    values = list(value) if allow_three and isinstance(value, (list, tuple)) else [value]
    shape_ok = len(values) in ((1, 3) if allow_three else (1,))
    if not shape_ok or not all(is_finite_number(v) and v > 0 for v in values):
        what = "a positive number (Angstrom)" + (" or 3 positive numbers" if allow_three else "")
        problems.append(f"{key}={value!r}: must be {what}")


def _check_device(cfg: Mapping, problems: list[str]) -> None:
    device = str(cfg.get("device", "auto"))
    if not _DEVICE_RE.match(device):
        problems.append(f"device={device}: allowed values are {', '.join(DEVICE_CHOICES)}")
        return
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            problems.append(f"device={device}: no CUDA device is available (use device=cpu or device=auto)")


def _check_files(cfg: Mapping, problems: list[str]) -> None:
    for key in FILE_KEYS:
        value = cfg.get(key)
        if value in (None, ""):
            continue
        path = Path(str(value))
        if not path.exists():
            problems.append(f"{key}={value}: file not found")
        elif not path.is_file():
            problems.append(f"{key}={value}: not a file")


def _check_pocket(cfg: Mapping, problems: list[str]) -> None:
    given = [k for k in ("ref_ligand", "residues", "box_center") if cfg.get(k) not in (None, "")]
    if len(given) > 1:
        problems.append(f"pocket: give one of ref_ligand=, residues=, box_center= (+ box_size=), got "
                        f"{', '.join(given)}")
    if given and cfg.get("receptor") in (None, ""):
        problems.append(f"{given[0]}=...: needs receptor=<PDB or mmCIF file> (without a receptor the "
                        "bundled demo pocket is used)")
    _check_positive(cfg, "cutoff", problems)
    _check_positive(cfg, "box_size", problems, allow_three=True)
    center = _plain(cfg.get("box_center"))
    if center is not None and not (isinstance(center, (list, tuple)) and len(center) == 3
                                   and all(is_finite_number(v) for v in center)):
        problems.append(f"box_center={center!r}: must be 3 numbers [x,y,z] in Angstrom")
    if cfg.get("residues") not in (None, ""):
        from molgen.io.pocket import parse_residue_spec

        try:
            parse_residue_spec(_plain(cfg["residues"]))
        except MolgenInputError as exc:
            problems.append(str(exc))


def _check_controls(cfg: Mapping, problems: list[str]) -> None:
    if cfg.get("n_atoms") not in (None, ""):
        from molgen.sampling_common import parse_n_atoms

        try:
            parse_n_atoms(_plain(cfg["n_atoms"]))
        except MolgenInputError as exc:
            problems.append(str(exc))
    _check_int(cfg, "resample", 1, problems)
    if cfg.get("guidance_scale") not in (None, ""):
        from molgen.diffusion.guidance import GuidanceScale

        try:
            GuidanceScale.parse(_plain(cfg["guidance_scale"]))
        except MolgenInputError as exc:
            problems.append(str(exc))
    from molgen.sampling_common import parse_clash_distance, parse_switch

    for key, parse in (("clash_distance", parse_clash_distance),
                       ("join_fragments", lambda v: parse_switch("join_fragments", v)),
                       ("relax", lambda v: parse_switch("relax", v))):
        if cfg.get(key) not in (None, ""):
            try:
                parse(_plain(cfg[key]))
            except MolgenInputError as exc:
                problems.append(str(exc))
    elements = _plain(cfg.get("elements"))
    if elements is not None and (not isinstance(elements, list) or not elements
                                 or not all(isinstance(e, str) and e.strip().isalpha() for e in elements)):
        problems.append(f"elements={elements!r}: must be a list of element symbols, e.g. [C,N,O]")
    fix_atoms = _plain(cfg.get("fix_atoms"))
    if fix_atoms not in (None, "") and (not isinstance(fix_atoms, list) or not fix_atoms
                                        or not all(_is_int(i) and i >= 0 for i in fix_atoms)):
        problems.append(f"fix_atoms={fix_atoms!r}: must be a list of 0-based atom indices, e.g. [0,1,2]")


def _check_ranking(cfg: Mapping, task_name: str | None, problems: list[str]) -> None:
    from molgen.scoring import RANKINGS, SCORERS

    score = cfg.get("score")
    if score in (None, ""):
        return
    if task_name not in (None, "ligand_pocket"):
        problems.append(f"score={score}: scoring in a receptor is for task=ligand_pocket")
    elif score not in SCORERS:
        problems.append(f"score={score}: allowed values are {', '.join(SCORERS)} or null")
    if cfg.get("rank_by", "vina_minimize") not in RANKINGS:
        problems.append(f"rank_by={cfg.get('rank_by')}: allowed values are {', '.join(RANKINGS)}")
    _check_int(cfg, "top_k", 1, problems, optional="keep all")
    _check_int(cfg, "n_jobs", 1, problems)


def _check_backbone(cfg: Mapping, problems: list[str]) -> None:
    if not cfg.get("contig"):
        from molgen.sampling_common import parse_length

        try:
            parse_length(_plain(cfg.get("length", 100)))
        except MolgenInputError as exc:
            problems.append(str(exc))
    residue = str(cfg.get("residue", "G")).upper()
    if residue not in _GENERATED_RESIDUES:
        problems.append(f"residue={cfg.get('residue')}: allowed values are {', '.join(_GENERATED_RESIDUES)}")


def validate_sample_config(cfg: DictConfig | Mapping[str, Any]) -> None:
    """Check a composed ``sample`` config; raise one :class:`MolgenInputError` listing every problem.

    Checked: ``n_samples``, ``batch_size`` (integers >= 1), ``steps`` (null or >= 1), ``seed``
    (integer), ``threads`` (null or >= 1), ``max_retries`` (>= 0, when present), ``device``
    (:data:`DEVICE_CHOICES`, CUDA present), ``resume`` / ``largest_fragment`` / ``mmcif``
    (booleans), input files (:data:`FILE_KEYS`) exist,
    at most one pocket definition and a receptor with it, ``cutoff`` / ``box_size`` > 0,
    ``box_center`` (3 numbers), ``residues`` (``CHAIN:NUMBER`` list), ``n_atoms`` (``25`` or
    ``lo-hi``, 1 <= lo <= hi), ``resample`` >= 1, ``guidance_scale`` a finite number or two, ``elements`` and
    ``fix_atoms`` lists; for ``task=backbone`` also ``length`` and ``residue`` (G or A); with
    ``score``: a known scorer on ``task=ligand_pocket``, ``rank_by``, ``top_k`` and ``n_jobs``.
    """
    problems: list[str] = []
    _check_int(cfg, "n_samples", 1, problems)
    _check_int(cfg, "batch_size", 1, problems)
    _check_int(cfg, "steps", 1, problems, optional="the checkpoint's default")
    _check_int(cfg, "threads", 1, problems, optional="torch's default")
    _check_int(cfg, "max_retries", 0, problems)
    if "seed" in cfg and not _is_int(cfg["seed"]):
        problems.append(f"seed={cfg['seed']!r}: must be an integer")
    for key in ("resume", "largest_fragment", "mmcif"):
        _check_bool(cfg, key, problems)
    _check_device(cfg, problems)
    _check_files(cfg, problems)
    task = cfg.get("task")
    task_name = str(task.get("name")) if isinstance(task, Mapping) else None
    if task_name in (None, "ligand_pocket"):
        _check_pocket(cfg, problems)
    if task_name == "backbone":
        _check_backbone(cfg, problems)
    else:
        _check_controls(cfg, problems)
    _check_ranking(cfg, task_name, problems)
    if problems:
        raise MolgenInputError("; ".join(problems))

