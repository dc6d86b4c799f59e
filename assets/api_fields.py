"""The API's item fields, shared by examples and job definitions."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field

from core.api_common import RawJSONField

ITEM_SCHEMA = {
    "oneOf": [
        {"type": "string", "description": "an http(s) URL of an image, or (compare) a text item"},
        {
            "type": "object",
            "description": "an image uploaded before with POST /api/assets/",
            "properties": {"asset_id": {"type": "string"}},
            "required": ["asset_id"],
            "additionalProperties": False,
        },
    ]
}


FILE_ITEM_SCHEMA = {
    "type": "object",
    "description": "multipart requests only: the image sent in this form field",
    "properties": {"file": {"type": "string"}},
    "required": ["file"],
    "additionalProperties": False,
}


UPLOAD_ITEM_SCHEMA = {"oneOf": [*ITEM_SCHEMA["oneOf"], FILE_ITEM_SCHEMA]}


PAIR_SCHEMA = {
    "type": "array",
    "items": ITEM_SCHEMA,
    "minItems": 2,
    "maxItems": 2,
    "description": "a compare datapoint: two distinct items",
}


@extend_schema_field(ITEM_SCHEMA)
class ItemField(RawJSONField):
    """One datapoint item: URL, text, or ``{"asset_id": ...}``."""


@extend_schema_field(PAIR_SCHEMA)
class PairField(RawJSONField):
    """Two distinct items (a compare datapoint)."""
