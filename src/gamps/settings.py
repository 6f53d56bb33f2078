"""The pipeline's settings: what each rule reads of the config, config overlays, and the config's
documentation (config/README.md).

Each rule receives exactly the settings its script reads (``rule_params``), canonical (dicts
sorted recursively), because Snakemake reruns a job when the representation of its params
changes: a plot setting then redraws a plot, one more seed trains only that seed, and the order
of keys in a config file reruns nothing.

A config file given with ``--configfile`` is an overlay: Snakemake merges it recursively over
config/config.yaml (``merge`` does the same), so config/smoke.yaml and config/ci.yaml hold only
what they change.
"""

from __future__ import annotations

import copy
from pathlib import Path

from .domains import DOMAIN_KEYS
from .experiment import SETTINGS_KEYS, domain_params

#: Rules whose params depend on the ``{env}`` wildcard (``rule_params(rule, config, env)``).
PER_ENV_RULES = ("collect_dataset", "train", "tune")
#: The rules ``rule_params`` knows; a rule not listed reads no setting of the config.
RULES = (
    *PER_ENV_RULES,
    "gradient_bias",
    "gradient_used",
    "gradient_check",
    "figure5",
    "gridworld_weights",
    "lower_area_mass",
    "figure1",
    "figure2",
    "figure3",
    "figure4",
    "replication_report",
    "verdicts",
    "figure6",
)


def canonical(value):
    """``value`` with every dict sorted by key, recursively (lists keep their order)."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return type(value)(canonical(item) for item in value)
    return value


def _keys(section: dict, *keys: str) -> dict:
    return {key: section[key] for key in keys}


def _learning(config: dict, env: str) -> dict:
    """The domain keys and Algorithm 1's settings of ``env``, with the step size resolved."""
    from .tuning import resolve_step_size

    section = _keys(config[env], *DOMAIN_KEYS[env], *SETTINGS_KEYS)
    return section | {"step_size": resolve_step_size(config, env)}


def _step_setting(config: dict, env: str) -> dict:
    """How ``env``'s runs step: the update rule and each algorithm's alpha, and whether tuned."""
    from .tuning import resolve_step_size

    section = config[env]
    return {
        "update": section["update"],
        "step_size": resolve_step_size(config, env),
        "tuned": section["step_size"] == "tuned",
    }


def rule_params(rule: str, config: dict, env: str | None = None) -> dict:
    """The params of ``rule``, by name: exactly the settings its script reads, canonical.

    collect_dataset: ``domain``, the domain keys of ``env`` (they define its datasets).
    train: ``env_config``, the domain keys of ``env`` and Algorithm 1's settings, the step size
    resolved (``tuned``: each algorithm's alpha from the committed tuning table).
    tune: ``env_config``, as for train but without the step size and update rule (the grid
    point's wildcards), and the dataset sizes; ``seeds``, the tuning seeds.
    gradient_bias: ``env_config``, the gridworld's domain keys, Algorithm 1's settings (it
    recomputes the GAMPS path) and its dataset sizes; ``bias_config``, the gradient_bias section.
    gradient_used: ``env_config``, the gridworld's domain keys, Algorithm 1's settings, its dataset
    sizes and algorithms (it recomputes every algorithm's path); ``path_every`` of the
    gradient_bias section.
    gradient_check: ``env_config``, the swimmer's domain keys, q_norm, algorithms and
    reference_trajectories.
    gridworld_weights, lower_area_mass: ``env_config``, the gridworld's domain keys, q_norm and
    figure1_trajectories.
    figure1: ``actions``, the two actions drawn, and ``note``. figure2-6 and verdicts (the
    robustness report): ``note``, the config's scale note printed on the figure or atop the
    report. replication_report: ``name``, ``note``, ``reference`` (the gradient check's
    reference_trajectories, which its text names), ``step_sizes`` (per environment: the update
    rule, each algorithm's alpha, whether tuned) and ``selection`` (the folder of the tuning
    tables, read for the tuned scores).
    """
    grid = config.get("gridworld", {})  # a reading may rerun other environments only
    figure1_data = (*DOMAIN_KEYS["gridworld"], "q_norm", "figure1_trajectories")
    if rule in PER_ENV_RULES and (env is None or env not in DOMAIN_KEYS):
        raise ValueError(f"rule {rule} needs an environment, not {env!r}")
    name = str(env)
    if rule == "collect_dataset":
        params = {"domain": domain_params(name, config[name])}
    elif rule == "train":
        params = {"env_config": _learning(config, name)}
    elif rule == "tune":
        keys = (*DOMAIN_KEYS[name], *SETTINGS_KEYS, "n_trajectories")
        env_config = _keys(config[name], *(k for k in keys if k not in ("step_size", "update")))
        params = {"env_config": env_config, "seeds": config["tuning"][name]["seeds"]}
    elif rule == "gradient_bias":
        env_config = _learning(config, "gridworld") | _keys(grid, "n_trajectories")
        params = {"env_config": env_config, "bias_config": config["gradient_bias"]}
    elif rule == "gradient_used":
        env_config = _learning(config, "gridworld") | _keys(grid, "n_trajectories", "algorithms")
        params = {"env_config": env_config, "path_every": config["gradient_bias"]["path_every"]}
    elif rule == "gradient_check":
        keys = (*DOMAIN_KEYS["swimmer"], "q_norm", "algorithms", "reference_trajectories")
        params = {"env_config": _keys(config["swimmer"], *keys)}
    elif rule in ("gridworld_weights", "lower_area_mass"):
        params = {"env_config": _keys(grid, *figure1_data)}
    elif rule == "figure1":
        params = {"actions": grid["figure1_actions"], "note": config["scale_note"]}
    elif rule in ("figure2", "figure3", "figure4", "figure5", "figure6", "verdicts"):
        params = {"note": config["scale_note"]}
    elif rule == "replication_report":
        params = {
            "name": config["name"],
            "note": config["scale_note"],
            "reference": config["swimmer"]["reference_trajectories"],
            "step_sizes": {env: _step_setting(config, env) for env in DOMAIN_KEYS if env in config},
            "selection": config["tuning"]["selection"],
        }
    else:
        raise ValueError(f"rule {rule!r} reads no setting (known rules: {', '.join(RULES)})")
    return canonical(params)


