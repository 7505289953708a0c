"""The JSON schemas of the message bodies, from the pydantic models, as AsyncAPI component schemas.

Serialization mode: the JSON as the pair writes it, which is also what it reads. Each model's schema
carries its SCHEMA_VERSION as ``x-schema-version``.
"""

from collections.abc import Mapping, Sequence
from typing import Any, cast

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import CoreSchema
from pydantic_core.core_schema import ModelSchema

from cqrs_shared.asyncapi.errors import error_code_schema

JsonSchema = dict[str, Any]
SCHEMAS = "#/components/schemas/"
OPEN_STREAM_TYPES = (
    "The kind of stream (aggregate). An open enum: a new kind comes with event types of its own; a "
    "reader that does not know it sets its events aside (dead-letters them) and skips it in a list "
    "of streams (docs/evolution.md)."
)


class WireJsonSchema(GenerateJsonSchema):
    """Schemas of the JSON as written. A value a plain serializer writes as a string (an amount, a
    consistency token) is that string, without the constraints of its Python form: pydantic would
    give a token the maxLength of its tuple of positions. A model whose wrap serializer adds a key
    is described by its fields, not by the serializer's return type (``dict``, which says nothing)."""

    def generate_inner(self, schema: Any) -> JsonSchemaValue:
        serialization = cast(Mapping[str, Any], schema).get("serialization")
        if self.mode != "serialization" or not isinstance(serialization, Mapping):
            return super().generate_inner(schema)
        if serialization.get("type") == "function-plain" and "return_schema" in serialization:
            return super().generate_inner(cast(CoreSchema, serialization["return_schema"]))
        if serialization.get("type") == "function-wrap":
            fields = {key: value for key, value in schema.items() if key != "serialization"}
            return super().generate_inner(cast(CoreSchema, fields))
        return super().generate_inner(schema)

    def model_schema(self, schema: ModelSchema) -> JsonSchemaValue:
        """A model's schema, with its SCHEMA_VERSION as ``x-schema-version`` (the compatibility check
        lets a model whose version was raised change, wherever it is embedded)."""
        found = super().model_schema(schema)
        version = getattr(schema["cls"], "SCHEMA_VERSION", None)
        return found if version is None else found | {"x-schema-version": version}


def _asyncapi_discriminators(schema: Any) -> Any:
    """OpenAPI's ``discriminator: {propertyName, mapping}`` (pydantic's) as AsyncAPI's: the name."""
    if isinstance(schema, list):
        return [_asyncapi_discriminators(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    found = {key: _asyncapi_discriminators(value) for key, value in schema.items()}
    if isinstance(found.get("discriminator"), dict) and "propertyName" in found["discriminator"]:
        found["discriminator"] = found["discriminator"]["propertyName"]
    return found


def component_schemas(bodies: Sequence[type[BaseModel]]) -> tuple[dict[type[BaseModel], str], JsonSchema]:
    """The component reference of each body model, and every component schema they use."""
    refs, top = models_json_schema(
        [(body, "serialization") for body in bodies],
        ref_template=SCHEMAS + "{model}",
        schema_generator=WireJsonSchema,
    )
    schemas: JsonSchema = _asyncapi_discriminators(top.get("$defs", {}))
    if "ErrorCode" in schemas:
        schemas["ErrorCode"] = error_code_schema(schemas["ErrorCode"])
    if "StreamType" in schemas:
        schemas["StreamType"] = schemas["StreamType"] | {"description": OPEN_STREAM_TYPES}
    return {body: str(refs[(body, "serialization")]["$ref"]) for body in bodies}, schemas
