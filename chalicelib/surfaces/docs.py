"""The API description: /openapi.json (OpenAPI 3.1) and /docs (a page rendering it); no credentials."""
from __future__ import annotations

from chalice import Response

from chalicelib.surfaces.http import Surface, json_response
from chalicelib.surfaces.render import taskport_error

surface = Surface("docs", taskport_error)
blueprint = surface.blueprint

# The page holds its script and the document inline and loads nothing from anywhere.
DOCS_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
               "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@surface.route("/openapi.json", methods=["GET"], cors=True)
def openapi_document() -> Response:
    from chalicelib import openapi  # deferred: the description is built only for whoever reads it

    return json_response(openapi.document())


@surface.route("/docs", methods=["GET"])
def docs() -> Response:
    from chalicelib import openapi  # deferred, as above

    return Response(body=openapi.docs_page(), status_code=200, headers={
        "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": DOCS_POLICY,
        "X-Content-Type-Options": "nosniff"})
