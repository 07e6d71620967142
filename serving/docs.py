"""The API's own documentation: offline Swagger UI and the reason codes in the OpenAPI document.

`/docs` and `/redoc` load their JavaScript and CSS from the installed `fastapi-offline` package
(served under `/docs-assets`), never from a CDN, so they work on a machine without internet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from recsys.runtime import ReasonCode
from recsys.runtime.reasons import reason_grammar

DOCS_ASSETS = "/docs-assets"
#: Swagger UI asks an outside validator about the schema unless told not to.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def offline_app(**kwargs: Any) -> FastAPI:
    """A FastAPI app whose /docs and /redoc need nothing from the internet."""
    return FastAPIOffline(
        static_url=DOCS_ASSETS, swagger_ui_parameters=SWAGGER_UI_PARAMETERS, **kwargs
    )


def reason_code_schema() -> dict[str, Any]:
    return {
        "title": "ReasonCode",
        "type": "string",
        "enum": [code.value for code in ReasonCode],
        "description": (
            "The codes of the reasons an answer gives for each item. A reason is written "
            + ", ".join(f"`{reason_grammar(code)}`" for code in ReasonCode)
            + ": the argument names the item or circle the reason refers to."
        ),
    }


def with_reason_codes(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """app.openapi that also lists the ReasonCode enum among the document's schemas."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("schemas", {})["ReasonCode"] = (
                reason_code_schema()
            )
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi
