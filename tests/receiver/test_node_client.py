"""Node.js's own HTTP client streaming a gzip body with ``Transfer-Encoding: chunked``, as the
official JavaScript OTLP/HTTP exporters send it (they got 411 before chunked bodies were read).
Skipped without ``node`` on the PATH."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import TOKEN, Running
from .payloads import protobuf_body

NODE = shutil.which("node")

# Two requests on one kept-alive connection, the body piped through a gzip stream, so Node
# frames it in chunks and sends no Content-Length.
CLIENT = """
const http = require('http'), zlib = require('zlib'), fs = require('fs');
const [port, path, token] = process.argv.slice(1);  // node -e: no script path in argv
const agent = new http.Agent({keepAlive: true, maxSockets: 1});
function send(body) {
  return new Promise((resolve, reject) => {
    const request = http.request({host: '127.0.0.1', port: +port, path: '/v1/traces', method: 'POST', agent,
      headers: {'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'gzip', 'Authorization': 'Bearer ' + token}},
      (response) => { response.resume(); response.on('end', () => resolve(response.statusCode + ' ' +
        (response.headers['transfer-encoding'] || '') + ' ' + request.getHeader('content-length'))); });
    request.on('error', reject);
    const gzip = zlib.createGzip();
    gzip.pipe(request);
    gzip.end(body);
  });
}
(async () => {
  const body = fs.readFileSync(path);
  for (let i = 0; i < 2; i++) console.log(await send(body));
  agent.destroy();
})().catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_node_streams_a_chunked_gzip_body(running: Running, tmp_path: Path) -> None:
    body = tmp_path / "body.bin"
    body.write_bytes(protobuf_body(4))
    done = subprocess.run(
        [NODE, "-e", CLIENT, str(running.receiver.http_port), str(body), TOKEN],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "undefined", "200", "undefined"]  # no Content-Length sent
    assert len(running.sink.rows) == 8
