"""What each output of the pipeline is computed from, so that a change reruns exactly what it
affects, and a fresh clone uses the committed results instead of recomputing them.

A *stamp* describes one rule (for one environment, when the rule is per environment): the
settings its script reads (``settings.rule_params``), the content hash of every source file its
script runs (the script and the modules of this package it imports), and the digests of the
stamps of the rules whose outputs it reads. Being transitive, a stamp changes when anything
upstream of its outputs changes, even if the intermediate files in between are absent (they are
not committed). A stamp is the file ``{results}/.stamps/{name}/{digest}.json``, an input of its
rule, written when the workflow is parsed if that version is new: newer than the outputs, it
makes Snakemake rerun the jobs the change affects, and only those.

``{results}/provenance.json``, written by the last rule of the pipeline, records every stamp the
outputs were computed with. A fresh clone has the committed outputs but no stamps, and git writes
files in its own order, so their modification times say nothing; :func:`adopt` then gives the
committed outputs and each stamp that equals its record one common time, and a stamp that differs
(a setting or code changed since the results were computed) a later one.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path

from .domains import DOMAIN_KEYS
from .io import atomic_write_text
from .settings import RULES, rule_params

#: The package's folder; its modules are named by their path relative to its parent.
PACKAGE = Path(__file__).resolve().parent
#: Rules run once per environment; their stamps are named ``{rule}-{env}``.
PER_ENV = ("collect_dataset", "train", "aggregate", "tables", "claims", "tune", "tuning_table")
#: The stamps each rule's inputs come from: the pipeline's rule graph (a test checks it against
#: Snakemake's). ``{env}`` is the rule's own environment, ``*`` every environment.
UPSTREAM: dict[str, tuple[str, ...]] = {
    "collect_dataset": (),
    "train": ("collect_dataset-{env}",),
    "aggregate": ("train-{env}",),
    "tables": ("aggregate-{env}",),
    "claims": ("tables-{env}",),
    "gridworld_weights": ("collect_dataset-gridworld",),
    "lower_area_mass": ("collect_dataset-gridworld",),
    "gradient_bias": ("collect_dataset-gridworld", "train-gridworld"),
    "gradient_bias_summary": ("gradient_bias",),
    "gradient_used": ("aggregate-gridworld",),
    "gradient_used_summary": ("gradient_used",),
    "gradient_check": ("collect_dataset-swimmer", "train-swimmer"),
    "gradient_check_summary": ("gradient_check",),
    "figure1": ("gridworld_weights",),
    "figure2": ("aggregate-gridworld",),
    "figure3": ("aggregate-minigolf", "aggregate-swimmer"),
    "figure4": ("gradient_bias_summary",),
    "replication_report": (
        "claims-*",
        "aggregate-*",
        "tables-*",
        "gradient_bias_summary",
        "gradient_check_summary",
        "gradient_used_summary",
    ),
    "tune": (),
    "tuning_table": ("tune-{env}",),
    "figure5": ("tuning_table-*",),
    "provenance": ("replication_report", "figure1", "figure2", "figure3", "figure4"),
    # `snakemake robustness`: a reading's own rules are stamped in its own root (its config), so
    # the gathering of its claims has no upstream here; the verdicts read main's claims too.
    "reading_claims": (),
    "verdicts": ("replication_report", "reading_claims"),
    "figure6": ("verdicts",),
}


#: Further upstream stamps of a per-environment rule for one environment: claim 1 (the gridworld's
#: claims) reads the lower-area masses.
UPSTREAM_OF_ENV: dict[tuple[str, str], tuple[str, ...]] = {
    ("claims", "gridworld"): ("lower_area_mass",),
}


def stamp_name(rule: str, env: str | None = None) -> str:
    return f"{rule}-{env}" if rule in PER_ENV else rule


# ---------------------------------------------------------------------------------------------
# The code a script runs
# ---------------------------------------------------------------------------------------------


def _module_file(name: str) -> Path | None:
    """The source file of module ``name`` of this package (``gamps.x.y``), if it is one."""
    parts = name.split(".")
    if parts[0] != PACKAGE.name:
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _statements(body: list) -> Iterator[ast.AST]:
    """Every statement of ``body``, nested ones too (an import is a statement: no need to visit
    the expressions)."""
    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            yield from _statements(getattr(node, field, None) or [])


@cache
def _imports(path: Path) -> tuple[Path, ...]:
    """The package's modules that ``path`` imports anywhere (lazy imports in functions too), and
    the packages they are in (importing ``a.b.c`` runs ``a`` and ``a.b`` first)."""
    is_package = path.name == "__init__.py"
    here = _module_name(path) if path.is_relative_to(PACKAGE) else ""
    names: list[str] = []
    for node in _statements(ast.parse(path.read_bytes(), str(path)).body):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names.append(base)
            names += [f"{base}.{alias.name}" for alias in node.names]
    found: set[Path] = set()
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            module = _module_file(".".join(parts[:i]))
            if module is not None:
                found.add(module)
    return tuple(sorted(found))


def code_files(script: Path, envs: tuple[str, ...] | None = None) -> list[Path]:
    """Every source file ``script`` runs: itself and, transitively, the package's modules it
    imports. A job for some environments (``envs``; None: all) never runs the others' domain
    packages (the registry imports each, but only the job's own are used), so those are left
    out."""
    others = {
        PACKAGE / "domains" / name for name in DOMAIN_KEYS if envs is not None and name not in envs
    }
    seen: set[Path] = set()
    todo = [script.resolve()]
    while todo:
        path = todo.pop()
        if path in seen or any(path.is_relative_to(other) for other in others):
            continue
        seen.add(path)
        todo += _imports(path)
    return sorted(seen)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path) -> str:
    """The SHA-256 of a file's content (cached while its size and time are unchanged: the stamps
    of every reading hash the same files)."""
    stat = path.stat()
    return _cached_digest(path, stat.st_size, stat.st_mtime_ns)


@cache
def _cached_digest(path: Path, size: int, mtime_ns: int) -> str:
    return _digest(path.read_bytes())


@cache
def _code(script: Path, envs: tuple[str, ...], workflow: Path) -> tuple[tuple[str, Path], ...]:
    """``code_files`` with their names in a stamp (computed once per process, like the imports:
    every reading's stamps name the same files)."""
    return tuple((_label(path, workflow), path) for path in code_files(script, envs))


def _label(path: Path, workflow: Path) -> str:
    """A file's name in a stamp: relative to the package's parent or to the workflow."""
    for root in (PACKAGE.parent, workflow):
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return path.as_posix()


# ---------------------------------------------------------------------------------------------
# Stamps
# ---------------------------------------------------------------------------------------------


def _dump(value) -> str:
    return json.dumps(value, indent=1, sort_keys=True) + "\n"


def stamps(
    config: Mapping, workflow: str | Path, rules: Iterable[str] | None = None
) -> dict[str, str]:
    """Every stamp of ``config`` by name, as the text written to its file, for the workflow
    whose Snakefile is in ``workflow`` (its scripts are ``workflow/scripts/{rule}.py``): of
    ``rules`` and the rules upstream of them (None: every rule), for the environments in
    ``config``."""
    workflow = Path(workflow).resolve()
    envs = [env for env in DOMAIN_KEYS if env in config]
    out: dict[str, str] = {}
    # The environments each stamp's job runs: its own, or those its inputs come from.
    job_envs: dict[str, set[str]] = {}

    def build(rule: str, env: str | None) -> str:
        name = stamp_name(rule, env)
        if name in out:
            return out[name]
        upstream = {}
        job_envs[name] = {str(env)} if rule in PER_ENV else set()
        for pattern in UPSTREAM[rule] + UPSTREAM_OF_ENV.get((rule, str(env)), ()):
            up_rule, _, up_env = pattern.partition("-")
            for each in envs if up_env == "*" else [up_env.replace("{env}", str(env))]:
                up_name = stamp_name(up_rule, each or None)
                upstream[up_name] = _digest(build(up_rule, each or None).encode())
                job_envs[name] |= job_envs[up_name]
        script = workflow / "workflow" / "scripts" / f"{rule}.py"
        code = {
            label: _file_digest(path)
            for label, path in _code(script, tuple(sorted(job_envs[name])), workflow)
        }
        if rule in RULES:
            settings = rule_params(rule, dict(config), env if rule in PER_ENV else None)
        else:
            settings = {}
        out[name] = _dump({"code": code, "settings": settings, "upstream": upstream})
        return out[name]

    for rule in UPSTREAM if rules is None else rules:
        for env in envs if rule in PER_ENV else [None]:
            build(rule, env)
    return dict(sorted(out.items()))


def stamp_path(folder: str | Path, name: str, text: str) -> Path:
    """Where stamp ``name`` with content ``text`` lives: ``{folder}/{name}/{digest}.json``."""
    return Path(folder) / name / f"{_digest(text.encode())[:20]}.json"


def write_stamp(folder: str | Path, name: str, text: str) -> Path:
    """Write stamp ``name`` if this version is new (atomically); an existing version keeps its
    time. Other versions stay until :func:`prune_stamps`, so a dry run of a change, then its
    revert, finds the old version with its old time and reruns nothing."""
    path = stamp_path(folder, name, text)
    if not path.is_file():
        atomic_write_text(path, text)
    return path


def prune_stamps(folder: str | Path, texts: Mapping[str, str]) -> None:
    """Remove every version of each stamp but the current one: at the start of a real run, which
    commits to the current versions (going back to an earlier version is then a change too, as
    outputs may have been computed with the one between)."""
    for name, text in texts.items():
        keep = stamp_path(folder, name, text)
        for other in keep.parent.glob("*.json"):
            if other != keep:
                other.unlink()


def record(texts: Mapping[str, str]) -> str:
    """``{results}/provenance.json``: every stamp, parsed, by name."""
    return _dump({name: json.loads(text) for name, text in texts.items()})


def differences(recorded: Mapping, texts: Mapping[str, str]) -> list[str]:
    """A line per stamp that differs from its record: what changed (settings, code files)."""
    lines = []
    for name, text in texts.items():
        now, then = json.loads(text), recorded.get(name)
        if then is None:
            lines.append(f"{name}: not recorded")
            continue
        if now["settings"] != then.get("settings"):
            lines.append(f"{name}: settings changed")
        old = then.get("code", {})
        files = sorted(
            f for f in now["code"].keys() | old.keys() if now["code"].get(f) != old.get(f)
        )
        if files:
            lines.append(f"{name}: code changed ({', '.join(files)})")
    return lines


# ---------------------------------------------------------------------------------------------
# A fresh clone
# ---------------------------------------------------------------------------------------------


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


@cache
def invocation_time() -> float:
    """One time per process: every results root adopted by one Snakemake invocation (the main
    one and each reading's) gets the same, so that no root looks newer than another."""
    return time.time()


def adopt(texts: Mapping[str, str], results: str, folder: str | Path, marker: str | Path) -> str:
    """Make a clone's committed outputs current, once per commit checked out; a message.

    Only when ``{results}`` holds committed files, none modified, and its committed
    ``provenance.json``: then every committed file under it and every stamp equal to its record
    get one time, now, and every other stamp a later one, which reruns what reads it. The figures
    are left alone (their own times make them older, so they are redrawn from the committed
    tables, byte for byte).
    Untracked intermediate files, if any, are older than the stamps, so they are rebuilt before
    use. ``marker`` remembers the commit adopted. The time is the process's
    (``invocation_time``): every root one invocation adopts gets the same."""
    head = _git("rev-parse", "HEAD")
    tracked = _git("ls-files", "-z", "--", results)
    if not head or not tracked:
        return ""
    marker = Path(marker)
    key = f"{head.strip()} {results}\n"
    if marker.is_file() and marker.read_text() == key:
        return ""
    files = [Path(name) for name in tracked.split("\0") if name]
    recorded_path = Path(results) / "provenance.json"
    if recorded_path not in files or _git("status", "--porcelain", "-uno", "--", results) != "":
        return ""
    recorded = json.loads(recorded_path.read_text())
    changed = differences(recorded, texts)
    now = invocation_time()
    for name, text in texts.items():
        stale = recorded.get(name) != json.loads(text)
        os.utime(write_stamp(folder, name, text), (now + stale, now + stale))
    for path in files:
        if path.is_file():
            os.utime(path, (now, now))
    marker.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(marker, key)
    message = f"Using the committed results in {results}/ (commit {head.strip()[:12]})"
    if changed:
        message += "; changed since they were computed:\n  " + "\n  ".join(changed)
    return message + "\n"


# ---------------------------------------------------------------------------------------------
# Intermediate files removed by hand
# ---------------------------------------------------------------------------------------------


def _built_here(path: str, metadata: Path) -> bool:
    """Whether Snakemake recorded that it wrote ``path`` in this working directory."""
    parts = base64.urlsafe_b64encode(path.encode()).decode()
    return len(parts) < 255 and (metadata / parts).is_file()


def missing_intermediates(
    paths: Iterable[str], metadata: str | Path = ".snakemake/metadata"
) -> str:
    """A note naming the intermediate ``paths`` (datasets, runs) that were built here but are gone,
    and the one command that rebuilds them and everything computed from them. Snakemake does not
    rebuild a missing intermediate file while the outputs computed from it are current (a fresh
    clone has none), so a file deleted by hand would otherwise go unnoticed."""
    metadata = Path(metadata)
    if not metadata.is_dir():
        return ""
    gone = [path for path in paths if not os.path.exists(path) and _built_here(path, metadata)]
    if not gone:
        return ""
    return (
        f"{len(gone)} intermediate file(s) built here are missing; the outputs computed from them"
        " are kept. To rebuild them and everything computed from them:\n"
        f"  snakemake --forcerun {' '.join(gone)}\n"
    )
