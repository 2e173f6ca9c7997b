"""CrossDocked2020 test-set benchmark: sample ligands for every test pocket, evaluate, print the
TargetDiff-style table beside the published rows.

    python benchmarks/crossdocked.py --quick                        # 3 pockets x 4 ligands
    python benchmarks/crossdocked.py                                # 100 pockets x 100 ligands
    python benchmarks/crossdocked.py n_pockets=10 sampler=ddim steps=50 outdir=out/cd10
    python benchmarks/crossdocked.py complexes=training n_samples=4 outdir=out/train20   # 20 training pockets

Settings: ``conf/benchmark/crossdocked.yaml`` (key=value overrides). The work is
:func:`molgen.bench.crossdocked.run`; a rerun into the same ``outdir`` resumes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from molgen.bench.crossdocked import run
    from molgen.benchmarking import parse_benchmark_args
    from molgen.manifest import CROSSDOCKED_INDEX

    _, cfg = parse_benchmark_args("crossdocked", argv, __doc__, "3 pockets x 4 ligands, 50 steps, cheap docking")
    if cfg.complexes == "crossdocked" and not (Path(cfg.root) / CROSSDOCKED_INDEX).is_file():
        print(f"skipped: the CrossDocked test set is not at {cfg.root} (no {CROSSDOCKED_INDEX}); "
              "set root=PATH")
        return 0
    t0 = time.perf_counter()
    result = run(cfg)
    print()
    print(result.markdown)
    print(f"written: {result.outdir} (molecules.csv, summary.csv, summary.md); "
          f"{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
