"""Run configurations: defaults, then a dataset preset, then a YAML file, then flags.

Both stages use frozen dataclasses; :func:`make_config` layers the sources in that order.
The presets are the paper's datasets; each also fixes the class count it expects.
"""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Config = TypeVar("Config", bound="DataclassInstance")


def read_yaml(path: Path) -> dict:
    """A YAML mapping of config keys; one-line :class:`ConfigError` on anything else."""
    import yaml  # the train extra's; the configs themselves import without it

    try:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read YAML config ({error})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys")
    return loaded


def make_config(
    cls: type[Config], presets: dict[str, dict], preset: str | None = None, yaml_file: Path | None = None, **overrides
) -> Config:
    """``cls()`` updated by ``presets[preset]``, the YAML file, then overrides (``None`` = unset).

    Tuple fields accept a list or a comma-separated string.
    """
    values: dict = {}
    if preset is not None:
        if preset not in presets:
            raise ConfigError(f"unknown preset {preset!r}; choose from {', '.join(presets)}")
        values.update(presets[preset])
    if yaml_file is not None:
        values.update(read_yaml(yaml_file))
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = sorted(set(values) - {f.name for f in fields(cls)})
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
    defaults = cls()
    for name, value in list(values.items()):
        if isinstance(getattr(defaults, name), tuple):
            items = value.split(",") if isinstance(value, str) else value
            kind = type(getattr(defaults, name)[0]) if getattr(defaults, name) else str
            values[name] = tuple(
                kind(item.strip()) if isinstance(item, str) else kind(item)
                for item in items
                if not isinstance(item, str) or item.strip()
            )
    return replace(defaults, **values)


def config_to_dict(config) -> dict:
    """JSON/YAML-serialisable form of a config dataclass (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}
