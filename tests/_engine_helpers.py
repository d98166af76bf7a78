"""Test helpers for the engines: a tiny Llama whose output depends on its input, a scripted
HTTP server for failure cases, and launchers for real OpenAI-compatible servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Prompts of very different lengths (so a batch really is left-padded), raw and chat.
PROMPTS = [
    "Hello",
    "The quick brown fox jumps over the lazy dog, and then the dog",
    [{"role": "user", "content": "What is the capital of France?"}],
    "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25",
    [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name three colours."},
    ],
]


def build_tiny_llama(out: Path, tokenizer_dir: Path, sample_by_default: bool = False) -> Path:
    """A 3 M-parameter random Llama with the SmolLM2 tokenizer, saved to `out`.

    Its weights use a wider init (0.2) than conftest's tiny model: with the default 0.02 a
    random Llama repeats one token whatever the prompt, so a padding bug would not change
    its output and the batch-vs-single tests could not fail. At 0.2 the output follows the
    context, and attending to the padding visibly changes it.

    `sample_by_default` writes `do_sample=True` into its generation config: `transformers
    serve` samples only when the model's config says so (it maps `temperature` but never
    turns sampling on), and the server tests need real samples.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        max_position_embeddings=256,
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.do_sample = sample_by_default
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def judged_answers(prompt: str) -> tuple[str, str]:
    """The two answers a pairwise judge prompt shows, in order (<answer1>, <answer2>)."""
    first = re.search(r"<answer1>\n(.*?)\n</answer1>", prompt, re.S).group(1)
    second = re.search(r"<answer2>\n(.*?)\n</answer2>", prompt, re.S).group(1)
    return first, second


# ----- a scripted OpenAI-style server for the failure cases -----


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict -> JSON; str/bytes -> sent as is
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    headers: dict = field(default_factory=dict)


def completion_body(
    texts: list[str], chat: bool = True, usage: tuple[int, int] | None = (7, 3)
) -> dict:
    """A well-formed OpenAI reply with one choice per text."""
    if chat:
        choices = [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
            for i, t in enumerate(texts)
        ]
    else:
        choices = [{"index": i, "text": t, "finish_reason": "length"} for i, t in enumerate(texts)]
    body = {
        "id": "x",
        "object": "chat.completion" if chat else "text_completion",
        "choices": choices,
    }
    if usage is not None:
        body["usage"] = {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        }
    return body


class ScriptedServer:
    """A real HTTP server on 127.0.0.1 that answers POSTs from a script of `Reply`s (the last
    one repeats) and records every request (path, headers, JSON body)."""

    def __init__(self, replies: list[Reply]):
        self.replies = list(replies)
        self.requests: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server._lock:
                    server.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": json.loads(raw or b"{}"),
                        }
                    )
                    reply = server.replies.pop(0) if len(server.replies) > 1 else server.replies[0]
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                # Wait in small steps so stopping the server is never held up by a long delay.
                end = time.monotonic() + reply.delay
                while time.monotonic() < end and not server._stop.is_set():
                    time.sleep(0.05)
                # Counted out before the reply is written: once the client has read it, it may send
                # its next request before this thread runs on, which would count one too many.
                with server._lock:
                    server.in_flight -= 1
                payload = reply.body
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload)
                data = payload.encode() if isinstance(payload, str) else (payload or b"")
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class ChatServer:
    """A real HTTP server on 127.0.0.1 that answers `/v1/chat/completions` with
    `reply(model, messages)`: a text, or None for an unknown model (404, as servers answer).
    It records every request body and the most requests it held at once. `delay` keeps
    requests open long enough for concurrent ones to overlap."""

    def __init__(self, reply, delay: float = 0.0):
        self.requests: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _send(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                with lock:
                    server.requests.append(body)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(delay)
                    text = reply(body["model"], body["messages"])
                finally:
                    with lock:
                        server.in_flight -= 1
                if text is None:
                    return self._send(
                        404, {"error": {"message": f"The model `{body['model']}` does not exist."}}
                    )
                prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
                self._send(
                    200,
                    {
                        "id": "cmpl-test",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": len(text.split()),
                            "total_tokens": prompt_tokens + len(text.split()),
                        },
                    },
                )

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ----- real servers in a subprocess -----


@contextlib.contextmanager
def serve_process(
    cmd: list[str], ready_url: str, log_path: Path, timeout: float = 240.0, env: dict | None = None
):
    """Start a server, wait until `ready_url` answers 200, yield, then stop it (its pid only)."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after {timeout:.0f} s:\n{_tail(log_path)}")
            try:
                with urllib.request.urlopen(ready_url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def transformers_server(model_dir: Path, log_path: Path):
    """`transformers serve` of one local model folder on a free port; yields its base URL (.../v1).
    Requests name the model by that folder's path."""
    port = free_port()
    with serve_process(
        transformers_serve_cmd(model_dir, port),
        f"http://127.0.0.1:{port}/health",
        log_path,
        timeout=180,
        env={"HF_HUB_OFFLINE": "1"},
    ):
        yield f"http://127.0.0.1:{port}/v1"


def transformers_serve_cmd(model_dir: Path, port: int) -> list[str]:
    """`transformers serve` preloading one local model folder on CPU in float32."""
    cli = Path(sys.executable).with_name("transformers")
    return [
        str(cli),
        "serve",
        str(model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--device",
        "cpu",
        "--dtype",
        "float32",
        "--log-level",
        "warning",
    ]


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:]