# ---------------------------------------------------------------------------------------------
# Config overlays
# ---------------------------------------------------------------------------------------------


def merge(base: dict, *overlays: dict) -> dict:
    """``base`` updated recursively by each overlay in turn, as Snakemake merges ``--configfile``
    over the Snakefile's ``configfile:`` (a dict merges key by key; any other value replaces).
    The result shares nothing with its arguments."""
    merged = copy.deepcopy(base)
    for overlay in overlays:
        for key, value in overlay.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
    return merged


def load_config(*paths: str | Path) -> dict:
    """The YAML files ``paths`` merged in order, e.g. (config/config.yaml, config/smoke.yaml):
    the config a run with ``--configfile config/smoke.yaml`` sees."""
    import yaml

    return merge({}, *(yaml.safe_load(Path(path).read_text()) for path in paths))


def redundant_keys(base: dict, overlay: dict, prefix: str = "") -> list[str]:
    """Keys of ``overlay`` whose value equals ``base``'s (an overlay should hold only changes)."""
    found = []
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            found += redundant_keys(base[key], value, f"{prefix}{key}.")
        elif key in base and base[key] == value:
            found.append(f"{prefix}{key}")
    return found


# ---------------------------------------------------------------------------------------------
# config/README.md, generated from the schema and the configs
# ---------------------------------------------------------------------------------------------

OVERLAYS = ("smoke.yaml", "ci.yaml")


def _resolve(schema: dict, node: dict) -> dict:
    """``node`` with its ``$ref`` (a local ``#/$defs/...``) merged in, recursively."""
    if "$ref" not in node:
        return node
    target = schema
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolve(schema, target), **{k: v for k, v in node.items() if k != "$ref"}}


def section_properties(schema: dict, section: dict) -> dict[str, dict]:
    """Every property of an object schema, its own and those of its ``allOf`` parts, resolved."""
    section = _resolve(schema, section)
    properties: dict[str, dict] = {}
    for part in section.get("allOf", []):
        properties |= section_properties(schema, part)
    for key, node in section.get("properties", {}).items():
        properties[key] = _resolve(schema, node)
    return properties


