"""The training options at the API's edge, made from their one declaration
(training_options.py): read from an upload's form fields, and the retrain body's model."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, create_model
from pydantic import Field as PydanticField

from modeltrain.exceptions import InvalidInput
from modeltrain.training_options import BY_FIELD, TRAINING, unknown_fields

MAX_OPTION_CHARS = 1000  # one option's text in a form


async def option_fields(request: Request, protocol: frozenset[str]) -> dict[str, str]:
    """The training options among a multipart request's fields (FastAPI has read the form, and
    keeps it); a field that neither the upload protocol (``protocol``) nor the options name is
    refused naming it."""
    form = await request.form()
    unknown_fields(set(form.keys()), set(protocol) | set(BY_FIELD))
    options = {}
    for name in BY_FIELD:
        value = form.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > MAX_OPTION_CHARS:
            raise InvalidInput(
                f"{name} must be text of at most {MAX_OPTION_CHARS} characters", field=name
            )
        options[name] = value
    return options


async def refuse_other_fields(request: Request, protocol: frozenset[str]) -> None:
    """A multipart request that takes no training options (a batch upload): any field but the
    protocol's is refused naming it."""
    form = await request.form()
    unknown_fields(set(form.keys()), set(protocol))


def document_upload_options(app: FastAPI, path: str) -> None:
    """The upload route reads the training options from its form by the table, not as
    parameters FastAPI sees: its OpenAPI body lists them too (form text; their choices where
    they have some)."""
    make_schema = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = make_schema()  # cached on the app
        if fresh:
            body = schema["paths"][path]["post"]["requestBody"]["content"]
            name = body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
            fields = schema["components"]["schemas"][name]["properties"]
            for option in TRAINING:
                field: dict[str, Any] = {"type": "string", "title": option.field,
                                         "description": option.help}  # fmt: skip
                if option.choices:
                    field["enum"] = list(option.choices)
                fields.setdefault(option.field, field)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _annotation(types: tuple[type, ...]) -> Any:
    if types == (str,):
        return str | None
    if types == (int, float):
        return float | None
    if len(types) > 1:  # checked by the option itself (training_options.parse_given), so that
        return Any  # a refusal names the field, not the union's member
    raise ValueError(f"no body type for {types}")


def _retrain_body() -> type[BaseModel]:
    """What a retrain may change: any training option, and a callbackUrl of its own. Strict:
    "30" is no number; an unknown field is refused naming it."""
    fields: dict[str, Any] = {
        option.field: (_annotation(option.json_types), PydanticField(None, description=option.help))
        for option in TRAINING
    }
    fields["callbackUrl"] = (str | None, PydanticField(None, max_length=4000))
    config = ConfigDict(extra="forbid", strict=True)
    model: type[BaseModel] = create_model("RetrainBody", __config__=config, **fields)
    return model


RetrainBody = _retrain_body()
