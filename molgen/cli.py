"""``molgen train|sample|eval|collect|data conformers``: Hydra apps over the configs in ``conf/``.

``molgen train task=molecule trainer.max_epochs=5`` composes ``conf/train.yaml`` with the given
overrides (``-m`` for multirun sweeps); ``molgen --help`` lists the commands.
"""

from __future__ import annotations

import importlib
import sys

from molgen.allocator import keep_freed_memory

__all__ = ["main", "quote_list_values"]

LIST_VALUED_KEYS = ("contig",)
"""Keys whose values are RFdiffusion-style comma lists (``contig=10-20,A5-20,10-20``). Hydra would
read the commas as a sweep (an error without ``-m``, three jobs with it); they are quoted first."""

# command -> (config name, module with run(cfg), one-line help)
HYDRA_COMMANDS = {
    "train": ("train", "molgen.commands.train", "train a denoiser (conf/train.yaml)"),
    "sample": ("sample", "molgen.commands.sample", "generate ligands / molecules / backbones (conf/sample.yaml)"),
    "eval": ("eval", "molgen.commands.eval", "evaluate ligands: RDKit, Vina, PoseBusters (conf/eval.yaml)"),
    "data conformers": ("data_conformers", "molgen.commands.conformers",
                        "3D molecules from a SMILES file (conf/data_conformers.yaml)"),
    "data leakage": ("data_leakage", "molgen.commands.leakage",
                     "training complexes with no test-set leakage, PoseBusters-checked (conf/data_leakage.yaml)"),
}
PLAIN_COMMANDS: dict[str, tuple[str, str]] = {"collect": ("molgen.commands.collect", "merge the jobs of a sweep (-m) into one table")}

USAGE = """usage: molgen <command> [hydra overrides...]

commands:
{commands}

Every command takes Hydra overrides (key=value), --cfg job to print its config, -m for a sweep.
Examples:
  molgen sample                                   # bundled pocket and checkpoint
  molgen sample receptor=rec.pdb ref_ligand=lig.sdf n_samples=100 outdir=out/
  molgen train task=ligand_pocket trainer.max_epochs=10
"""


def _usage() -> str:
    rows = [f"  {name:<8} {help_}" if len(name) <= 8 else f"  {name}\n  {'':<8} {help_}"
            for name, (_, _, help_) in HYDRA_COMMANDS.items()]
    rows += [f"  {name:<8} {help_}" for name, (_, help_) in PLAIN_COMMANDS.items()]
    return USAGE.format(commands="\n".join(rows))


def quote_list_values(arg: str) -> str:
    """``contig=10-20,A5-20,10-20`` -> ``contig='10-20,A5-20,10-20'``; other arguments, and
    values already quoted or bracketed, unchanged."""
    key, sep, value = arg.partition("=")
    if sep and key.lstrip("+~") in LIST_VALUED_KEYS and "," in value and value[:1] not in "'\"[":
        return f"{key}='{value}'"
    return arg


HELP_COMMANDS = ("sample", "eval")
"""Commands whose ``--help`` lists their main keys (:mod:`molgen.cli_help`) instead of Hydra's dump."""


def _run_hydra(command: str, args: list[str]) -> None:
    if command in HELP_COMMANDS and any(a in ("-h", "--help") for a in args):
        from molgen.cli_help import command_help

        print(command_help(command, HYDRA_COMMANDS[command][0]))
        return
    import hydra
    from omegaconf import DictConfig

    from molgen.config import CONFIG_DIR, register_resolvers
    from molgen.errors import MolgenInputError

    config_name, module, _ = HYDRA_COMMANDS[command]
    register_resolvers()
    run = importlib.import_module(module).run

    @hydra.main(config_path=str(CONFIG_DIR), config_name=config_name, version_base="1.3")
    def app(cfg: DictConfig) -> object:
        try:
            return run(cfg)
        except MolgenInputError as exc:  # a user's mistake: one clear line, no traceback
            sys.exit(f"molgen {command}: error: {exc}")

    sys.argv = [f"molgen-{command.replace(' ', '-')}", *map(quote_list_values, args)]
    try:
        app()
    except SystemExit as exc:
        if exc.code == 1:  # Hydra's exit on a config it could not compose: name the key that was meant
            from molgen.cli_help import misspelt_key_hints

            for hint in misspelt_key_hints(config_name, sys.argv[1:]):
                print(f"molgen {command}: {hint}", file=sys.stderr)
        raise


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``molgen`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return
    command, args = argv[0], argv[1:]
    keep_freed_memory()
    if args and f"{command} {args[0]}" in HYDRA_COMMANDS:  # two-word commands: `molgen data conformers`
        command, args = f"{command} {args[0]}", args[1:]
    if command in HYDRA_COMMANDS:
        _run_hydra(command, args)
    elif command in PLAIN_COMMANDS:
        importlib.import_module(PLAIN_COMMANDS[command][0]).main(args)
    else:
        sys.exit(f"molgen: unknown command {command!r}\n\n{_usage()}")


if __name__ == "__main__":  # pragma: no cover
    main()
