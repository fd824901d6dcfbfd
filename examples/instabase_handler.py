"""An Instabase-style HTTP endpoint handler: a Flask request in, a JSON answer out.

Deploy and call it against `make dev`:

    taskport endpoints deploy examples/instabase_handler.py --path greet
    taskport endpoints call greet name=Ada            # {"greeting": "Hello Ada", "method": "GET"}
    taskport endpoints call greet -X POST -d '{"name": "Bo"}'
"""
import json

from flask import Response


def handler(request, *args, **kwargs):
    """Greet `name` from the query string or the JSON body; 400 without one."""
    body = request.get_json(silent=True) or {}
    name = request.args.get("name") or body.get("name")
    if not name:
        return Response(json.dumps({"error": "name is required"}), status=400, mimetype="application/json")
    answer = {"greeting": f"Hello {name}", "method": request.method}
    return Response(json.dumps(answer), status=200, mimetype="application/json")