def describe_type(schema: dict, node: dict) -> str:
    """A short type of a property schema: ``integer >= 1``, ``list of number``, ..."""
    node = _resolve(schema, node)
    if "oneOf" in node:
        return " or ".join(describe_type(schema, option) for option in node["oneOf"])
    if "const" in node:
        return f"`{node['const']}`"
    if node.get("type") == "object" and "additionalProperties" in node:
        values = describe_type(schema, node["additionalProperties"])
        keys = node.get("propertyNames", {}).get("enum")
        return f"map of {' / '.join(keys)} to {values}" if keys else f"map to {values}"
    if node.get("type") == "array":
        items = describe_type(schema, node.get("items", {}))
        low, high = node.get("minItems"), node.get("maxItems")
        kind = "pair" if low == high == 2 else "list"
        unique = ", unique" if node.get("uniqueItems") else ""
        return f"{kind} of {items}{unique}"
    if "enum" in node:
        return " \\| ".join(f"`{value}`" for value in node["enum"])
    text = node.get("type", "any")
    low = (f"[{node['minimum']}", ">=") if "minimum" in node else None
    low = (f"({node['exclusiveMinimum']}", ">") if "exclusiveMinimum" in node else low
    high = (f"{node['maximum']}]", "<=") if "maximum" in node else None
    high = (f"{node['exclusiveMaximum']})", "<") if "exclusiveMaximum" in node else high
    if low and high:
        return f"{text} in {low[0]}, {high[0]}"
    side = low or high
    if side:
        bound, relation = side
        return f"{text} {relation} {bound.strip('[]()')}"
    if node.get("minLength") == 1:
        return f"non-empty {text}"
    return text


def _value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


def _section_table(
    schema: dict, section: str, base: dict, overlays: list[dict], node: dict | None = None
) -> list[str]:
    """The table of one section of the config (``""``: its top-level keys; ``a.b``: section b
    of section a, whose schema is ``node``), in config.yaml's order: key, type, value in
    config.yaml, value in each overlay that changes it, meaning."""
    if node is None:
        node = schema["properties"][section] if section else schema
    properties = section_properties(schema, node)
    values = [config for config in [base, *overlays]]
    for part in section.split(".") if section else []:
        values = [config.get(part, {}) for config in values]
    header = ["key", "type", "config.yaml", *OVERLAYS, "meaning"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in sorted(properties, key=list(values[0]).index):
        prop = properties[name]
        if prop.get("type") == "object":
            continue  # a section: its own table
        meaning = prop.get("description", "")
        if "default" in prop:
            meaning += f" (default: {prop['default']})"
        cells = [f"`{name}`", describe_type(schema, prop)]
        cells += [_value(config.get(name)) for config in values] + [meaning]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def config_readme(root: str | Path) -> str:
    """config/README.md: a table per section of every key, its type, its value in config.yaml
    (and in each overlay that changes it) and its meaning, from workflow/schemas/ and config/.
    ``python -m gamps.settings ROOT`` rewrites the file."""
    import yaml

    root = Path(root)
    schema = yaml.safe_load((root / "workflow/schemas/config.schema.yaml").read_text())
    base = yaml.safe_load((root / "config/config.yaml").read_text())
    overlays = [yaml.safe_load((root / "config" / name).read_text()) for name in OVERLAYS]
    lines = [
        "# Configuration",
        "",
        "<!-- Generated by `python -m gamps.settings .` from workflow/schemas/config.schema.yaml",
        "and config/*.yaml; tests/test_config.py checks that it is current. Do not edit. -->",
        "",
        "`config/config.yaml` is the paper-scale replication, every value listed and commented",
        "(`snakemake --cores 8`). `config/smoke.yaml` (toy scale, seconds: the tests) and",
        "`config/ci.yaml` (the CI replication checks) are overlays: `snakemake --configfile",
        "config/smoke.yaml` merges one key by key over `config/config.yaml`, so it holds only what",
        "it changes (a blank cell below: the config.yaml value). The merged config is validated",
        "against `workflow/schemas/config.schema.yaml`, which states each key's type and meaning",
        "once, before any job starts.",
        "",
        "## Top level",
        "",
        *_section_table(schema, "", base, overlays),
    ]
    for section, node in schema["properties"].items():
        if node.get("type") == "object":
            lines += ["", f"## `{section}`", "", node["description"], ""]
            lines += _section_table(schema, section, base, overlays)
            for name, sub in section_properties(schema, node).items():
                if sub.get("type") == "object" and "properties" in sub:
                    lines += ["", f"### `{section}.{name}`", "", sub["description"], ""]
                    lines += _section_table(schema, f"{section}.{name}", base, overlays, sub)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    repository = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    (repository / "config/README.md").write_text(config_readme(repository))
