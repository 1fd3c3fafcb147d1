"""The deploy guide's Python example: a coding agent deploys the API it just generated.

The "generated API" is a tiny Python HTTP server committed to a local git repository
(with a ``Procfile``: ``web: python3 server.py``) in a temporary directory. It is
deployed with ``heroa.deploy`` — on the default client, which is the embedded runtime
unless ``HEROA_BASE_URL`` is set, so the app lives as long as this process — and then
fetched over HTTPS, trusting only the runtime's local CA.

    python examples/python/deploy.py
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import tempfile
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import heroa

SERVER = textwrap.dedent(
    """\
    import json, os
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Api(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"service": "generated-api", "path": self.path}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Api).serve_forever()
    """
)


def generate_api(root: Path) -> Path:
    """What the coding agent wrote: a git repository with a server and a Procfile."""
    repo = root / "generated-api"
    repo.mkdir()
    (repo / "server.py").write_text(SERVER)
    (repo / "Procfile").write_text("web: python3 server.py\n")
    git = ["git", "-c", "user.name=agent", "-c", "user.email=agent@example.com"]
    subprocess.run(git + ["init", "-q"], cwd=repo, check=True)
    subprocess.run(git + ["add", "."], cwd=repo, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "generated API"], cwd=repo, check=True)
    return repo


def https_get(url: str, ca_pem: str, gateway: "tuple[str, int]") -> str:
    """GET ``url`` through the gateway, trusting only ``ca_pem``; SNI and ``Host``
    carry the app's host name."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    ctx = ssl.create_default_context(cadata=ca_pem)
    with socket.create_connection(gateway, timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            request = (
                f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "Connection: close\r\n\r\n"
            )
            tls.sendall(request.encode())
            chunks = []
            while True:
                data = tls.recv(65536)
                if not data:
                    break
                chunks.append(data)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode()
    return f"{status} {body.decode()}"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = generate_api(Path(tmp))

        endpoint = heroa.deploy(
            mode="app",
            region="us-east",
            resource_tier="small",
            ttl="2h",
            source={"repo": str(repo), "ref": "HEAD"},
            policy={"egress": "allow-list", "allow_list": ["api.github.com"]},
        )
        print(endpoint["url"])
        assert endpoint.url == endpoint["url"]

        runtime = heroa.default_client().runtime
        assert runtime is not None, "this example fetches through the embedded runtime's gateway"
        answer = https_get(endpoint["url"], runtime.gateway_ca_pem(), runtime.gateway_address())
        print(answer)

        heroa.default_client().deployments.delete(endpoint.id)


if __name__ == "__main__":
    main()
