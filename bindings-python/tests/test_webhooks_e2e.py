"""The onboarding guide step 7 end to end: a schedule and a completion webhook on an agent; each
run's result is POSTed, signed, to a receiver on 127.0.0.1, which verifies it with
heroa.webhooks; the delivery log shows it."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import heroa
from heroa import webhooks
from conftest import PERMIT_ALL, Env

SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Receiver:
    def __init__(self) -> None:
        self.received: List[Tuple[Dict[str, str], bytes]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/heroa-events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= n, f"{len(self.received)} deliveries received"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def test_signed_run_results_reach_the_webhook(env: Env, receiver: Receiver) -> None:
    agent = env.agent("hooked", "L3_autonomous", PERMIT_ALL)
    agent = env.client.agents.update(
        agent.id,
        schedule="0 3 * * *",  # 03:00 UTC daily
        webhook={"url": receiver.url, "signing_secret": SIGNING_SECRET},
    )
    assert agent.schedule == "0 3 * * *" and agent.next_run_at is not None
    assert agent.webhook is not None and agent.webhook.url == receiver.url
    run = env.run(agent, [{"skill": "heroa:echo", "args": {"hi": 1}}])

    receiver.wait_for(1)
    headers, body = receiver.received[0]
    now = env.rt.now_ms() // 1000  # the runtime runs on a manual clock in these tests
    verified = webhooks.verify(headers, body, SIGNING_SECRET, now=now)  # Standard Webhooks
    assert verified.scheme == "standard-webhooks"
    hmac_only = {"heroa-signature": headers["heroa-signature"]}  # the seed's HMAC of the raw body
    assert webhooks.verify(hmac_only, body, SIGNING_SECRET).scheme == "heroa-hmac-sha256"
    payload = json.loads(body)
    assert run.id in json.dumps(payload)
    with pytest.raises(webhooks.WebhookVerificationError) as err:
        webhooks.verify(headers, body, webhooks.generate_secret(), now=now)
    assert err.value.reason == "mismatch"

    deadline = time.monotonic() + 10
    while True:
        log = env.client.webhooks.deliveries(agent_id=agent.id).items
        if log and log[0].status == "delivered":
            break
        assert time.monotonic() < deadline, log
        time.sleep(0.02)
    d = log[0]
    assert isinstance(d, heroa.Delivery) and d.run_id == run.id and d.url == receiver.url
    assert d.id == verified.msg_id
    assert d.attempts[0].status_code == 200
    assert env.client.webhooks.delivery(d.id).id == d.id
    again = env.client.webhooks.redeliver(d.id)
    assert again.id == d.id
    receiver.wait_for(2)
    assert receiver.received[1][0]["webhook-id"] == d.id, "the id is stable across redeliveries"
    assert SIGNING_SECRET not in json.dumps(env.client.agents.get(agent.id).to_dict())
