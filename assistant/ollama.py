"""The Ollama backend: a model served by an Ollama server, streamed over HTTP.

:class:`OllamaLLM` talks to ``/api/chat`` (streamed NDJSON) and ``/api/tags``; ``httpx`` is
imported on first use. Build it through :func:`assistant.llm.load_llm` with an ``ollama:MODEL``
spec, which also probes the server; ``assistant.llm`` re-exports the names defined here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from assistant.llm import SPEC_HELP, BaseLLM, LLMError, LLMUnavailable, Message

DEFAULT_OLLAMA_HOST = "http://localhost:11434"


def normalize_ollama_host(host: str) -> str:
    """``OLLAMA_HOST`` in any of the forms Ollama accepts, as a base URL without trailing slash.

    Follows Ollama's own reading: no scheme means ``http`` and port 11434 (``0.0.0.0``,
    ``myhost:1234``, ``:11434``); an explicit scheme without a port keeps that scheme's default.
    Raises :class:`LLMUnavailable` for a value that is not a host.
    """
    host = host.strip().rstrip("/")
    if not host:
        return DEFAULT_OLLAMA_HOST
    if "://" not in host:
        host = "http://" + (f"127.0.0.1{host}" if host.startswith(":") else host)
        bare = True
    else:
        bare = False
    try:
        parts = urlsplit(host)
        port = parts.port
    except ValueError as e:
        raise LLMUnavailable(f"OLLAMA_HOST {host!r} is not a host[:port] or URL: {e}") from e
    if not parts.hostname or parts.scheme not in {"http", "https"}:
        raise LLMUnavailable(f"OLLAMA_HOST {host!r} is not a host[:port] or an http(s) URL")
    if bare and port is None:
        host = urlunsplit(parts._replace(netloc=f"{parts.netloc}:11434"))
    return host


def _error_text(body: bytes) -> str:
    """The ``error`` field of an Ollama error body, or the body itself."""
    text = body.decode("utf-8", "replace").strip()
    try:
        return str(json.loads(text).get("error") or text)
    except (ValueError, AttributeError):
        return text


class OllamaLLM(BaseLLM):
    """A model served by Ollama, streamed from ``/api/chat``.

    CPU inference of a multi-billion-parameter model can take minutes before the first token
    (model load plus prompt evaluation), hence the long default read ``timeout``.
    """

    def __init__(
        self,
        model: str,
        host: str | None = None,
        timeout: float = 600.0,
        *,
        num_ctx: int = 4096,
        seed: int = 0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Point at ``model`` on ``host`` (default: ``OLLAMA_HOST`` from ``env``, which defaults
        to the process environment, read now). No request is made: see :meth:`check`.

        ``num_ctx`` is sent with every request because older Ollama versions default to a
        2,048-token window and silently cut longer prompts.
        """
        if not model.strip():
            raise LLMUnavailable(f"no Ollama model named: {SPEC_HELP}")
        env = os.environ if env is None else env
        self.model = model.strip()
        self.host = normalize_ollama_host(host or env.get("OLLAMA_HOST", "") or DEFAULT_OLLAMA_HOST)
        self.timeout = timeout
        self.num_ctx = num_ctx
        self.seed = seed
        self.model_id = f"ollama:{self.model}"

    def _client(self) -> Any:
        import httpx

        # Connecting is quick or never; reading waits for a CPU-bound model to produce tokens.
        return httpx.Client(
            base_url=self.host, timeout=httpx.Timeout(self.timeout, connect=10.0)
        )

    def _unreachable(self, e: Exception) -> LLMUnavailable:
        return LLMUnavailable(
            f"Ollama is not reachable at {self.host}: start it with `ollama serve` or use "
            f"--llm llamacpp ({type(e).__name__})"
        )

    def _not_pulled(self) -> LLMUnavailable:
        return LLMUnavailable(
            f"model {self.model} is not pulled on {self.host}: run `ollama pull {self.model}`"
        )

    def available_models(self) -> list[str]:
        """The model names the server has pulled (``/api/tags``)."""
        import httpx

        try:
            with self._client() as client:
                r = client.get("/api/tags", timeout=httpx.Timeout(30.0, connect=10.0))
        except httpx.TransportError as e:
            raise self._unreachable(e) from e
        if r.status_code != 200:
            raise LLMUnavailable(
                f"Ollama at {self.host} answered /api/tags with HTTP {r.status_code}: "
                f"{_error_text(r.content)}"
            )
        try:
            models = r.json().get("models") or []
            return [str(m.get("name") or m.get("model")) for m in models]
        except (ValueError, AttributeError) as e:
            raise LLMUnavailable(f"{self.host} does not look like an Ollama server: {e}") from e

    def check(self) -> None:
        """Raise :class:`LLMUnavailable` unless the server answers and has the model pulled."""
        names = set(self.available_models())
        # Ollama names carry a tag; "llama3.2" means "llama3.2:latest".
        wanted = {self.model} if ":" in self.model else {self.model, f"{self.model}:latest"}
        if not names & wanted:
            raise self._not_pulled()

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.1,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply as text deltas (see :meth:`LLM.stream`)."""
        import httpx

        options: dict[str, Any] = {
            "temperature": temperature,
            "num_predict": max_tokens,
            "num_ctx": self.num_ctx,
            "seed": self.seed,
        }
        if stop:
            options["stop"] = list(stop)
        payload = {"model": self.model, "messages": messages, "stream": True, "options": options}
        try:
            with self._client() as client, client.stream("POST", "/api/chat", json=payload) as r:
                if r.status_code == 404:
                    raise self._not_pulled()
                if r.status_code != 200:
                    raise LLMError(
                        f"Ollama at {self.host} answered HTTP {r.status_code}: "
                        f"{_error_text(r.read())}"
                    )
                for line in r.iter_lines():
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError as e:
                        raise LLMError(f"Ollama at {self.host} sent a malformed line: {e}") from e
                    if event.get("error"):
                        raise LLMError(f"Ollama at {self.host}: {event['error']}")
                    delta = (event.get("message") or {}).get("content")
                    if delta:
                        yield delta
                    if event.get("done"):
                        return
        except httpx.TimeoutException as e:
            raise LLMUnavailable(
                f"Ollama at {self.host} did not answer within {self.timeout:g} s "
                f"({type(e).__name__})"
            ) from e
        except httpx.TransportError as e:
            raise self._unreachable(e) from e

    def __repr__(self) -> str:
        return f"OllamaLLM({self.model!r}, host={self.host!r})"
