"""The zygote: spares are forked by an idle process, yet are children of the serving one."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from chalicelib.sandbox.server import REPO_ROOT
from tests.unit.sandbox.processes import alive, wait_until_gone

PRELUDE = """
import json, os, signal, sys, time
from chalicelib.sandbox import parent, uids, zygote
from chalicelib.sandbox.wire import Limits, decode_frame

def call(source):
    frame, clean_up = parent.execute({"kind": "function", "source": source, "filename": "t.py",
                                      "function": "f", "args": [], "kwargs": {}}, b"", Limits())
    clean_up()
    header, body = decode_frame(frame)
    return json.loads(body) if header["outcome"] == "ok" else header

parent.prepare()
out = {"me": os.getpid(), "zygote": zygote.current().pid if zygote.current() else None}
"""


def run(script: str, **environment: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PRELUDE + script + "\nprint(json.dumps(out))"],
                          cwd=REPO_ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": REPO_ROOT,
                                              **environment},
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout.decode().splitlines()[-1])


def test_a_call_runs_in_a_child_of_the_serving_process_not_of_the_zygote():
    out = run('out["parent"], out["pid"] = call("import os\\ndef f():\\n'
              '    return [os.getppid(), os.getpid()]\\n")')
    assert out["zygote"] not in (None, out["me"])
    assert out["parent"] == out["me"] and out["pid"] not in (out["me"], out["zygote"])


def test_a_call_forked_by_the_zygote_can_abort_and_start_threads():
    out = run('out["abort"] = call("import os\\ndef f():\\n    os.abort()\\n")\n'
              'out["threads"] = call("import threading\\ndef f():\\n    seen = []\\n'
              '    t = threading.Thread(target=lambda: seen.append(threading.get_native_id()))\\n'
              '    t.start()\\n    t.join()\\n'
              '    return [len(seen), seen[0] != threading.get_native_id()]\\n")')
    assert out["abort"]["outcome"] == "killed" and "SIGABRT" in out["abort"]["message"]
    assert out["threads"] == [1, True]


def test_without_its_zygote_the_parent_forks_spares_itself():
    out = run('os.kill(zygote.current().pid, signal.SIGKILL)\n'
              'time.sleep(0.2)\n'
              'out["answers"] = [call("def f():\\n    return %d\\n" % i) for i in range(4)]\n'
              'out["zygote_after"] = zygote.current()')
    assert out["zygote"] is not None
    assert out["answers"] == [0, 1, 2, 3] and out["zygote_after"] is None


def test_the_zygote_ends_with_its_parent():
    process = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + "print(json.dumps(out), flush=True)\ntime.sleep(600)"],
        cwd=REPO_ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": REPO_ROOT},
        stdout=subprocess.PIPE)
    try:
        zygote = json.loads(process.stdout.readline())["zygote"]
        assert zygote is not None and alive(zygote)
    finally:
        process.kill()  # no clean-up of its own: the zygote must see the socket close
        process.wait()
        process.stdout.close()
    assert not wait_until_gone([zygote], within=10), "the zygote outlived its parent"


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"), reason="no zygote here")
def test_the_zygote_is_used_where_clone_is_known():
    assert run("")["zygote"] is not None


def test_a_ctrl_c_its_parent_survives_does_not_take_the_zygote():
    """SIGINT reaches every process of a terminal's group; the parent decides whether to stop,
    and the zygote stays as long as the parent does."""
    process = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
         "print(json.dumps(out), flush=True)\nsys.stdin.read()\n"
         "print(json.dumps(zygote.current() is not None and call('def f():\\n    return 5\\n')))"],
        cwd=REPO_ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": REPO_ROOT},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    try:
        zygote = json.loads(process.stdout.readline())["zygote"]
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.5)
        assert alive(zygote)
        answer, _ = process.communicate(b"", timeout=60)
        assert json.loads(answer) == 5  # answered by a spare the zygote forked
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="calls get uids of their own only under root")
def test_the_zygote_kills_what_a_used_uid_left_running_without_forking():
    out = run('uid = uids.take()\n'
              'left = os.fork()\n'
              'if left == 0:\n'
              '    os.setsid()\n'
              '    os.setresuid(uid, uid, uid)\n'
              '    time.sleep(600)\n'
              '    os._exit(0)\n'
              'time.sleep(0.2)\n'
              'def no_fork():\n'
              '    raise AssertionError("the sweep forked")\n'
              'os.fork = no_fork\n'
              'parent._sweep_uid(uid, time.time())\n'
              'out["status"] = os.waitpid(left, 0)[1]')
    assert os.WIFSIGNALED(out["status"]) and os.WTERMSIG(out["status"]) == signal.SIGKILL


def test_a_stopped_zygote_is_woken_for_the_next_spare():
    """Sharing its uid (no root), a call could SIGSTOP the zygote; the next fork still comes."""
    out = run('os.kill(zygote.current().pid, signal.SIGSTOP)\n'
              'out["answers"] = [call("def f():\\n    return %d\\n" % i) for i in range(3)]\n'
              'out["zygote_after"] = zygote.current().pid if zygote.current() else None')
    # Not woken, it would miss its reply timeout, be killed and replaced by plain forks.
    assert out["answers"] == [0, 1, 2] and out["zygote_after"] == out["zygote"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the zygote is not dumpable: only root reads it")
def test_the_zygote_keeps_nothing_of_its_parents_environment():
    out = run('call("def f():\\n    return 1\\n")\n'  # the zygote has served a request
              'with open(f"/proc/{zygote.current().pid}/environ", "rb") as environ:\n'
              '    out["block"] = environ.read().decode("latin-1")\n'
              'with open(f"/proc/{os.getpid()}/environ", "rb") as environ:\n'
              '    out["parent_block"] = environ.read().decode("latin-1")',
              AWS_SECRET_ACCESS_KEY="canary-zygote")
    assert "canary-zygote" in out["parent_block"]  # the canary was there to be inherited
    assert "canary-zygote" not in out["block"] and "AWS_" not in out["block"]
