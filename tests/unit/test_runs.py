"""Run recording without AWS: output caps, sandbox reports, failure statuses, user frames."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from chalicelib import runs


class Report(NamedTuple):
    status: str = "ok"
    duration_ms: float = 5.0
    cpu_ms: float = 3.0
    max_rss_bytes: int = 1000
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    error: dict[str, str] | None = None


@pytest.fixture
def written() -> Iterator[list[Any]]:
    """The run entries written, in the in-memory run store."""
    from chalicelib.runs import store
    from chalicelib.runs.memory import MemoryRunStore

    entries: list[Any] = []

    class Recorded(MemoryRunStore):
        def put(self, entry: Any) -> None:
            entries.append(entry)
            super().put(entry)

    with store.using(Recorded()):
        yield entries


def test_cap_cuts_at_64_kib_never_mid_character() -> None:
    text, cut = runs.cap("é" * 40_000)
    assert cut and len(text.encode()) <= runs.OUTPUT_CAP and text == "é" * (runs.OUTPUT_CAP // 2)
    assert runs.cap("short") == ("short", False)


def test_reported_output_is_capped_and_flagged_truncated(written: list[Any]) -> None:
    with runs.recording(runs.ENDPOINT, "acct", endpoint="e"):
        runs.on_report(Report(stdout="x" * (runs.OUTPUT_CAP + 10), stderr="warn\n",
                              stderr_truncated=True))
    [(run, *_)] = written
    assert len(run.stdout) == runs.OUTPUT_CAP and run.stdout_truncated
    assert run.stderr == "warn\n" and run.stderr_truncated
    assert (run.cpu_ms, run.max_rss_bytes, run.status) == (3.0, 1000, "ok")


def test_report_error_status_and_user_traceback_are_recorded(written: list[Any]) -> None:
    from chalicelib import sandbox

    error = {"type": "KeyError", "message": "'x'",
             "traceback": 'Traceback (most recent call last):\n  File "/s/a.py", line 2, in h\n'
                          "    d['x']\nKeyError: 'x'\n"}
    with pytest.raises(sandbox.ScriptError), runs.recording(runs.ENDPOINT, "acct", http=True):
        runs.on_report(Report(status="error", error=error))
        raise sandbox.ScriptError("KeyError", "'x'", "")
    [(run, *_)] = written
    assert run.status == "error" and run.error == error and run.http_status == 500


@pytest.mark.parametrize("failure, status", [("Timeout", "timeout"), ("TooLarge", "refused"),
                                             ("Refused", "refused"), ("Crashed", "error")])
def test_sandbox_failure_without_report_sets_its_status(written: list[Any], failure: str,
                                                        status: str) -> None:
    from chalicelib import sandbox

    kind = getattr(sandbox, failure)
    with pytest.raises(kind), runs.recording(runs.ENDPOINT, "acct"):
        raise kind("it went wrong")
    [(run, *_)] = written
    assert run.status == status and run.error["message"] == "it went wrong"


def test_platform_frames_are_dropped_from_a_traceback() -> None:
    traceback = ('Traceback (most recent call last):\n'
                 '  File "/opt/chalicelib/sandbox/child.py", line 21, in answer\n'
                 '    result = target(request)\n'
                 '  File "/s/probe.py", line 6, in handler\n'
                 '    raise ValueError("no")\n'
                 'ValueError: no\n')
    kept = runs.user_frames(traceback)
    assert "chalicelib" not in kept and '"/s/probe.py", line 6' in kept
    assert kept.endswith("ValueError: no\n") and kept.startswith("Traceback")


def test_one_write_per_execution_with_subject_and_task_keys(written: list[Any]) -> None:
    with runs.recording(runs.METHOD, "acct", task_key="k1", **runs.method_subject(
            {"workspace": "ws", "instance": "i", "method": "m"})):
        pass
    [(run, subject_key, task_key, _)] = written
    assert subject_key == "instance:ws/i" and task_key == "k1"
    assert run.subject == {"instance": "ws/i", "method": "m"}


def test_a_run_the_store_refuses_is_logged_whole_at_error() -> None:
    import json
    import logging

    from chalicelib.models.runs import RunStoreFailed
    from chalicelib.runs import store
    from chalicelib.runs.memory import MemoryRunStore

    class Throttled(MemoryRunStore):
        def put(self, entry: Any) -> None:
            raise RunStoreFailed("ProvisionedThroughputExceededException after 4 attempts")

    lines: list[logging.LogRecord] = []

    class Kept(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record)

    handler = Kept()
    logger = logging.getLogger("taskport.runs")
    logger.addHandler(handler)
    try:
        with store.using(Throttled()), runs.recording(runs.ENDPOINT, "acct", endpoint="e",
                                                      subject_key="endpoint:e") as run:
            runs.on_report(Report(stdout="the order was shipped\n"))
            run.http_status = 200
    finally:
        logger.removeHandler(handler)
    assert run.finish() is None  # not written, and not written again
    [refused] = [line for line in lines if line.levelno == logging.ERROR]
    assert refused.exc_info is not None and refused.run == run.run_id  # type: ignore[attr-defined]
    record = json.loads(refused.getMessage().split("; the record: ", 1)[1])
    assert (record["run_id"], record["status"], record["stdout"], record["http_status"]) == (
        run.run_id, "ok", "the order was shipped\n", 200)
    assert (record["subject"], record["subject_key"]) == ({"endpoint": "e"}, "endpoint:e")
