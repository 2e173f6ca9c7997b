"""Manifests: which ligand SD files go with which receptor, to evaluate many complexes at once.

Two forms, both accepted wherever ``molgen eval`` takes ``sdf=`` (and by
:func:`molgen.evaluate.evaluate`):

* a CSV file with columns ``ligand`` and ``receptor``, one complex a row; paths are relative to
  the CSV's folder or absolute; ``ligand`` may name an SD file or a folder of SD files; an empty
  ``receptor`` cell means no receptor (molecule metrics only for that row);
* a folder in the CrossDocked layout, i.e. one holding ``ligand_filenames.txt`` (the test set in
  ``../shared/data/crossdocked_test``): each listed ligand with its receptor ``<pdb>_<chain>_rec.pdb``
  beside it, the same pairing as :func:`molgen.data.datasets.complexes.crossdocked_sources`.

:func:`crossdocked_manifest` writes the second form as the first (to subset or edit it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from molgen.errors import MolgenInputError

__all__ = ["CROSSDOCKED_INDEX", "crossdocked_manifest", "is_manifest", "read_manifest"]

PathLike = str | os.PathLike

CROSSDOCKED_INDEX = "ligand_filenames.txt"
_COLUMNS = ("ligand", "receptor")


def is_manifest(path: PathLike) -> bool:
    """``path`` is a manifest CSV (by suffix) or a CrossDocked-layout folder."""
    p = Path(path)
    return p.suffix.lower() == ".csv" or (p.is_dir() and (p / CROSSDOCKED_INDEX).is_file())


def crossdocked_manifest(root: PathLike, out_csv: PathLike | None = None) -> pd.DataFrame:
    """Ligand/receptor pairs of a CrossDocked-layout folder (absolute paths), in index order.

    With ``out_csv`` the table is also written there (a manifest :func:`read_manifest` reads).
    """
    from molgen.data.datasets.complexes import crossdocked_sources

    sources = crossdocked_sources(root, CROSSDOCKED_INDEX, pocket_source="receptor")
    table = pd.DataFrame({"ligand": [str(s.ligand.resolve()) for s in sources],
                          "receptor": [str(s.pocket.resolve()) for s in sources]})
    if out_csv is not None:
        from molgen.io.tables import write_csv_atomic

        Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
        write_csv_atomic(table, out_csv)
    return table


def _read_table(path: Path) -> pd.DataFrame:
    if path.is_dir():
        return crossdocked_manifest(path)
    if not path.is_file():
        raise MolgenInputError(f"{path}: manifest not found")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as exc:  # noqa: BLE001 -- pandas raises several parser errors
        raise MolgenInputError(f"{path}: not a readable CSV manifest ({type(exc).__name__}: {exc})") from exc
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise MolgenInputError(f"{path}: manifest lacks column(s) {missing}; it needs 'ligand' and "
                               f"'receptor' (found {list(table.columns)})")
    if table.empty:
        raise MolgenInputError(f"{path}: manifest has no rows")
    return table


def read_manifest(path: PathLike) -> list[tuple[str, str | None]]:
    """``(ligand, receptor or None)`` pairs of a manifest, paths resolved, files checked.

    Raises:
        MolgenInputError: naming the manifest: not found, unreadable, missing columns, no rows,
            empty ligand cells, or ligand / receptor files that do not exist (line numbers given).
    """
    path = Path(path)
    table = _read_table(path)
    base = path if path.is_dir() else path.parent
    pairs, problems = [], []
    for k, (ligand, receptor) in enumerate(zip(table["ligand"], table["receptor"])):
        line = k + 2  # the header is line 1
        ligand, receptor = str(ligand).strip(), str(receptor).strip()
        if not ligand:
            problems.append(f"line {line}: empty ligand")
            continue
        lig = base / ligand  # an absolute cell replaces base
        rec = None if not receptor else base / receptor
        if not lig.exists():
            problems.append(f"line {line}: ligand not found: {lig}")
        if rec is not None and not rec.is_file():
            problems.append(f"line {line}: receptor not found: {rec}")
        pairs.append((str(lig), None if rec is None else str(rec)))
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise MolgenInputError(f"{path}: manifest problems: {'; '.join(problems[:5])}{more}")
    return pairs
