"""The Ollama backend: a model served by an Ollama server, through the official ``ollama`` package.

:func:`ollama_host` is the one reading of ``OLLAMA_HOST`` in DEERIn (the backend and ``deerin
doctor`` both use it). ``ollama`` (and ``httpx`` under it) is imported when a request is made.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from assistant.llm.base import LLMError, LLMUnavailable, LLMUsageError, Message
from config import Config

DEFAULT_OLLAMA_PORT = 11434
DEFAULT_OLLAMA_HOST = f"http://127.0.0.1:{DEFAULT_OLLAMA_PORT}"
# What a bare ``ollama`` spec means: the small general model the docs suggest pulling.
DEFAULT_OLLAMA_MODEL = "llama3.2"


def default_ollama_model(env: Mapping[str, str] | None = None) -> str:
    """``DEERIN_OLLAMA_MODEL`` from ``env`` (default: the process environment), else llama3.2."""
    env = os.environ if env is None else env
    return Config.from_env(env)["models.ollama"] or DEFAULT_OLLAMA_MODEL


def ollama_host(env: Mapping[str, str] | None = None, value: str | None = None) -> str:
    """The Ollama base URL that ``OLLAMA_HOST`` (or ``value``) means, read as Ollama reads it.

    No scheme means ``http``; the default port is 11434 without a scheme, else the scheme's own
    (80/443); a missing host means 127.0.0.1 (``:11500``); ``0.0.0.0`` stays as written (on
    Linux it reaches the local server); a path is kept; an unusable port falls back to the
    default, as Ollama does. The result always carries its port, without a trailing slash.
    """
    if value is None:
        env = os.environ if env is None else env
        value = env.get("OLLAMA_HOST", "")
    text = value.strip()
    if not text:
        return DEFAULT_OLLAMA_HOST
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest, default_port = "http", text, DEFAULT_OLLAMA_PORT
    else:
        scheme = scheme.lower()
        if scheme not in {"http", "https"}:
            raise LLMUsageError(f"OLLAMA_HOST {value!r} is not a host[:port] or an http(s) URL")
        default_port = 80 if scheme == "http" else 443
    hostport, _, path = rest.partition("/")
    host, port = _split_host_port(hostport)
    if not host:
        host = "127.0.0.1"
    number = int(port) if port.isdigit() and int(port) <= 65535 else default_port
    if ":" in host:  # an IPv6 literal goes back into brackets
        host = f"[{host}]"
    url = f"{scheme}://{host}:{number}"
    return f"{url}/{path.rstrip('/')}" if path.strip("/") else url


def _split_host_port(hostport: str) -> tuple[str, str]:
    """``host[:port]``, ``[v6][:port]`` or a bare IPv6 literal, as (host, port-or-empty)."""
    if hostport.startswith("["):
        host, _, tail = hostport[1:].partition("]")
        return host, tail[1:] if tail.startswith(":") else ""
    if hostport.count(":") > 1:
        try:
            ipaddress.IPv6Address(hostport)
        except ValueError:
            pass
        else:
            return hostport, ""
    host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    return host, port


def _client(host: str, timeout: float) -> Any:
    try:
        import httpx
        import ollama
    except ImportError as e:
        raise LLMUnavailable(f"the ollama package is not installed ({e}): "
                             "pip install ollama") from e
    # Connecting is quick or never; reading waits for a CPU-bound model to produce tokens.
    return ollama.Client(host=host, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))


def _failure(host: str, timeout: float, e: Exception) -> LLMError:
    """The one-line error for an exception raised by the ollama client."""
    import httpx
    import ollama

    if isinstance(e, ollama.ResponseError):
        if e.status_code < 0:  # an error line in the middle of a streamed reply
            return LLMError(f"Ollama at {host}: {e.error}")
        return LLMError(f"Ollama at {host} answered HTTP {e.status_code}: {e.error}")
    if isinstance(e, httpx.TimeoutException):
        return LLMUnavailable(f"Ollama at {host} did not answer within {timeout:g} s "
                              f"({type(e).__name__})")
    if isinstance(e, ConnectionError | httpx.TransportError):
        return LLMUnavailable(f"Ollama is not reachable at {host}: start it with `ollama serve` "
                              f"or use --llm fast ({type(e).__name__})")
    return LLMError(f"Ollama at {host}: {e}")


def list_models(host: str, *, timeout: float = 30.0) -> list[str]:
    """The names of the models pulled on the Ollama server at ``host`` (a base URL, see
    :func:`ollama_host`). Raises :class:`LLMUnavailable` when it cannot be asked."""
    import httpx
    import ollama

    try:
        listing = _client(host, timeout).list()
    except (ollama.ResponseError, ConnectionError, httpx.HTTPError) as e:
        failure = _failure(host, timeout, e)
        raise (failure if isinstance(failure, LLMUnavailable)
               else LLMUnavailable(str(failure))) from e
    except ValueError as e:  # a body that is not an Ollama listing
        raise LLMUnavailable(f"{host} does not look like an Ollama server: {e}") from e
    return [str(m.model) for m in listing.models if m.model]


class OllamaLLM:
    """A model served by Ollama, streamed from its chat API; also a coarse
    :class:`~assistant.llm.ChoiceScorer` (see :meth:`choice_logprobs`).

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
            raise LLMUsageError("no Ollama model named: use ollama:MODEL")
        self.model = model.strip()
        self.host = ollama_host(env) if host is None else ollama_host(value=host)
        self.timeout = timeout
        self.num_ctx = num_ctx
        self.seed = seed
        self.model_id = f"ollama:{self.model}"

    def _client(self) -> Any:
        return _client(self.host, self.timeout)

    def _failure(self, e: Exception) -> LLMError:
        import ollama

        if isinstance(e, ollama.ResponseError) and e.status_code == 404:
            return self._not_pulled()
        return _failure(self.host, self.timeout, e)

    def _not_pulled(self) -> LLMUnavailable:
        return LLMUnavailable(
            f"model {self.model} is not pulled on {self.host}: run `ollama pull {self.model}`"
        )

    def available_models(self) -> list[str]:
        """The model names the server has pulled."""
        return list_models(self.host, timeout=min(self.timeout, 30.0))

    def check(self) -> None:
        """Raise :class:`LLMUnavailable` unless the server answers and has the model pulled."""
        names = set(self.available_models())
        # Ollama names carry a tag; "llama3.2" means "llama3.2:latest".
        wanted = {self.model} if ":" in self.model else {self.model, f"{self.model}:latest"}
        if not names & wanted:
            raise self._not_pulled()

    def _options(self, max_tokens: int, temperature: float, stop: Sequence[str]) -> dict[str, Any]:
        options: dict[str, Any] = {"temperature": temperature, "num_predict": max_tokens,
                                   "num_ctx": self.num_ctx, "seed": self.seed}
        if stop:
            options["stop"] = list(stop)
        return options

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.1,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply as text deltas (see :meth:`assistant.llm.LLM.stream`)."""
        import httpx
        import ollama

        client = self._client()
        try:
            for part in client.chat(model=self.model, messages=messages, stream=True,
                                    options=self._options(max_tokens, temperature, stop)):
                delta = part.message.content if part.message else None
                if delta:
                    yield delta
                if part.done:
                    return
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError) as e:
            raise self._failure(e) from e

    def choice_logprobs(self, messages: list[Message], choices: Sequence[str]) -> list[float]:
        """Log-probability that the reply starts with each choice, from a one-token reply.

        With a server and client that return log-probabilities (Ollama 0.12.11+), each choice
        gets the best value among the top 20 alternatives of the first token whose text,
        stripped and lower-cased, its own first letters match (``-inf`` when absent). Older
        servers return none; the result is then coarse: 0.0 for the choice the one-token reply
        starts with and ``-inf`` for the others.
        """
        if not choices:
            return []
        import httpx
        import ollama

        client = self._client()
        request: dict[str, Any] = {
            "model": self.model, "messages": messages, "stream": False,
            "options": self._options(1, 0.0, ()),
        }
        try:
            try:
                reply = client.chat(**request, logprobs=True, top_logprobs=20)
            except TypeError:  # a client older than log-probability support
                reply = client.chat(**request)
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError) as e:
            raise self._failure(e) from e
        alternatives: dict[str, float] = {}
        for entry in (getattr(reply, "logprobs", None) or [])[:1]:
            for alt in [entry, *(getattr(entry, "top_logprobs", None) or [])]:
                text = str(getattr(alt, "token", "") or "").strip().lower()
                if text:
                    value = float(getattr(alt, "logprob", -math.inf))
                    alternatives[text] = max(value, alternatives.get(text, -math.inf))
        wanted = [c.strip().lower() for c in choices]
        if alternatives:
            return [max((v for t, v in alternatives.items() if c and c.startswith(t)),
                        default=-math.inf) for c in wanted]
        said = ((reply.message.content if reply.message else "") or "").strip().lower()
        return [0.0 if c and said and (c.startswith(said) or said.startswith(c)) else -math.inf
                for c in wanted]

    def __repr__(self) -> str:
        return f"OllamaLLM({self.model!r}, host={self.host!r})"
