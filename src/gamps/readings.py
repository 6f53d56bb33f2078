"""The readings of what the paper leaves open (REPLICATION_SPEC, "Readings"; config/readings.yaml),
rerun by ``snakemake robustness``.

A reading is an overlay of the run's config with a rationale. Its config is the run's config
with, in turn, the file's ``scale`` (caps on sizes, for compute), the overlay, and its own output
roots ``{results}/robustness/{name}`` and ``{figures}/robustness/{name}``. It reruns the claims
of the environments whose settings its overlay changes; the baseline ``main`` is the run itself.
Everything is checked before any job starts: a bad reading is named with the offending key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jsonschema
import yaml

from .domains import DOMAIN_KEYS
from .settings import merge, rule_params, section_properties

#: The baseline of every comparison: the run's own config and results, not rerun.
MAIN = "main"
SCHEMA = Path("workflow/schemas/readings.schema.yaml")
CONFIG_SCHEMA = Path("workflow/schemas/config.schema.yaml")


class ReadingError(ValueError):
    """A reading (or the readings file) that cannot be run, with the reason."""


@dataclass(frozen=True)
class Reading:
    name: str
    rationale: str
    overlay: dict
    #: The environments whose settings the overlay changes, in registry order: those it reruns.
    envs: tuple[str, ...]
    #: The reading's full config, validated.
    config: dict

    @property
    def module(self) -> str:
        """The name of its Snakemake module."""
        return f"reading_{self.name}"

    @property
    def prefix(self) -> str:
        """The prefix of its rules' names: ``{name}__train``."""
        return f"{self.name}__"

    @property
    def results(self) -> str:
        return self.config["results"]

    @property
    def module_config(self) -> dict:
        """The config its module runs: without the environments it does not rerun."""
        return {k: v for k, v in self.config.items() if k not in DOMAIN_KEYS or k in self.envs}


def path(config: Mapping, root: str | Path) -> Path:
    """The readings file of ``config``: its key ``readings``, relative to the repository ``root``
    (or absolute)."""
    return Path(root) / config["readings"]


def load(config: dict, root: str | Path) -> dict[str, Reading]:
    """Every reading of ``config``'s readings file, in the file's order, each checked."""
    file = path(config, root)
    if not file.is_file():
        raise ReadingError(f"readings file {file} not found (config key `readings`)")
    declared = yaml.safe_load(file.read_text()) or {}
    if MAIN in (declared.get("readings") or {}):
        raise ReadingError(f"reading {MAIN!r}: the name is the main replication's, not a reading's")
    _check(_validator(_schema(Path(root) / SCHEMA)), declared, _file_error)
    schema = _schema(Path(root) / CONFIG_SCHEMA)
    validator = _validator(schema)
    base = _capped(config, declared.get("scale", {}), schema)
    return {
        name: reading(config, base, name, spec, validator)
        for name, spec in declared["readings"].items()
    }


def reading(config: dict, base: dict, name: str, spec: dict, validator) -> Reading:
    """Reading ``name`` of ``spec`` (rationale, overlay) over ``base`` (the run's config with the
    scale applied), checked by ``validator`` (of the config schema); ``config`` is the run's
    own, against which changes are counted."""
    schema = validator.schema
    overlay = spec["overlay"]
    for env, section in overlay.items():
        if env not in DOMAIN_KEYS:
            raise ReadingError(
                f"reading {name!r}: {env} is not an environment ({', '.join(DOMAIN_KEYS)})"
            )
        _known_keys(schema, env, section, f"reading {name!r}: ")
    note = f"reading '{name}' (config/readings.yaml)"
    roots = {
        "name": f"{config['name']}, reading {name}",
        "results": f"{config['results']}/robustness/{name}",
        "figures": f"{config['figures']}/robustness/{name}",
        "scale_note": "; ".join(filter(None, [config["scale_note"], note])),
    }
    merged = merge(base, overlay, roots)
    _check(validator, merged, lambda error: _config_error(name, error))
    envs = changed_envs(config, overlay)
    for env in envs:
        try:
            rule_params("train", merged, env)  # resolves the step size (a tuned one too)
            _check_seeds(merged, env)
        except (ValueError, OSError) as error:
            raise ReadingError(f"reading {name!r}: {error}") from None
    return Reading(name, spec["rationale"].strip(), overlay, envs, merged)


def changed_envs(config: Mapping, overlay: Mapping) -> tuple[str, ...]:
    """The environments whose settings ``overlay`` changes: a value equal to the config's own is
    no change (such a reading is the main replication there)."""
    return tuple(
        env
        for env in DOMAIN_KEYS
        if env in overlay and merge(config[env], overlay[env]) != config[env]
    )


def describe(readings: Iterable[Reading]) -> dict[str, dict]:
    """What the report says of each reading: its rationale, and the environments it reruns with
    their number of seeds."""
    return {
        r.name: {"rationale": r.rationale, "envs": {env: r.config[env]["seeds"] for env in r.envs}}
        for r in readings
    }


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


@cache
def _schema(file: Path) -> dict:
    return yaml.safe_load(file.read_text())


def _validator(schema: dict) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(schema)


def _check(validator, instance, describe_error) -> None:
    """Raise the first error of ``instance`` (in path order), described by ``describe_error``;
    a section's leftover keys (``unevaluatedProperties``, when one of its values is invalid) only
    when there is nothing more precise."""
    errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path])
    precise = [e for e in errors if e.validator != "unevaluatedProperties"] or errors
    if precise:
        raise ReadingError(describe_error(jsonschema.exceptions.best_match([precise[0]])))


def _where(path: Iterable) -> str:
    return ".".join(str(part) for part in path)


def _file_error(error: jsonschema.ValidationError) -> str:
    where = list(error.absolute_path)
    if len(where) >= 2 and where[0] == "readings":
        rest = _where(where[2:])
        return f"reading {where[1]!r}: " + (f"{rest}: " if rest else "") + error.message
    return f"readings file: {_where(where) or 'top level'}: {error.message}"


def _config_error(name: str, error: jsonschema.ValidationError) -> str:
    return f"reading {name!r}: {_where(error.absolute_path) or 'config'}: {error.message}"


def _known_keys(schema: dict, env: str, section: Mapping, prefix: str) -> None:
    known = section_properties(schema, schema["properties"][env])
    for key in section:
        if key not in known:
            raise ReadingError(f"{prefix}{env}.{key} is not a config key")


def _capped(config: dict, scale: Mapping, schema: dict) -> dict:
    """``config`` with each size of ``scale`` capped (a reading never runs larger than the run)."""
    caps: dict[str, dict] = {}
    for env, sizes in scale.items():
        _known_keys(schema, env, sizes, "readings scale: ")
        for key, cap in sizes.items():
            value = config[env][key]
            if not isinstance(value, int) or isinstance(value, bool):
                raise ReadingError(f"readings scale: {env}.{key} is not an integer setting")
            caps.setdefault(env, {})[key] = min(value, cap)
    return merge(config, caps)


def _check_seeds(config: Mapping, env: str) -> None:
    from .tuning import check_seeds

    check_seeds(config["tuning"][env]["seeds"], config[env]["seeds"], env)
