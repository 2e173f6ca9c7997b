"""Child process of :func:`molgen.metrics.pocket.posebusters_checks`: PoseBusters one molecule at a time.

Run as ``python -m molgen.metrics.posebusters_worker``. Reads a pickle of ``(mols, receptor,
config)`` from stdin (``mols``: RDKit binary molecules), prints ``ready`` once PoseBusters is
imported, then one JSON line per molecule (its ``pb_`` verdicts, or ``{"pb_error": ...}``) as each
is done, so that the parent can give up a molecule that takes too long and go on with the rest.
"""

from __future__ import annotations

import json
import pickle
import sys


def main() -> None:
    from rdkit import Chem, RDLogger

    from molgen.metrics.pocket import run_posebusters

    RDLogger.DisableLog("rdApp.*")
    blobs, receptor, config = pickle.load(sys.stdin.buffer)
    import posebusters  # noqa: F401 -- imported before the first molecule's clock starts

    print("ready", flush=True)
    for blob in blobs:
        try:
            row = run_posebusters([Chem.Mol(blob)], receptor, config)[0]
        except Exception as exc:  # noqa: BLE001 -- one molecule's failure is its row's error
            row = {"pb_error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
