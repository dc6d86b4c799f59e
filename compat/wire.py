"""Reading the hosted service's request bodies: objects, ``_t``
discriminators, literals and asset references. Each helper raises
``ValidationError({field: [message]})`` saying what is wrong."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from assets import wire as job_wire


def _error(where: str, message: str) -> ValidationError:
    return ValidationError({where.split("[", 1)[0]: [f"{where} {message}"]})


def expect_object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise _error(where, "must be an object.")
    return value


def expect_type(value: Any, where: str, discriminator: str) -> dict:
    """An object whose ``_t`` is ``discriminator``."""
    obj = expect_object(value, where)
    if obj.get("_t") != discriminator:
        raise _error(where, f"must have _t {discriminator!r}, got {obj.get('_t')!r}.")
    return obj


def text(value: Any, where: str, *, max_length: int, required: bool) -> str:
    try:
        return job_wire.check_text(value, where, max_length=max_length, required=required)
    except ValidationError as exc:
        raise ValidationError({where: exc.messages}) from None


def optional_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**31:
        raise _error(where, "must be a 32-bit integer.")
    return value


def literal(value: Any, where: str) -> Any:
    """The text of ``{"literal": text}``."""
    obj = expect_object(value, where)
    if "literal" not in obj:
        raise _error(where, 'must be {"literal": text}.')
    return obj["literal"]


def asset_names(value: Any, where: str) -> list[str]:
    """The names of an ``ExistingAssetInput`` or a ``MultiAssetInput`` of them."""
    obj = expect_object(value, where)
    if obj.get("_t") == "ExistingAssetInput":
        name = obj.get("name")
        if not isinstance(name, str) or not name or len(name) > 40:
            raise _error(where, "name must be the fileName an upload returned.")
        return [name]
    if obj.get("_t") == "MultiAssetInput":
        assets = obj.get("assets")
        if not isinstance(assets, list) or not 1 <= len(assets) <= 2:
            raise _error(where, "assets must be a list of one or two ExistingAssetInput.")
        names = [asset_names(item, f"{where}.assets[{i}]")[0] for i, item in enumerate(assets)]
        if len(set(names)) != len(names):
            raise _error(where, "has the same asset twice; the items must differ.")
        return names
    raise _error(where, f"_t must be ExistingAssetInput or MultiAssetInput, got {obj.get('_t')!r}.")
