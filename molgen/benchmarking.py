"""Settings of the scripts in ``benchmarks/``: one YAML per benchmark in ``conf/benchmark/``.

Each ``conf/benchmark/<name>.yaml`` holds the full-run defaults at its top level and, under
``quick:``, the values a ``--quick`` smoke run replaces them with. A script calls::

    cfg = benchmark_config("crossdocked", quick=args.quick, overrides=args.overrides)

where ``overrides`` are ``key=value`` strings from the command line (OmegaConf dot-list syntax,
e.g. ``n_samples=20 sampler.steps=50``). Unknown keys are refused, so a typo cannot silently
run the default.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

from omegaconf import DictConfig, OmegaConf

from molgen.config import CONFIG_DIR, register_resolvers
from molgen.errors import MolgenInputError

__all__ = ["BENCHMARK_DIR", "benchmark_config", "benchmark_parser", "best_time", "parse_benchmark_args"]

BENCHMARK_DIR = CONFIG_DIR / "benchmark"


def benchmark_config(name: str, *, quick: bool = False, overrides: Sequence[str] = ()) -> DictConfig:
    """The resolved settings of benchmark ``name`` (quick profile merged in, then ``overrides``)."""
    path = BENCHMARK_DIR / f"{name}.yaml"
    if not path.is_file():
        raise MolgenInputError(f"{path}: no such benchmark config")
    register_resolvers()
    base = OmegaConf.load(path)
    quick_values = base.pop("quick", None) or {}
    cfg = OmegaConf.merge(base, quick_values) if quick else base
    bad = [o for o in overrides if "=" not in o]
    if bad:
        raise MolgenInputError(f"{path.name}: overrides must be key=value, got {bad}")
    OmegaConf.set_struct(cfg, True)  # refuse keys the YAML does not define
    try:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except Exception as exc:  # omegaconf raises ConfigKeyError / ValidationError
        raise MolgenInputError(f"{path.name}: bad override {list(overrides)}: {exc}") from exc
    OmegaConf.resolve(cfg)
    return cfg


def benchmark_parser(name: str, description: str | None, quick_help: str) -> argparse.ArgumentParser:
    """The command line every benchmark script shares: ``[--quick] [key=value ...]``."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"{quick_help} (conf/benchmark/{name}.yaml, quick:)")
    ap.add_argument("overrides", nargs="*", help=f"key=value settings of conf/benchmark/{name}.yaml")
    return ap


def parse_benchmark_args(name: str, argv: Sequence[str] | None, description: str | None,
                         quick_help: str) -> tuple[argparse.Namespace, DictConfig]:
    """Parse a benchmark script's command line; return the arguments and the resolved settings."""
    args = benchmark_parser(name, description, quick_help).parse_args(argv)
    return args, benchmark_config(name, quick=args.quick, overrides=args.overrides)


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall seconds of ``fn`` over ``repeats`` calls after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best
