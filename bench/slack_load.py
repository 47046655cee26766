"""Slack under load: N simultaneous signed `/signals top 10` commands against a real
`saas-tracker serve --http`, and how fast each was acknowledged and answered.

Usage:
    .venv/bin/python bench/slack_load.py [--requests 100] [--orgs 300] [--days 60]
        [--text "top 10"] [--rounds 1]

What it does, all on loopback, and stops by itself:

1. builds a scanned demo database (SQLite, in a temporary directory) the way `make demo`
   does, with ``--orgs`` orgs;
2. starts the local Slack Web API stand-in (``tests/slack_stub.py``), which also takes the
   answers posted to response_urls;
3. starts ``saas-tracker serve --http --host 127.0.0.1 --no-scheduler`` as a child process
   pointed at both, and waits for ``/healthz``;
4. sends one command to warm up (the first `/signals` after a scan builds the cached
   segments), then ``--requests`` signed commands at the same moment from as many threads
   (connections opened and requests built beforehand, a barrier releases them together),
   each with its own response_url;
5. reports, per round: acknowledgement time (request written to status line read) p50 /
   p99 / max, answer time (from the burst's start to the reply at the response_url) p50 /
   p99 / max, errors (any status other than 200, or
   no answer within 60 s), and the server's own ``/metrics`` for `/signals`.

Target: every acknowledgement under 1 s (Slack allows 3), zero errors. Exit status 1
when an error occurred or an acknowledgement took 3 s or more.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from demo_db import build_demo_db  # noqa: E402  (tests/demo_db.py)
from slack_stub import SlackStub, signed_request_headers, slash_command_body  # noqa: E402

SECRET = "bench-signing-secret"
END = dt.date(2026, 11, 20)
AS_OF = dt.datetime(2026, 11, 20, 23, 59, tzinfo=dt.timezone.utc)
CLI = Path(sys.executable).parent / "saas-tracker"
ANSWER_TIMEOUT = 60.0
SLACK_LIMIT = 3.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raw_request(port: int, body: str) -> bytes:
    """The whole HTTP request, signed, ready to write to a socket."""
    headers = signed_request_headers(body, SECRET, content_type="application/x-www-form-urlencoded")
    raw = body.encode()
    lines = ["POST /slack/events HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(raw)}",
             "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + raw


def _status(sock: socket.socket) -> int:
    """The status code of the response on `sock` (0 when the connection broke)."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return 0
        data += chunk
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _start_server(db_url: str, stub: SlackStub) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "SLACK_BOT_TOKEN": stub.token, "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": stub.base_url}
    env.pop("SLACK_APP_TOKEN", None)
    proc = subprocess.Popen([str(CLI), "serve", "--http", "--host", "127.0.0.1", "--port", str(port),
                             "--no-scheduler"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise SystemExit(f"serve did not come up:\n{out}") from None
            time.sleep(0.2)


def _wait_answers(stub: SlackStub, urls: list[str], sent_at: float) -> dict[str, float]:
    """Seconds from the burst's start to each url's first answer (missing: no answer)."""
    answered: dict[str, float] = {}
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while len(answered) < len(urls) and time.monotonic() < deadline:
        for url in urls:
            if url not in answered and stub.response_replies(url):
                answered[url] = time.perf_counter() - sent_at
        time.sleep(0.01)
    return answered


def burst(base: str, stub: SlackStub, n: int, text: str) -> dict:
    """`n` commands at the same moment. Each has its connection open and its request built
    beforehand, so what is timed is the server: from writing the request to reading the
    status line of the acknowledgement."""
    port = int(base.rsplit(":", 1)[1])
    urls = [stub.new_response_url() for _ in range(n)]
    requests = [_raw_request(port, slash_command_body("/signals", text, response_url=url)) for url in urls]
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]
    barrier = threading.Barrier(n)
    acks: list[tuple[int, float]] = [(0, 0.0)] * n
    start = [0.0]

    def one(i: int) -> None:
        sock = sockets[i]
        try:
            barrier.wait()
            if i == 0:
                start[0] = time.perf_counter()
            t0 = time.perf_counter()
            sock.sendall(requests[i])
            status = _status(sock)
            acks[i] = (status, time.perf_counter() - t0)
        except OSError:
            acks[i] = (0, time.perf_counter() - t0)
        finally:
            sock.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(one, range(n)))
    answered = _wait_answers(stub, urls, start[0])
    ack_times = [t for _s, t in acks]
    answer_times = list(answered.values())
    return {
        "requests": n,
        "ack_errors": sum(1 for s, _t in acks if s != 200),
        "unanswered": n - len(answered),
        "ack_p50": percentile(ack_times, 50), "ack_p99": percentile(ack_times, 99), "ack_max": max(ack_times),
        "answer_p50": percentile(answer_times, 50) if answer_times else None,
        "answer_p99": percentile(answer_times, 99) if answer_times else None,
        "answer_max": max(answer_times) if answer_times else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--orgs", type=int, default=300)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--text", default="top 10")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()

    print(f"{dt.date.today()} · {platform.machine()} · {os.cpu_count()} CPUs · Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="slack-load-") as tmp:
        started = time.perf_counter()
        db_url, engine = build_demo_db(Path(tmp), orgs=args.orgs, days=args.days, end=END, as_of=AS_OF)
        engine.dispose()
        print(f"demo database: {args.orgs} orgs, {args.days} days, built in {time.perf_counter() - started:.1f} s")
        with SlackStub() as stub:
            proc, base = _start_server(db_url, stub)
            try:
                warm = burst(base, stub, 1, args.text)
                print(f"warm-up: ack {warm['ack_max'] * 1000:.0f} ms, answer {(warm['answer_max'] or 0) * 1000:.0f} ms")
                failed = False
                for round_no in range(1, args.rounds + 1):
                    r = burst(base, stub, args.requests, args.text)
                    print(f"round {round_no}: {r['requests']} simultaneous `/signals {args.text}`")
                    print(f"  ack     p50 {r['ack_p50'] * 1000:7.1f} ms   p99 {r['ack_p99'] * 1000:7.1f} ms"
                          f"   max {r['ack_max'] * 1000:7.1f} ms")
                    if r["answer_p50"] is not None:
                        print(f"  answer  p50 {r['answer_p50'] * 1000:7.1f} ms   p99 {r['answer_p99'] * 1000:7.1f} ms"
                              f"   max {r['answer_max'] * 1000:7.1f} ms")
                    print(f"  errors  {r['ack_errors']} not acknowledged with 200, {r['unanswered']} not answered")
                    failed |= bool(r["ack_errors"] or r["unanswered"] or r["ack_max"] >= SLACK_LIMIT)
                with urllib.request.urlopen(base + "/metrics", timeout=5) as resp:
                    server = json.loads(resp.read())["endpoints"].get("/signals", {})
                print(f"server /metrics /signals: {json.dumps(server)}")
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
