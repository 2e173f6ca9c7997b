"""``molgen sample --help`` and ``molgen eval --help``: the main keys with their defaults; and the key
that was meant when an override names one the config lacks (``n_sample=5`` -> ``n_samples``).

The keys, defaults and explanations are read from the command's own ``conf/<command>.yaml`` (its
top-level keys and their comments, in its sections), so the help cannot drift from the config.
For ``sample`` a table adds what depends on the task: the bundled checkpoint, its sampler and
number of steps (read from the checkpoint), and the output folder.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from molgen.config import CONFIG_DIR, REPO_ROOT

__all__ = ["command_help", "config_sections", "misspelt_key_hints"]

_KEY_LINE = re.compile(r"^(?P<key>[A-Za-z_]\w*):(?P<value>[^#]*?)\s*(?:#\s?(?P<comment>.*))?$")
_CONTINUATION = re.compile(r"^\s+#\s?(?P<comment>.*)$")
_SKIPPED_KEYS = ("defaults", "hydra")
_WIDTH, _KEY_WIDTH = 100, 26


@dataclass
class Section:
    """A block of top-level keys of a config file, under its heading comment (None: the first)."""

    title: str | None
    keys: list[tuple[str, str, str]] = field(default_factory=list)  # (key, default, explanation)


def config_sections(path: Path) -> list[Section]:
    """The top-level keys of a Hydra config file with their default and comment, in sections: a
    comment line at column 0 after a blank line starts a section and titles it."""
    sections = [Section(None)]
    after_blank, seen_key, in_skipped = True, False, False
    for line in path.read_text().splitlines():
        if not line.strip():
            after_blank = True
            continue
        match = _KEY_LINE.match(line)
        if line.startswith("#"):
            if after_blank and seen_key:  # (comments before the first key: the file's header)
                sections.append(Section(line.lstrip("# ").strip()))
        elif match:
            in_skipped = match["key"] in _SKIPPED_KEYS
            seen_key = seen_key or not in_skipped
            if not in_skipped:
                comment = (match["comment"] or "").strip()
                sections[-1].keys.append((match["key"], match["value"].strip(), comment))
        elif (cont := _CONTINUATION.match(line)) and sections[-1].keys and not in_skipped:
            key, value, comment = sections[-1].keys[-1]
            sections[-1].keys[-1] = (key, value, f"{comment} {cont['comment'].strip()}".strip())
        after_blank = False
    return [s for s in sections if s.keys]


def _task_defaults() -> list[tuple[str, str, str, str, str]]:
    """Per task of ``conf/task``: (task, checkpoint, sampler, steps, outdir) of ``molgen sample``."""
    from molgen.config import compose

    default = str(compose("sample").hydra.runtime.choices.task)
    rows = []
    tasks = sorted(p.stem for p in (CONFIG_DIR / "task").glob("*.yaml"))
    for task in sorted(tasks, key=lambda t: (t != default, t)):
        cfg = compose("sample", [f"task={task}"])
        ckpt = Path(str(cfg.task.checkpoint))
        sampler, steps = _checkpoint_sampling(ckpt)
        shown = ckpt.relative_to(REPO_ROOT) if ckpt.is_relative_to(REPO_ROOT) else ckpt
        rows.append((task, str(shown), sampler, steps, str(cfg.outdir)))
    return rows


def _checkpoint_sampling(path: Path) -> tuple[str, str]:
    """(sampler class, steps) stored in a checkpoint's config; '-' where it cannot be read."""
    if not path.is_file():
        return "-", "-"
    try:
        import torch

        task = torch.load(path, map_location="cpu", weights_only=True, mmap=True)["config"]["task"]
    except Exception:  # a help screen never fails on a checkpoint it only describes
        return "-", "-"
    sampler = (task.get("sampler") or {}).get("_target_", "-").rsplit(".", 1)[-1]
    return sampler, str(task.get("sample_steps", "-"))


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def command_help(command: str, config_name: str) -> str:
    """The help screen of ``molgen <command>`` (module docstring)."""
    lines = [f"usage: molgen {command} [key=value ...]",
             "",
             f"The main keys of conf/{config_name}.yaml with their defaults; any other config value as",
             "a.b=value. --cfg job prints the whole config, -m sweeps, --hydra-help shows Hydra's help."]
    for section in config_sections(CONFIG_DIR / f"{config_name}.yaml"):
        lines += ["", section.title or "main keys"]
        width = min(max(len(f"{k}={v}") for k, v, _ in section.keys), _KEY_WIDTH)
        for key, value, comment in section.keys:
            setting = f"{key}={value}"
            text = textwrap.wrap(comment, _WIDTH - width - 4) or [""]
            if len(setting) > width:  # a long default: its explanation on the lines below
                lines.append(f"  {setting}")
                setting = ""
            lines += [f"  {setting if i == 0 else '':<{width}}  {t}".rstrip() for i, t in enumerate(text)
                      if t or i == 0 and setting]
    if command == "sample":
        lines += ["", "per task (task=NAME; the first is the default)"]
        header = ("task", "bundled checkpoint", "its sampler", "its steps", "outdir")
        lines += _table([header, *_task_defaults()])
    return "\n".join(lines)


def _meant(key: str, tree: dict) -> str | None:
    """The existing key closest to ``key`` (dotted), changing the first part that does not exist."""
    parts, node = key.split("."), tree
    for i, part in enumerate(parts):
        if isinstance(node, dict) and part in node:
            node = node[part]
            continue
        options = [str(k) for k in node] if isinstance(node, dict) else []
        close = difflib.get_close_matches(part, options, n=1, cutoff=0.6)
        return ".".join([*parts[:i], close[0], *parts[i + 1:]]) if close else None
    return None


def misspelt_key_hints(config_name: str, args: list[str]) -> list[str]:
    """For each override whose key the composed config lacks and that is close to one it has:
    "no key 'n_sample' in this config: did you mean n_samples=5?". Empty when there is none (or
    the overrides do not compose for another reason, which Hydra's own message explains)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import ConfigCompositionException
    from omegaconf import OmegaConf

    from molgen.config import compose

    overrides = [a for a in args if "=" in a and not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # Hydra reports a malformed override itself
        return []
    kept = {o.key_or_group: a for a, o in zip(overrides, parsed) if not o.is_sweep_override()}
    unknown: dict[str, str] = {}
    GlobalHydra.instance().clear()  # the failed app leaves Hydra initialised
    for _ in range(len(kept) + 1):
        try:
            cfg = compose(config_name, list(kept.values()))
            break
        except ConfigCompositionException as exc:
            match = re.search(r"Could not override '([^']+)'", str(exc))
            if not match or match[1] not in kept:
                return []
            unknown[match[1]] = kept.pop(match[1])
        finally:
            GlobalHydra.instance().clear()
    else:
        return []
    tree = OmegaConf.to_container(cfg, resolve=False)
    hints = []
    for key, arg in unknown.items():
        meant = _meant(key, tree)
        if meant is not None:
            hints.append(f"no key '{key}' in this config: did you mean {meant}={arg.split('=', 1)[1]}?")
    return hints
