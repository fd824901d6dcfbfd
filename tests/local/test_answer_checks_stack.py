"""A handler's answer over real HTTP on the local stack: checked, never a dropped connection."""
from __future__ import annotations

import pytest

from tests.local.test_instabase_stack import (ROOT, _endpoint, _raw, _upload, short_wall_time,  # noqa: F401
                                              stack, token)
from tests.local.test_stack import dev_stack  # noqa: F401  (the stack fixture)

CASES = {
    "latin": "    return Response('x', mimetype='text/plain', headers={'X-Name': '\\u65e5\\u672c'})\n",
    "many": ("    answer = Response('x', mimetype='text/plain')\n"
             "    for i in range(5000):\n"
             "        answer.headers.add(f'X-H{i}', 'v')\n"
             "    return answer\n"),
    "big": "    return Response('x', mimetype='text/plain', headers={'X-Big': 'v' * 1_000_000})\n",
    "html": ("    answer = Response('<script>alert(1)</script>', mimetype='text/plain')\n"
             "    answer.headers.add('content-type', 'text/html')\n"
             "    return answer\n"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unacceptable_answer_is_a_502_over_http(stack: str, token: str, case: str) -> None:  # noqa: F811
    script = f"/checks/{case}.py"
    _upload(stack, token, script, "from flask import Response\ndef handler(request):\n"
            + CASES[case])
    _endpoint(stack, token, f"check-{case}", f"check-{case}", script)
    status, headers, body = _raw(f"{stack}{ROOT}/u/check-{case}",
                                 headers={"Authorization": f"Bearer {token}"})
    assert status == 502, (status, body[:200])
    assert not headers.get("Content-Type", "").startswith("text/html")


def test_binary_body_passes_intact_over_http(stack: str, token: str) -> None:  # noqa: F811
    payload = bytes(range(256)) * 8
    _upload(stack, token, "/checks/bytes.py", "from flask import Response\n"
            f"def handler(request):\n    return Response({payload!r}, mimetype='text/plain')\n")
    _endpoint(stack, token, "check-bytes", "check-bytes", "/checks/bytes.py")
    status, headers, body = _raw(f"{stack}{ROOT}/u/check-bytes",
                                 headers={"Authorization": f"Bearer {token}"})
    assert (status, body) == (200, payload)
    assert headers["Content-Type"].startswith("text/plain")
    assert headers["X-Content-Type-Options"] == "nosniff"
