"""The public, flat names of the nested settings (:mod:`bot.config`).

The settings are grouped into models (``settings.slack.post_interval``), but
operators, the Helm chart and the docs name each one flat: the environment
variable ``HONUA_BOT_SLACK_POST_INTERVAL`` and the key ``slack_post_interval`` of
the ``--config`` file. :func:`flat_settings` derives that table from the models
(a group's ``flat_prefix`` + the field name, or the group's ``flat_names``
override), so no name is written twice; :func:`nest` turns flat values into the
nested shape, and :func:`public_error` names the flat setting in a validation
error instead of the nested path.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from copy import copy
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "HONUA_BOT_"


class SettingsGroup(BaseModel):
    """A group of settings. Each field's flat name is ``flat_prefix`` + its name,
    unless ``flat_names`` maps the field to another one."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    flat_prefix: ClassVar[str] = ""
    flat_names: ClassVar[dict[str, str]] = {}


@dataclass(frozen=True)
class FlatSetting:
    name: str  # the --config file's key; the environment variable is ENV_PREFIX + NAME
    group: str | None  # the Settings field holding the group; None: a top-level setting
    field: str  # the field in the group (or at the top level)
    info: FieldInfo

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def path(self) -> tuple[str, ...]:
        return (self.group, self.field) if self.group else (self.field,)

    @property
    def label(self) -> str:
        """How an error names it: both ways an operator may have set it."""
        return f"{self.env} ({self.name})"


def _group(info: FieldInfo) -> type[SettingsGroup] | None:
    kind = info.annotation
    return kind if isinstance(kind, type) and issubclass(kind, SettingsGroup) else None


@functools.cache
def flat_settings(settings_cls: type[BaseModel]) -> dict[str, FlatSetting]:
    """Flat name → setting, for every leaf of ``settings_cls`` (in declaration order)."""
    table: dict[str, FlatSetting] = {}

    def add(setting: FlatSetting) -> None:
        if setting.name in table or setting.name in groups:
            raise TypeError(f"settings: flat name {setting.name!r} is not unique")
        table[setting.name] = setting

    groups = {name for name, info in settings_cls.model_fields.items() if _group(info)}
    for name, info in settings_cls.model_fields.items():
        group = _group(info)
        if group is None:
            add(FlatSetting(name, None, name, info))
            continue
        unknown = set(group.flat_names) - set(group.model_fields)
        if unknown:
            raise TypeError(f"{group.__name__}.flat_names: no such fields {sorted(unknown)}")
        for field, field_info in group.model_fields.items():
            flat = group.flat_names.get(field, group.flat_prefix + field)
            add(FlatSetting(flat, name, field, field_info))
    return table


def _fields(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return {name: getattr(value, name) for name in value.model_fields_set}
    return dict(value)


def nest(values: Mapping[str, Any], table: Mapping[str, FlatSetting]) -> dict[str, Any]:
    """Flat names moved into their groups; group keys (already nested) are merged,
    a flat name winning; anything else is kept as given (validation rejects an
    unknown key, naming it)."""
    out: dict[str, Any] = {}
    flat: list[tuple[FlatSetting, Any]] = []
    for key, value in values.items():
        setting = table.get(key)
        if setting is not None and setting.group is not None:
            flat.append((setting, value))
        else:
            out[key] = value
    for setting, value in flat:
        assert setting.group is not None
        current = out.get(setting.group)
        if current is None:
            out[setting.group] = {setting.field: value}
        elif isinstance(current, Mapping | BaseModel):
            out[setting.group] = {**_fields(current), setting.field: value}
    return out


def public_error(exc: ValidationError, table: Mapping[str, FlatSetting]) -> ValidationError:
    """``exc`` with each nested location (``slack.post_interval``) replaced by the
    flat setting's names (``HONUA_BOT_SLACK_POST_INTERVAL (slack_post_interval)``)."""
    by_path = {setting.path: setting for setting in table.values()}
    details: list[InitErrorDetails] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        for depth in (2, 1):
            setting = by_path.get(loc[:depth])  # type: ignore[arg-type]
            if setting is not None:
                loc = (setting.label, *loc[depth:])
                break
        # the message as pydantic wrote it (without a context it is not formatted again)
        details.append(
            {
                "type": PydanticCustomError(error["type"], error["msg"]),
                "loc": loc,
                "input": error["input"],
            }
        )
    return ValidationError.from_exception_data(exc.title, details, hide_input=True)


class _FlatEnvironment(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")


@functools.cache
def flat_model(settings_cls: type[BaseModel]) -> type[BaseSettings]:
    """One flat field per setting, named and typed like the public name: what the
    environment is read through (JSON lists and maps decoded as pydantic-settings
    does) and what the Helm chart's schema is generated from."""
    fields: dict[str, Any] = {
        name: (setting.info.annotation, copy(setting.info))
        for name, setting in flat_settings(settings_cls).items()
    }
    model: type[BaseSettings] = create_model(  # type: ignore[call-overload]
        "FlatSettings", __base__=_FlatEnvironment, **fields
    )
    return model
