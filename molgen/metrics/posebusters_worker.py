"""Child process of :func:`molgen.metrics.pocket.posebusters_checks`: PoseBusters one molecule at a time.

Run as ``python -m molgen.metrics.posebusters_worker``. Reads a pickle of ``(mols, receptor,
config)`` from stdin (``mols``: RDKit binary molecules), prints ``ready`` once PoseBusters is
imported, then one JSON line per molecule (its ``pb_`` verdicts, or ``{"pb_error": ...}``) as each
is done, so that the parent can give up a molecule that takes too long and go on with the rest.
It ends itself once its parent is gone (a killed benchmark leaves no PoseBusters run behind: one
molecule's energy-ratio conformers can take many minutes, and nothing would stop it otherwise).
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import threading
import time


def exit_with_parent(parent: int, every: float = 1.0) -> None:
    """End this process as soon as ``os.getppid()`` is no longer ``parent`` (checked every ``every`` s)."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


def main() -> None:
    threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()
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
