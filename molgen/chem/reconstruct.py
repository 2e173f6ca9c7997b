"""Generated atoms (positions + elements, heavy atoms only) -> RDKit molecule with bond orders.

Method:

1. **Connectivity** from 3D with RDKit ``rdDetermineBonds.DetermineConnectivity`` (covalent radii,
   ``covFactor=1.3``, no Hueckel).
2. **Bond orders** with hydrogens left implicit. RDKit's ``DetermineBondOrders`` (xyz2mol) needs
   every hydrogen explicit -- on a heavy-atom-only ligand it turns C-H valences into double and
   triple bonds -- so orders come from geometry instead, the way Open Babel perceives them:

   * each atom may take a number of pi bonds given by its element, degree and geometry (a planar
     3-connected centre, a 2-connected centre with an sp2/sp angle or a short bond, a terminal
     atom with a short bond);
   * hypervalent S and P take double bonds to their shortest terminal O/S/N first (sulfonyl,
     phosphate); nitro groups become ``[N+](=O)[O-]``; a 4-connected N becomes ``[N+]``;
   * triple bonds join linear atoms with a short bond;
   * double bonds are a maximum-weight matching (networkx) over candidate bonds (both ends may
     take a pi bond, bond shorter than a per-element-pair limit); carbons weigh more than
     heteroatoms, so every carbon gets its pi bond where possible and a heteroatom left over keeps
     its H (pyrrole NH, amide N, phenol O); shorter bonds and ring bonds weigh slightly more;
     limits are stricter to a terminal atom (C=O 1.30 A, C=NH 1.31 A) than inside a chain;
   * a second matching round, 0.05 A more lenient, gives carbons still without their pi bond one
     (amidines, noisy geometry).
3. **Sanitise** with implicit hydrogens (RDKit perceives aromaticity from the Kekule form). If that
   fails, fall back to the connectivity with single bonds only (+ implicit H). If that fails too,
   the molecule is invalid and the best-effort unsanitised Mol comes back with the error.
   Stereo (R/S, E/Z) is assigned from the 3D coordinates.

``reconstruct_mol`` never raises: garbage input (NaN, overlapping atoms, unknown elements) gives
``valid=False`` and an ``error`` message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Geometry import Point3D

__all__ = ["MIN_ATOM_DISTANCE", "ReconstructedMol", "assign_bond_orders", "reconstruct_mol"]

MIN_ATOM_DISTANCE = 0.5
"""Two atoms closer than this (Angstrom) sit in the same place: the structure is invalid."""

# longest bond (Angstrom) still read as a double/aromatic bond, per element pair
_DOUBLE_MAX = {
    ("C", "C"): 1.47, ("C", "N"): 1.43, ("C", "O"): 1.33, ("C", "S"): 1.78,
    ("N", "N"): 1.38, ("N", "O"): 1.33, ("C", "P"): 1.75, ("N", "S"): 1.70,
    ("O", "S"): 1.58, ("O", "P"): 1.58, ("N", "P"): 1.65, ("S", "S"): 2.05,
    ("C", "Se"): 1.90, ("Se", "Se"): 2.25,
}
# stricter limit when one end is a terminal atom (C=O vs C-OH, C=NH vs C-NH2, =CH2 vs -CH3)
_TERMINAL_MAX = {
    ("C", "C"): 1.38, ("C", "N"): 1.31, ("C", "O"): 1.30, ("C", "S"): 1.72, ("N", "N"): 1.28,
    ("N", "O"): 1.28, ("O", "S"): 1.55, ("O", "P"): 1.55, ("N", "S"): 1.60, ("N", "P"): 1.60,
}
# longest bond still read as a triple bond between two linear atoms
_TRIPLE_MAX = {("C", "C"): 1.28, ("C", "N"): 1.22, ("N", "N"): 1.20}
# neutral valence: how many bonds an atom has before its pi bonds and implicit H
_VALENCE = {"C": 4, "N": 3, "O": 2, "S": 2, "Se": 2, "P": 3}
# weight of giving an atom its pi bond in the matching: carbons first, then carbonyl-type O
_WEIGHT = {"C": 3.0, "O": 1.5, "N": 1.0, "S": 1.0, "P": 1.0, "Se": 1.0}
# a bond inside a ring weighs this much more (aromatic ring rather than exocyclic imine tautomer)
_RING_BONUS = 0.3
# extra length allowed in the second matching round (carbons still without their pi bond)
_SECOND_ROUND_SLACK = 0.05


@dataclass
class ReconstructedMol:
    """Result of :func:`reconstruct_mol`.

    ``mol`` is the sanitised molecule (heavy atoms, implicit H, one 3D conformer in Angstrom) when
    ``valid``; otherwise the best-effort unsanitised Mol, or ``None`` when not even the atoms could
    be placed. ``connected``/``n_fragments`` describe the whole input, also when
    ``largest_fragment=True`` kept only the largest piece in ``mol``. ``method`` says which step
    made ``mol``: ``"geometry"`` (perceived bond orders), ``"single_bonds"`` (fallback),
    ``"predicted"`` (a bond-aware model's bonds, :func:`molgen.chem.decode.decode_graph`) or
    ``"none"``.
    """

    mol: Chem.Mol | None
    valid: bool
    connected: bool
    n_fragments: int
    error: str | None = None
    smiles: str | None = None
    method: str = "none"


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    cos = float(np.dot(u, v) / max(float(np.linalg.norm(u) * np.linalg.norm(v)), 1e-8))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _pi_capacity(i: int, syms: list[str], nbr: list[list[int]], pos: np.ndarray) -> int:
    """How many pi bonds atom ``i`` may take, from element, degree and geometry."""
    sym, nbrs = syms[i], nbr[i]
    free = _VALENCE.get(sym, 0) - len(nbrs)
    if free <= 0:
        return 0
    vecs = [pos[j] - pos[i] for j in nbrs]
    if len(nbrs) <= 1:
        return free  # terminal atom: the bond length decides (see the matching)
    if len(nbrs) == 2:
        ang = _angle(vecs[0], vecs[1])
        if ang >= 160.0:
            return min(free, 2)  # sp
        rel = np.mean([float(np.linalg.norm(v)) / _DOUBLE_MAX.get(_pair(sym, syms[j]), 1.0)
                       for j, v in zip(nbrs, vecs)])
        return 1 if (ang >= 115.0 or rel <= 1.0) else 0
    if len(nbrs) == 3:
        angle_sum = _angle(vecs[0], vecs[1]) + _angle(vecs[0], vecs[2]) + _angle(vecs[1], vecs[2])
        return 1 if angle_sum >= 345.0 else 0
    return 0


def _charged_and_hypervalent(mol: Chem.RWMol, syms, nbr, dist, cap: list[int]) -> None:
    """Nitro, quaternary N, sulfonyl/sulfinyl and phosphoryl groups (edits ``mol`` and ``cap``)."""
    for i, s in enumerate(syms):
        deg = len(nbr[i])
        terminal = sorted((j for j in nbr[i] if len(nbr[j]) == 1 and syms[j] in ("O", "S", "N")),
                          key=lambda j: dist(i, j))
        if s == "N" and deg == 4:
            mol.GetAtomWithIdx(i).SetFormalCharge(1)
            cap[i] = 0
        elif s == "N" and deg == 3:
            oxy = [j for j in terminal if syms[j] == "O"]
            if len(oxy) >= 2:  # nitro: [N+](=O)[O-]
                mol.GetBondBetweenAtoms(i, oxy[0]).SetBondType(Chem.BondType.DOUBLE)
                mol.GetAtomWithIdx(i).SetFormalCharge(1)
                mol.GetAtomWithIdx(oxy[1]).SetFormalCharge(-1)
                cap[i] = cap[oxy[0]] = cap[oxy[1]] = 0
        elif s in ("S", "P") and 3 <= deg <= 4:
            n_double = min(6 - deg, 2) if s == "S" else 1
            short = [j for j in terminal if dist(i, j) <= _DOUBLE_MAX.get(_pair(s, syms[j]), 0.0)]
            for j in (short or terminal)[:n_double]:
                mol.GetBondBetweenAtoms(i, j).SetBondType(Chem.BondType.DOUBLE)
                cap[j] = 0
            cap[i] = 0


def assign_bond_orders(mol: Chem.RWMol) -> None:
    """Set bond orders (and nitro/ammonium formal charges) of single-bonded ``mol`` in place.

    ``mol`` holds heavy atoms only, single bonds from connectivity and one 3D conformer; see the
    module docstring for the rules.
    """
    pos = mol.GetConformer().GetPositions()
    syms = [a.GetSymbol() for a in mol.GetAtoms()]
    nbr = [[n.GetIdx() for n in a.GetNeighbors()] for a in mol.GetAtoms()]

    def dist(i: int, j: int) -> float:
        return float(np.linalg.norm(pos[i] - pos[j]))

    cap = [_pi_capacity(i, syms, nbr, pos) for i in range(len(syms))]
    _charged_and_hypervalent(mol, syms, nbr, dist, cap)

    for b in mol.GetBonds():  # triple bonds between linear atoms
        i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        lim = _TRIPLE_MAX.get(_pair(syms[i], syms[j]))
        if lim and cap[i] >= 2 and cap[j] >= 2 and dist(i, j) <= lim:
            b.SetBondType(Chem.BondType.TRIPLE)
            cap[i] -= 2
            cap[j] -= 2

    # double bonds: maximum-weight matching over candidate bonds, then a second, more lenient
    # round for planar carbons left without a pi bond (amidines, strained or noisy geometry)
    matched = _match_double_bonds(mol, syms, nbr, dist, cap, slack=0.0, only_carbon=False)
    for i in matched:
        cap[i] = 0
    _match_double_bonds(mol, syms, nbr, dist, cap, slack=_SECOND_ROUND_SLACK, only_carbon=True)


def _match_double_bonds(mol, syms, nbr, dist, cap, *, slack: float, only_carbon: bool) -> set[int]:
    import networkx as nx

    graph = nx.Graph()
    for b in mol.GetBonds():
        i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        if b.GetBondType() != Chem.BondType.SINGLE or cap[i] < 1 or cap[j] < 1:
            continue
        if only_carbon and "C" not in (syms[i], syms[j]):
            continue
        key = _pair(syms[i], syms[j])
        terminal = len(nbr[i]) == 1 or len(nbr[j]) == 1
        lim = (_TERMINAL_MAX if terminal else _DOUBLE_MAX).get(key)
        if not lim:
            continue
        d = dist(i, j)
        if d > lim + slack:
            continue
        weight = _WEIGHT.get(syms[i], 1.0) + _WEIGHT.get(syms[j], 1.0) + (lim + slack - d)
        if b.IsInRing():
            weight += _RING_BONUS
        graph.add_edge(i, j, weight=weight)
    matched: set[int] = set()
    for i, j in nx.max_weight_matching(graph):
        mol.GetBondBetweenAtoms(i, j).SetBondType(Chem.BondType.DOUBLE)
        matched.update((i, j))
    return matched


def _build_atoms(pos: np.ndarray, elements: Sequence[str]) -> Chem.RWMol:
    table = Chem.GetPeriodicTable()
    mol = Chem.RWMol()
    conf = Chem.Conformer(len(elements))
    for k, (el, p) in enumerate(zip(elements, pos)):
        sym = str(el).strip()
        sym = sym[:1].upper() + sym[1:].lower()
        atom = Chem.Atom(table.GetAtomicNumber(sym))  # raises on an unknown element
        if atom.GetAtomicNum() <= 0:
            raise ValueError(f"unknown element {el!r}")
        mol.AddAtom(atom)
        conf.SetAtomPosition(k, Point3D(*map(float, p)))
    conf.Set3D(True)
    mol.AddConformer(conf, assignId=True)
    return mol


def _check_input(pos: np.ndarray, elements: Sequence[str]) -> str | None:
    if pos.ndim != 2 or pos.shape[1] != 3:
        return f"positions must have shape [N, 3], got {list(pos.shape)}"
    if len(elements) != len(pos):
        return f"{len(elements)} elements for {len(pos)} positions"
    if len(pos) == 0:
        return "no atoms"
    if not np.isfinite(pos).all():
        return "non-finite coordinates (NaN or inf)"
    if len(pos) > 1:
        d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
        d[np.diag_indices(len(pos))] = np.inf
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        if d[i, j] < MIN_ATOM_DISTANCE:
            return f"atoms {min(i, j)} and {max(i, j)} overlap ({d[i, j]:.2f} A apart)"
    return None


def _sanitized(mol: Chem.Mol) -> tuple[Chem.Mol | None, str | None]:
    out = Chem.Mol(mol)
    for atom in out.GetAtoms():
        atom.SetNoImplicit(False)
        atom.SetNumExplicitHs(0)
    try:
        Chem.SanitizeMol(out)
    except Exception as exc:  # noqa: BLE001 -- RDKit raises several types; all mean "invalid"
        return None, f"{type(exc).__name__}: {exc}".strip()
    return out, None


def _largest(mol: Chem.Mol, sanitize: bool) -> Chem.Mol:
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=sanitize)
    return max(frags, key=lambda m: m.GetNumAtoms())


def reconstruct_mol(
    pos: np.ndarray, elements: Sequence[str], *, largest_fragment: bool = False
) -> ReconstructedMol:
    """Turn generated heavy atoms into an RDKit molecule with bonds perceived from 3D.

    Args:
        pos: ``[N, 3]`` coordinates in Angstrom.
        elements: ``N`` element symbols (``"C"``, ``"Cl"``; case-insensitive).
        largest_fragment: keep only the largest fragment in ``mol`` (``connected`` and
            ``n_fragments`` still describe the whole input).

    Returns:
        A :class:`ReconstructedMol`; never raises.
    """
    lg = RDLogger.logger()
    lg.setLevel(RDLogger.CRITICAL)
    try:
        return _reconstruct(np.asarray(pos, dtype=float), list(elements), largest_fragment)
    except Exception as exc:  # noqa: BLE001 -- the contract is: never raise
        return ReconstructedMol(None, False, False, 0, error=f"{type(exc).__name__}: {exc}")
    finally:
        lg.setLevel(RDLogger.WARNING)


def _reconstruct(pos: np.ndarray, elements: list[str], largest_fragment: bool) -> ReconstructedMol:
    from rdkit.Chem import rdDetermineBonds

    problem = _check_input(pos, elements)
    overlap = problem is not None and problem.startswith("atoms ")
    if problem and not overlap:
        return ReconstructedMol(None, False, False, 0, error=problem)
    try:
        bare = _build_atoms(pos, elements)
    except Exception as exc:  # noqa: BLE001
        return ReconstructedMol(None, False, False, 0, error=f"bad element: {exc}")
    rdDetermineBonds.DetermineConnectivity(bare, useHueckel=False, charge=0, covFactor=1.3)
    n_frags = len(Chem.GetMolFrags(bare))
    connected = n_frags == 1
    if overlap:
        return ReconstructedMol(bare.GetMol(), False, connected, n_frags, error=problem)

    perceived = Chem.RWMol(bare)
    assign_bond_orders(perceived)
    attempts = [("geometry", perceived.GetMol()), ("single_bonds", bare.GetMol())]
    errors = []
    for method, candidate in attempts:
        mol, err = _sanitized(candidate)
        if mol is None:
            errors.append(f"{method}: {err}")
            continue
        Chem.AssignStereochemistryFrom3D(mol)
        if largest_fragment and not connected:
            mol = _largest(mol, sanitize=True)
        smiles = Chem.MolToSmiles(mol)
        return ReconstructedMol(mol, True, connected, n_frags, smiles=smiles, method=method)
    best = perceived.GetMol()
    if largest_fragment and not connected:
        best = _largest(best, sanitize=False)
    return ReconstructedMol(best, False, connected, n_frags, error="; ".join(errors))
