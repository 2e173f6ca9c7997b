"""Designability (self-consistency) of generated backbones via user-installed ProteinMPNN + ESMFold.

molgen ships neither tool nor their weights; this module is the plug-in point. For each backbone
PDB it

1. runs the **sequence design** command, which must write FASTA file(s) into ``{out_dir}``;
   records whose header contains ``sample=`` are used when any do (ProteinMPNN's convention: its
   first record is the input's own, poly-G, sequence), otherwise all records;
2. writes those sequences to one FASTA (headers ``seq_0``, ``seq_1``, ...) and runs the
   **structure prediction** command, which must write ``<header>.pdb`` per sequence into
   ``{out_dir}``;
3. scores each prediction by CA RMSD to the designed backbone after Kabsch superposition
   (scRMSD) and reads pLDDT from its B-factor column (ESMFold's convention).

A backbone is *designable* when its best scRMSD is below ``threshold`` (2 A, as in FrameDiff,
RFdiffusion and Genie). Commands are shell templates; placeholders are filled with quoted paths:

- design: ``{pdb}`` (input PDB), ``{out_dir}``, ``{num_seqs}``; e.g.
  ``python ProteinMPNN/protein_mpnn_run.py --pdb_path {pdb} --out_folder {out_dir}
  --num_seq_per_target {num_seqs} --sampling_temp 0.1``
- fold: ``{fasta}``, ``{out_dir}``; e.g. ``esm-fold -i {fasta} -o {out_dir}``

They come from the arguments or the environment variables ``MOLGEN_MPNN_CMD`` and
``MOLGEN_ESMFOLD_CMD``; when either is missing the function logs why and returns None.
"""

from __future__ import annotations

import logging
import math
import os
import shlex
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from molgen.errors import MolgenInputError
from molgen.io.chains import read_chains
from molgen.protein.geometry import superpose_rmsd

__all__ = ["ESMFOLD_CMD_ENV", "MPNN_CMD_ENV", "designability", "read_fasta"]

MPNN_CMD_ENV = "MOLGEN_MPNN_CMD"
ESMFOLD_CMD_ENV = "MOLGEN_ESMFOLD_CMD"

log = logging.getLogger(__name__)


def read_fasta(path: str | Path) -> list[tuple[str, str]]:
    """``(header, sequence)`` records of a FASTA file (header without ``>``)."""
    records: list[tuple[str, list[str]]] = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith(">"):
            records.append((line[1:].strip(), []))
        elif line and records:
            records[-1][1].append(line)
    return [(h, "".join(s)) for h, s in records]


def _run(template: str, timeout: float, **paths: str | int) -> None:
    cmd = template.format(**{k: shlex.quote(str(v)) for k, v in paths.items()})
    proc = subprocess.run(cmd, check=False, shell=True, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-500:]
        raise RuntimeError(f"command failed ({proc.returncode}): {cmd}\n{tail}")


def _designed_sequences(out_dir: Path) -> list[str]:
    records = [r for f in sorted(out_dir.rglob("*")) if f.suffix in (".fa", ".fasta") for r in read_fasta(f)]
    sampled = [s for h, s in records if "sample=" in h]
    return [s.split("/")[0] for s in (sampled or [s for _, s in records])]


def _score(ref_ca: torch.Tensor, pdb: Path) -> tuple[float, float]:
    import gemmi

    pred = read_chains(pdb)[0]
    if len(pred) != len(ref_ca):
        return math.nan, math.nan
    rmsd = float(superpose_rmsd(torch.as_tensor(pred.ca, dtype=torch.float64), ref_ca))
    st = gemmi.read_structure(str(pdb))
    b = [a.b_iso for res in st[0][0] for a in res if a.name == "CA"]
    plddt = float(np.mean(b)) if b else math.nan
    return rmsd, plddt * 100 if plddt <= 1.0 else plddt


def designability(
    pdb_paths: Sequence[str | Path],
    *,
    mpnn_cmd: str | None = None,
    esmfold_cmd: str | None = None,
    num_seqs: int = 8,
    threshold: float = 2.0,
    workdir: str | Path | None = None,
    timeout: float = 3600.0,
):
    """Self-consistency designability of backbone PDBs (see module docstring).

    Returns:
        ``pandas.DataFrame`` with one row per PDB: ``path``, ``n_seqs``, ``sc_rmsd_min``,
        ``sc_rmsd_mean`` (A), ``plddt`` (of the best prediction, 0-100), ``designable`` (bool),
        ``error`` (empty, or why this backbone has no score: a failed command does not stop the
        others); or None, with a logged reason, when a command is not configured.
    """
    import pandas as pd

    mpnn_cmd = mpnn_cmd or os.environ.get(MPNN_CMD_ENV)
    esmfold_cmd = esmfold_cmd or os.environ.get(ESMFOLD_CMD_ENV)
    if not mpnn_cmd or not esmfold_cmd:
        missing = [n for n, c in ((MPNN_CMD_ENV, mpnn_cmd), (ESMFOLD_CMD_ENV, esmfold_cmd)) if not c]
        log.warning(
            "designability skipped: no %s configured (ProteinMPNN / ESMFold not installed)",
            " / ".join(missing),
        )
        return None
    rows = []
    with tempfile.TemporaryDirectory(dir=workdir, prefix="designability_") as tmp:
        for k, pdb in enumerate(map(Path, pdb_paths)):
            row = {"path": str(pdb), "n_seqs": 0, "sc_rmsd_min": math.nan, "sc_rmsd_mean": math.nan,
                   "plddt": math.nan, "designable": False, "error": ""}  # fmt: skip
            base = Path(tmp) / f"{k:05d}"
            try:
                ref_ca = torch.as_tensor(read_chains(pdb)[0].ca, dtype=torch.float64)
                (base / "mpnn").mkdir(parents=True)
                _run(mpnn_cmd, timeout, pdb=pdb.resolve(), out_dir=base / "mpnn", num_seqs=num_seqs)
                seqs = _designed_sequences(base / "mpnn")[:num_seqs]
                if not seqs:
                    raise RuntimeError("the design command wrote no FASTA sequences")
                fasta = base / "designed.fasta"
                fasta.write_text("".join(f">seq_{i}\n{s}\n" for i, s in enumerate(seqs)))
                (base / "fold").mkdir()
                _run(esmfold_cmd, timeout, fasta=fasta, out_dir=base / "fold")
                scores = [_score(ref_ca, base / "fold" / f"seq_{i}.pdb") for i in range(len(seqs))
                          if (base / "fold" / f"seq_{i}.pdb").is_file()]  # fmt: skip
                if not scores:
                    raise RuntimeError("the folding command wrote no seq_<i>.pdb files")
                rmsd = np.array([s[0] for s in scores])
                if not np.isfinite(rmsd).any():
                    raise RuntimeError("no predicted structure has the backbone's length")
                best = int(np.nanargmin(rmsd))
                row.update(
                    n_seqs=len(scores),
                    sc_rmsd_min=float(rmsd[best]),
                    sc_rmsd_mean=float(np.nanmean(rmsd)),
                    plddt=scores[best][1],
                    designable=bool(rmsd[best] < threshold),
                )
            except (MolgenInputError, RuntimeError, OSError, ValueError, subprocess.SubprocessError) as exc:
                # one failing backbone must not lose the others' scores
                log.warning("designability of %s failed: %s", pdb, exc)
                row["error"] = str(exc)
            rows.append(row)
    return pd.DataFrame(rows)
