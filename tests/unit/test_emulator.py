"""The local emulator answers one request at a time, except SQS long polls."""
from __future__ import annotations

import threading
import time
from typing import Any
from collections.abc import Callable, Iterable

from chalicelib.local.emulator import serialized


class _SlowApp:
    """A WSGI app that records how many requests it serves at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self._count = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._count:
            self.inside += 1
            self.most = max(self.most, self.inside)
        start_response("200 OK", [("Content-Type", "text/plain")])
        time.sleep(0.05)

        def body() -> Iterable[bytes]:
            yield b"part one, "
            time.sleep(0.02)  # still inside the request while its body is produced
            yield b"part two"
            with self._count:
                self.inside -= 1

        return body()


def _call_concurrently(app: Any, target: str | None, count: int = 6) -> list[bytes]:
    environ = {"HTTP_X_AMZ_TARGET": target} if target else {}
    answers: list[bytes] = []

    def call() -> None:
        answers.append(b"".join(app(dict(environ), lambda status, headers: None)))

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return answers


def test_requests_are_served_one_at_a_time_body_included():
    slow = _SlowApp()
    answers = _call_concurrently(serialized(slow), "DynamoDB_20120810.UpdateItem")
    assert answers == [b"part one, part two"] * 6
    assert slow.most == 1


def test_requests_without_a_target_are_serialized_too():
    slow = _SlowApp()
    _call_concurrently(serialized(slow), None)
    assert slow.most == 1


def test_sqs_long_polls_do_not_hold_up_other_requests():
    slow = _SlowApp()
    _call_concurrently(serialized(slow), "AmazonSQS.ReceiveMessage")
    assert slow.most > 1
