"""The JSON Schema (draft 2020-12) of the manifest format, for editors and other tools.

It describes the structure :mod:`reconcile.manifest` accepts; field names and their
values depend on the tenant and are checked by ``reconcile validate`` with the lock.
"""

from __future__ import annotations

from typing import Any

from reconcile.manifest.parse import MAX_KEY_CHARS
from reconcile.ticket import DISPLAY_ID

SCHEMA_ID = "https://reconcile.invalid/schemas/manifest.json"


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of one manifest document."""
    field_keys = {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "uniqueItems": True,
    }
    fields = {
        "description": (
            "Field values by field name, label (case-insensitive) or field UUID. "
            'An empty value ("", null or []) clears the field; a field not listed is not managed.'
        ),
        "type": ["object", "null"],
        "propertyNames": {"minLength": 1, "not": {"const": "<<"}},
        "additionalProperties": {"$ref": "#/$defs/value"},
    }
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "reconcile manifest",
        "description": "Ticket field values declared in git, planned and applied by reconcile.",
        "type": "object",
        "required": ["tickets"],
        "additionalProperties": False,
        "properties": {
            "defaults": {
                "description": "Merged under every ticket's fields of this document.",
                "type": "object",
                "additionalProperties": False,
                "properties": {"fields": {"$ref": "#/$defs/fields"}},
            },
            "sensitive": {
                "description": "Fields whose values are masked in every output, for all tickets.",
                "$ref": "#/$defs/field_keys",
            },
            "protected": {
                "description": "Fields that apply changes only with --allow-protected.",
                "$ref": "#/$defs/field_keys",
            },
            "tickets": {"type": "array", "items": {"$ref": "#/$defs/ticket"}},
        },
        "$defs": {
            "ticket": {
                "type": "object",
                "anyOf": [{"required": ["id"]}, {"required": ["key", "type"]}],
                "additionalProperties": False,
                "properties": {
                    "id": {
                        "description": "Display ID (object_id) such as REQ-0509, never the UUID.",
                        "type": "string",
                        "pattern": DISPLAY_ID.pattern,
                    },
                    "key": {
                        "description": (
                            "A stable key, unique across the manifests: a ticket with a key "
                            "and no id is created once, with the key in the key_field."
                        ),
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_KEY_CHARS,
                    },
                    "type": {
                        "description": "The ticket type to create, by prefix or by name.",
                        "type": "string",
                        "minLength": 1,
                    },
                    "team": {
                        "description": "The team of the ticket to create.",
                        "type": ["string", "null"],
                    },
                    "fields": {"$ref": "#/$defs/fields"},
                    "sensitive": {"$ref": "#/$defs/field_keys"},
                    "protected": {"$ref": "#/$defs/field_keys"},
                },
            },
            "fields": fields,
            "field_keys": {**field_keys, "type": ["array", "null"]},
            "value": {
                "anyOf": [
                    {"type": "string"},
                    {"type": "number"},
                    {"type": "boolean"},
                    {"type": "null"},
                    {"type": "array"},
                ]
            },
        },
    }
    # A document is a ticket document (above) or a policy document: keep the ticket
    # document's rules under $defs and let the top level be either one.
    ticket_document = {
        key: schema.pop(key) for key in ("type", "required", "additionalProperties", "properties")
    }
    selection_values = {"anyOf": [{"$ref": "#/$defs/value"}]}
    names = {"anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "minItems": 1}]}
    schema["$defs"]["ticket_document"] = ticket_document
    schema["$defs"]["policy_document"] = {
        "type": "object",
        "required": ["policy", "select", "fields"],
        "additionalProperties": False,
        "properties": {
            "policy": {
                "description": "The policy's name, unique across the manifests.",
                "type": "string",
                "minLength": 1,
            },
            "select": {
                "description": "Which live tickets the policy applies to (computed at plan time).",
                "type": "object",
                "required": ["type"],
                "additionalProperties": False,
                "properties": {
                    "type": {**names, "description": "Ticket prefix or type name, or a list."},
                    "team": {
                        "description": "A team or list of teams; null matches no team.",
                        "type": ["string", "null", "array"],
                    },
                    "where": {
                        "description": "Field key: live value, or a list of values (any).",
                        "type": "object",
                        "additionalProperties": selection_values,
                    },
                },
            },
            "fields": fields,
            "sensitive": {"$ref": "#/$defs/field_keys"},
            "protected": {"$ref": "#/$defs/field_keys"},
        },
    }
    schema["oneOf"] = [
        {"$ref": "#/$defs/ticket_document"},
        {"$ref": "#/$defs/policy_document"},
    ]
    return schema
