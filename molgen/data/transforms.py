"""Small callables on :class:`~molgen.data.featurize.ComplexData` (compose with PyG's ``Compose``)."""

from __future__ import annotations

from molgen.data.featurize import ComplexData
from molgen.errors import MolgenInputError

__all__ = ["CenterOnPocket"]


class CenterOnPocket:
    """Move a complex so that the pocket centroid is at the origin.

    The pocket fixes the frame; the same offset is subtracted from ``ligand_pos`` and
    ``pocket_pos``. The offset is stored as ``center`` ``[1, 3]`` (added to an existing ``center``
    if the graph was already moved), so ``pos + center`` is back in the receptor frame (see
    ``unbatch_ligands(..., to_receptor_frame=True)``). Returns a shallow copy; the input is left
    untouched.
    """

    def __call__(self, data: ComplexData) -> ComplexData:
        if data.pocket_pos.size(0) == 0:
            raise MolgenInputError(f"{data.name}: cannot centre on an empty pocket")
        offset = data.pocket_pos.mean(dim=0, keepdim=True)
        out = data.__class__(**data.to_dict())  # shallow copy: new graph, tensors shared
        out.pocket_pos = data.pocket_pos - offset
        out.ligand_pos = data.ligand_pos - offset
        previous = getattr(data, "center", None)
        out.center = offset if previous is None else previous + offset
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"

