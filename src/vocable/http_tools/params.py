"""The JSON schema subset an HTTP tool's parameters are written in, and argument checks.

A tool's ``parameters`` is an object schema::

    {"type": "object",
     "properties": {"order_id": {"type": "string", "description": "..."},
                    "size": {"type": "string", "enum": ["S", "M", "L"]},
                    "count": {"type": "integer"}},
     "required": ["order_id"]}

Properties are ``string``, ``number``, ``integer`` or ``boolean``, each with an optional
``description`` and ``enum``; nothing nested. Small on purpose: the embedded LLMs fill
flat arguments reliably, and a GET sends them as query parameters.
"""

from __future__ import annotations

import re
from typing import Any

SIMPLE_TYPES = ("string", "number", "integer", "boolean")
MAX_PROPERTIES = 20
MAX_ENUM = 50
MAX_PROPERTY_DESCRIPTION = 500
PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_SCHEMA_KEYS = frozenset({"type", "properties", "required", "additionalProperties"})
_PROPERTY_KEYS = frozenset({"type", "description", "enum"})
EMPTY: dict[str, Any] = {"type": "object", "properties": {}, "required": []}


def _is_type(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            return True
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_schema(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` normalised (``required`` present, ``additionalProperties`` false) if it
    is a schema of the subset above; ``ValueError`` saying what is wrong otherwise."""
    if value.get("type") != "object":
        raise ValueError('must be a JSON schema with "type": "object"')
    extra = sorted(set(value) - _SCHEMA_KEYS)
    if extra:
        raise ValueError(f"unsupported keys {extra}: use type, properties and required")
    properties = value.get("properties", {})
    if not isinstance(properties, dict):
        raise ValueError('"properties" must be an object')
    if len(properties) > MAX_PROPERTIES:
        raise ValueError(f"at most {MAX_PROPERTIES} properties")
    out: dict[str, Any] = {}
    for name, prop in properties.items():
        out[name] = _check_property(name, prop)
    required = value.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise ValueError('"required" must be a list of property names')
    unknown = [r for r in required if r not in properties]
    if unknown:
        raise ValueError(f'"required" names properties that do not exist: {unknown}')
    if value.get("additionalProperties", False) is not False:
        raise ValueError('"additionalProperties" may only be false')
    return {
        "type": "object",
        "properties": out,
        "required": list(dict.fromkeys(required)),
        "additionalProperties": False,
    }


def _check_property(name: str, prop: Any) -> dict[str, Any]:
    where = f"property {name!r}"
    if not PROPERTY_NAME.match(name):
        raise ValueError(f"{where}: names are letters, digits and _ (at most 64)")
    if not isinstance(prop, dict):
        raise ValueError(f"{where} must be an object")
    extra = sorted(set(prop) - _PROPERTY_KEYS)
    if extra:
        raise ValueError(f"{where}: unsupported keys {extra} (type, description, enum)")
    kind = prop.get("type")
    if kind not in SIMPLE_TYPES:
        raise ValueError(f"{where}: type must be one of {', '.join(SIMPLE_TYPES)}")
    out: dict[str, Any] = {"type": kind}
    description = prop.get("description")
    if description is not None:
        if not isinstance(description, str) or len(description) > MAX_PROPERTY_DESCRIPTION:
            raise ValueError(
                f"{where}: description must be text of at most {MAX_PROPERTY_DESCRIPTION} "
                "characters"
            )
        out["description"] = description
    if "enum" in prop:
        enum = prop["enum"]
        if not isinstance(enum, list) or not 1 <= len(enum) <= MAX_ENUM:
            raise ValueError(f"{where}: enum must be a list of 1 to {MAX_ENUM} values")
        if not all(_is_type(v, kind) for v in enum):
            raise ValueError(f"{where}: every enum value must be a {kind}")
        out["enum"] = enum
    return out


def check_arguments(schema: dict[str, Any], arguments: Any) -> list[str]:
    """What is wrong with the LLM's ``arguments`` for ``schema`` (empty when nothing)."""
    if not isinstance(arguments, dict):
        return ["the arguments must be a JSON object"]
    properties: dict[str, Any] = schema.get("properties", {})
    problems = [
        f"{name} is required" for name in schema.get("required", []) if name not in arguments
    ]
    for name, value in arguments.items():
        prop = properties.get(name)
        if prop is None:
            problems.append(f"{name} is not a parameter of this tool")
        elif value is None and name not in schema.get("required", []):
            continue  # an optional argument sent as null: left out of the request
        elif not _is_type(value, prop["type"]):
            problems.append(f"{name} must be a {prop['type']}")
        elif "enum" in prop and value not in prop["enum"]:
            problems.append(f"{name} must be one of {prop['enum']}")
    return problems
