"""Fixtures of the io tests: bundled demo files, shared-data folders, a hand-written PDB."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"
DEMO_COMPLEX = DEMO / "SIR3_HUMAN_117_398_0"


@pytest.fixture(scope="session")
def demo_receptor() -> Path:
    return DEMO_COMPLEX / "5d7n_D_rec.pdb"


@pytest.fixture(scope="session")
def demo_ligand() -> Path:
    return DEMO_COMPLEX / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0.sdf"


@pytest.fixture(scope="session")
def demo_pocket10() -> Path:
    return DEMO_COMPLEX / "5d7n_D_rec_4jt9_1ns_lig_tt_min_0_pocket10.pdb"


@pytest.fixture(scope="session")
def crossdocked_dir(shared_data: Path) -> Path:
    path = shared_data / "crossdocked_test"
    if not path.is_dir():
        pytest.skip(f"{path} is absent (CrossDocked test set needed)")
    return path


@pytest.fixture(scope="session")
def posebusters_dir(shared_data: Path) -> Path:
    path = shared_data / "posebusters_308"
    if not path.is_dir():
        pytest.skip(f"{path} is absent (PoseBusters set needed)")
    return path


def pdb_line(
    serial: int, name: str, res_name: str, chain: str, res_seq: int, xyz: tuple[float, float, float],
    element: str, *, record: str = "ATOM", altloc: str = " ", icode: str = " ", occupancy: float = 1.0,
) -> str:  # fmt: skip
    """One fixed-column PDB ATOM/HETATM line."""
    padded = f" {name:<3}" if len(name) < 4 and len(element) == 1 else f"{name:<4}"
    x, y, z = xyz
    return (
        f"{record:<6}{serial:>5} {padded}{altloc}{res_name:>3} {chain}{res_seq:>4}{icode}   "
        f"{x:8.3f}{y:8.3f}{z:8.3f}{occupancy:6.2f}{20.0:6.2f}          {element:>2}"
    )


def _backbone(serial: int, res_name: str, res_seq: int, x: float, **kw) -> list[str]:
    """N, CA, C, O of a residue laid along x (C(i)-N(i+1) = 1.5 A when residues are 4 A apart)."""
    atoms = [("N", (x, 0.0, 0.0), "N"), ("CA", (x + 1.0, 0.0, 0.0), "C"),
             ("C", (x + 2.5, 0.0, 0.0), "C"), ("O", (x + 2.5, 1.2, 0.0), "O")]  # fmt: skip
    return [pdb_line(serial + i, n, res_name, "A", res_seq, p, e, **kw) for i, (n, p, e) in enumerate(atoms)]


def tiny_pdb_text(second_model: bool = True) -> str:
    """A small chain A exercising every reading rule.

    Residues (x = 0, 4, 8, ...): ALA 1 (with a hydrogen), GLY 2 (CA altlocs A 0.4 / B 0.6),
    SER 52, SER 52A (insertion code), SEP 53 HETATM peptide-bonded, MSE 54 HETATM (Se),
    residue 55 with microheterogeneity (ALA altloc A 0.7 / SER altloc B 0.3); then a water,
    a zinc ion, a free SAH (amino-acid-like name, not bonded) and a ligand LIG (3 atoms).
    """
    lines = [*_backbone(1, "ALA", 1, 0.0), pdb_line(5, "H", "ALA", "A", 1, (0.0, -1.0, 0.0), "H")]
    lines += _backbone(6, "GLY", 2, 4.0)[:1]
    lines += [
        pdb_line(7, "CA", "GLY", "A", 2, (5.0, 0.5, 0.0), "C", altloc="A", occupancy=0.4),
        pdb_line(8, "CA", "GLY", "A", 2, (5.0, -0.5, 0.0), "C", altloc="B", occupancy=0.6),
    ]
    lines += _backbone(7, "GLY", 2, 4.0)[2:]
    lines += _backbone(11, "SER", 52, 8.0)
    lines += _backbone(15, "SER", 52, 12.0, icode="A")
    lines += _backbone(19, "SEP", 53, 16.0, record="HETATM")
    lines += _backbone(23, "MSE", 54, 20.0, record="HETATM")
    lines.append(pdb_line(27, "SE", "MSE", "A", 54, (21.0, 1.5, 0.0), "SE", record="HETATM"))
    lines += _backbone(28, "ALA", 55, 24.0, altloc="A", occupancy=0.7)
    lines.append(pdb_line(32, "CB", "ALA", "A", 55, (25.0, -1.5, 0.0), "C", altloc="A", occupancy=0.7))
    lines += _backbone(33, "SER", 55, 24.0, altloc="B", occupancy=0.3)
    lines.append(pdb_line(37, "OG", "SER", "A", 55, (25.0, 1.5, 0.0), "O", altloc="B", occupancy=0.3))
    lines.append("TER      38      SER A  55")
    lines.append(pdb_line(39, "O", "HOH", "A", 101, (10.0, 5.0, 0.0), "O", record="HETATM"))
    lines.append(pdb_line(40, "ZN", "ZN", "A", 102, (12.0, 5.0, 0.0), "ZN", record="HETATM"))
    lines += _backbone(41, "SAH", 103, 0.0, record="HETATM")
    lines[-4:] = [line[:38] + f"{30.0:8.3f}" + line[46:] for line in lines[-4:]]  # move SAH to y=30
    for i, (name, el, x) in enumerate((("C1", "C", 8.0), ("N1", "N", 9.4), ("CL1", "CL", 10.8))):
        lines.append(pdb_line(45 + i, name, "LIG", "A", 201, (x, 6.0, 0.0), el, record="HETATM"))
    body = "\n".join(lines)
    if not second_model:
        return body + "\nEND\n"

    def shift(line: str) -> str:  # model 2: every atom moved by +100 A in x
        if line[:4] not in ("ATOM", "HETA"):
            return line
        return line[:30] + f"{float(line[30:38]) + 100:8.3f}" + line[38:]

    shifted = "\n".join(shift(line) for line in lines)
    return f"MODEL        1\n{body}\nENDMDL\nMODEL        2\n{shifted}\nENDMDL\nEND\n"


@pytest.fixture()
def tiny_pdb(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.pdb"
    path.write_text(tiny_pdb_text())
    return path
