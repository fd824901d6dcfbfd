"""A webhook receiver that verifies Taskport's signatures with `standardwebhooks`.

    WEBHOOK_SECRET=whsec_... python examples/webhook_receiver.py [--port 8002]

answers 204 to a correctly signed event (and prints it) and 400 to anything else. With --demo it
also creates a workflow pointed at itself, a task, completes the task, and waits for the verified
event (needs TASKPORT_URL, TASKPORT_CLIENT_HANDLE, TASKPORT_ACCESS_KEY, and `make dev` started
with TASKPORT_EGRESS_ALLOW=127.0.0.0/8 so that webhooks may reach 127.0.0.1).
"""
from __future__ import annotations

import argparse
import http.server
import json
import os
import queue
import sys
import threading
import uuid
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def make_handler(secret: str, events: queue.Queue[dict[str, Any]]) -> type[http.server.BaseHTTPRequestHandler]:
    """A request handler that accepts only events signed with `secret`."""
    verifier = Webhook(secret)

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (the standard library's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                payload = verifier.verify(body, {k.lower(): v for k, v in self.headers.items()})
            except WebhookVerificationError as error:
                self.send_response(400)
                self.end_headers()
                print(f"refused: {error}", flush=True)
                return
            event = {"event": self.path.split("event=", 1)[-1] if "event=" in self.path else None,
                     "webhook_id": self.headers.get("webhook-id"), "payload": payload}
            events.put(event)
            print("verified:", json.dumps(event), flush=True)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Receiver


def serve(secret: str, port: int, events: queue.Queue[dict[str, Any]]) -> http.server.ThreadingHTTPServer:
    """Start the receiver on 127.0.0.1:port in the background."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(secret, events))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def demo(port: int, timeout: float) -> int:
    """Workflow -> task -> completion -> a signed webhook this receiver verifies."""
    import taskport

    client = taskport.Client.from_env()
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler("whsec_" + "A" * 32, events))
    port = server.server_address[1]
    server.server_close()
    handle = f"hooked-{uuid.uuid4().hex[:8]}"
    workflow = client.workflows.put(handle, name="Hooked", input_fields=["url"],
                                    webhook_url=f"http://127.0.0.1:{port}/hook")
    assert workflow.webhook_secret, "the secret is shown when the workflow is created"
    receiver = serve(workflow.webhook_secret, port, events)
    task_id = str(uuid.uuid4())
    client.workflows.create_task(handle, task_id, {"url": "https://example.com"})
    client.workflows.complete(handle, task_id, {"approved": True})
    try:
        event = events.get(timeout=timeout)
    except queue.Empty:
        print("no verified webhook arrived", file=sys.stderr)
        return 1
    finally:
        receiver.shutdown()
    print(f"task {event['payload']['id']} {event['event']}: output {json.dumps(event['payload']['output'])}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.demo:
        return demo(args.port, args.timeout)
    secret = os.environ.get("WEBHOOK_SECRET")
    if not secret:
        print("set WEBHOOK_SECRET to the workflow's webhook_secret (whsec_...)", file=sys.stderr)
        return 2
    server = serve(secret, args.port, queue.Queue())
    print(f"listening on http://127.0.0.1:{args.port}/ (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
