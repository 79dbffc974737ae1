"""Run a gold set through DEERIn and, in the same pass, through a naive dense baseline.

For every gold question the runner records

* DEERIn's ranked top-``k`` clips (:meth:`assistant.retrieval.Retriever.search`), which the
  retrieval metrics read;
* DEERIn's answer (:meth:`assistant.answer.Assistant.ask`): text, refusal, citations, timings;
* the baseline's top-``k``: plain cosine retrieval with the same embedder over the *raw* speech
  segments as faster-whisper returns them and one segment per subtitle cue — what a LlamaIndex
  ``VectorStoreIndex`` built over a transcript gives you. It is built literally with LlamaIndex,
  so the reported uplift is over that and not over a strawman of our own making.

The store keeps clips, not raw segments, so the baseline re-transcribes each indexed file once
with the same recogniser settings and caches the segments (see :func:`raw_segments`); reruns
over the same index then cost only the questions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.gold import GoldQuestion, load_gold
from eval.llama import llama_embedding
from eval.metrics import (
    QuestionResult,
    best_iou,
    contributions,
    gold_answer_hit,
    is_hit,
    latency_summary,
    media_name,
    passage_hit,
    rank_of_first_hit,
    summarize,
)
from eval.stats import paired_rate_difference

if TYPE_CHECKING:
    from assistant.answer import Assistant
    from indexing.protocols import Embedder
    from indexing.settings import Settings
    from indexing.stores.base import ClipReader

BASELINE_ENGINE = "llama_index.core.VectorStoreIndex (cosine, raw ASR segments + subtitle cues)"
RETRIEVAL_KEYS = ("recall@1", "recall@3", "recall@5", "mrr", "mean_iou")
ANSWER_KEYS = ("citation_precision", "citation_precision_model", "citation_precision_quote",
               "citation_iou", "passage_recall", "answer_hit_rate", "answer_hit_when_read",
               "refusal_accuracy", "false_refusal_rate", "extractive_rate",
               "raw_answer_hit_rate", "invented_number_rate", "refusals_by_gate")
# The retrieval rates whose gain over the baseline gets a paired bootstrap interval.
UPLIFT_RATES = ("recall@1", "recall@3", "recall@5", "mrr")
_CACHE_FILE = "baseline_segments.json"
_CACHE_FORMAT = 1

Progress = Callable[[int, int, GoldQuestion], None]


@dataclass(frozen=True, slots=True)
class RawSegment:
    """One unit of the baseline's index: an ASR segment or a subtitle cue, untouched."""

    media: str
    start: float
    end: float
    text: str
    kind: str  # "speech" | "subtitle"


@dataclass(frozen=True)
class SystemOutcome:
    """What one system (DEERIn or the baseline) did for one question.

    ``result`` is what the metrics read (including the LLM's unchecked output and whether the
    answer is the quote fallback); the rest is kept for the report: the text of each retrieved
    item (rank order), the citation markers, timings in seconds, and an error line when answering
    failed.
    """

    result: QuestionResult
    texts: tuple[str, ...] = ()
    citation_numbers: tuple[int, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class QuestionOutcome:
    """One gold question, the set it came from, and what the systems did with it (the peer
    only when it ran, see :mod:`eval.peer`)."""

    gold: GoldQuestion
    deerin: SystemOutcome
    baseline: SystemOutcome
    set_name: str = ""
    peer: SystemOutcome | None = None


@dataclass
class EvalRun:
    """A finished eval run: per-question outcomes plus what it was run against.

    ``gold_sets`` maps each set's name to its file, in the order given; every question outcome
    names its set. ``gold_path`` is the single file, or the files joined by ``", "``.
    """

    gold_path: str
    db_dir: str
    k: int
    answered: bool
    llm: str | None
    embedder: str
    questions: list[QuestionOutcome]
    baseline_info: dict[str, Any]
    warnings: list[str]
    elapsed_s: float
    gold_sets: dict[str, str] = field(default_factory=dict)

    @property
    def multi_set(self) -> bool:
        """Whether the run holds more than one gold set (reports then show each set apart)."""
        return len(self.gold_sets) > 1

    def metrics(self) -> dict[str, Any]:
        """DEERIn's metrics over every question, with ``baseline`` and ``uplift`` folded in (see
        :func:`metrics_of`)."""
        return metrics_of(self.questions, answered=self.answered)

    def set_questions(self, name: str) -> list[QuestionOutcome]:
        """The outcomes of the questions of set ``name``, in file order."""
        return [q for q in self.questions if q.set_name == name]

    def metrics_by_set(self) -> dict[str, dict[str, Any]]:
        """:func:`metrics_of` for each gold set on its own, keyed by set name (run order)."""
        return {name: metrics_of(self.set_questions(name), answered=self.answered)
                for name in self.gold_sets}


def set_names(paths: Sequence[str | Path]) -> list[str]:
    """A short, unique name per gold file: its stem (``dev`` for ``eval/sets/dev.jsonl``).

    Files sharing a stem are told apart by their parent folder (``a/dev``), then by position
    (``dev#2``), so two sets never merge in a report. Raises ``ValueError`` when the same file is
    given twice: its questions would be counted twice in the overall figures.
    """
    resolved = [Path(p).resolve() for p in paths]
    if len(set(resolved)) != len(resolved):
        raise ValueError("the same gold file is given more than once")
    stems = [Path(p).stem for p in paths]
    names = [stem if stems.count(stem) == 1 else f"{Path(p).parent.name}/{stem}"
             for p, stem in zip(paths, stems, strict=True)]
    return [name if names.count(name) == 1 else f"{name}#{i}"
            for i, name in enumerate(names, start=1)]


def metrics_of(questions: Sequence[QuestionOutcome], *, answered: bool) -> dict[str, Any]:
    """The headline dict: :func:`eval.metrics.summarize` of DEERIn's results, plus

    ``errors`` (questions whose answering failed), ``latency.first_token`` and
    ``latency.answer`` (wall time of the whole ask), ``baseline`` (the baseline's summary) and
    ``uplift`` (DEERIn minus baseline for each retrieval metric). Answer metrics are ``None``
    when nothing was answered (``answered=False``) and always for the retrieval-only baseline:
    a system that never answers must not score a false-refusal rate of 0.
    """
    m = summarize([q.deerin.result for q in questions])
    base = summarize([q.baseline.result for q in questions])
    for key in ANSWER_KEYS:
        base[key] = None
        if not answered:
            m[key] = None
    base["latency"].pop("generation")
    m["errors"] = sum(1 for q in questions if q.deerin.error)
    m["latency"]["first_token"] = latency_summary(
        [q.deerin.timings.get("first_token_s") for q in questions])
    m["latency"]["answer"] = latency_summary([q.deerin.timings.get("answer_s") for q in questions])
    m["baseline"] = base
    if answered and all(q.peer is not None for q in questions) and questions:
        peers = [q.peer for q in questions if q.peer is not None]
        peer = summarize([s.result for s in peers])
        peer["latency"]["answer"] = latency_summary([s.timings.get("answer_s") for s in peers])
        # The same questions resampled for both: is DEERIn ahead of the peer beyond noise?
        mine = [contributions(q.deerin.result) for q in questions]
        theirs = [contributions(s.result) for s in peers]
        peer["lead_interval"] = {}
        for key in ("answer_hit_rate", "citation_precision", "refusal_accuracy",
                    "false_refusal_rate"):
            ci = paired_rate_difference([c[key] for c in theirs], [c[key] for c in mine])
            peer["lead_interval"][key] = ci.as_list() if ci is not None else None
        m["peer"] = peer
    m["uplift"] = {key: (m[key] - base[key] if m[key] is not None and base[key] is not None
                         else None) for key in RETRIEVAL_KEYS}
    # Small sets are noisy: the same questions resampled for both systems.
    ours = [contributions(q.deerin.result, answered=False) for q in questions]
    theirs = [contributions(q.baseline.result, answered=False) for q in questions]
    m["uplift_interval"] = {}
    for key in UPLIFT_RATES:
        ci = paired_rate_difference([c[key] for c in theirs], [c[key] for c in ours])
        m["uplift_interval"][key] = ci.as_list() if ci is not None else None
    return m


def verdict(outcome: SystemOutcome, gold: GoldQuestion, *, answered: bool) -> dict[str, Any]:
    """Per-question judgements: hit rank, best IoU, citation hits, answer hit, refusal.

    Answer verdicts are ``None`` when the system did not answer (retrieval-only runs and the
    baseline). ``refusal_correct`` is True when an unanswerable question was refused or an
    answerable one was not.
    """
    r = outcome.result
    rank = rank_of_first_hit(r.retrieved_spans, gold)
    out: dict[str, Any] = {
        "hit_rank": rank,
        "hit@1": rank == 1,
        "hit@k": rank is not None,
        "best_iou": round(best_iou(r.retrieved_spans, gold), 4) if gold.answerable else None,
    }
    if not answered:
        return out | {"refused": None, "refusal_correct": None, "answer_hit": None,
                      "citation_hits": None}
    return out | {
        "refused": r.refused,
        "refusal_correct": r.refused != gold.answerable,
        "answer_hit": (not r.refused and gold_answer_hit(r.answer, gold)
                       if gold.answerable else None),
        "passage_hit": passage_hit(r) if gold.answerable else None,
        "gate": r.gate,
        "citation_hits": ([is_hit(m, s, e, gold) for m, s, e, *_ in r.citations]
                          if gold.answerable else None),
    }


# -- the run ------------------------------------------------------------------------------------
def run_eval(gold_path: str | Path | Sequence[str | Path], settings: Settings,
             llm_spec: str | None = None, *, k: int = 5, answer: bool = True,
             cache_dir: Path | None = None, progress: Progress | None = None,
             mode: str = "naive", peer: bool = False) -> EvalRun:
    """Run every question of ``gold_path`` through DEERIn and the baseline; return the run.

    ``gold_path`` is one gold file or several: several sets share one loading of the models and
    one index, and every outcome records its set (named by :func:`set_names`) so each set can
    be reported apart. ``settings.db_dir`` names an existing index. ``llm_spec`` as for
    ``deerin ask`` (``None``: ``$DEERIN_LLM`` or the shipped llama.cpp model). ``k`` is the depth
    of the ranked lists the retrieval metrics read (Recall@5 needs ``k >= 5``). With
    ``answer=False`` no LLM is loaded and only retrieval is measured. Raw segments for the
    baseline are cached in ``cache_dir`` (default: ``<db>/eval-cache``). ``progress(i, n,
    question)`` is called before each question. ``mode`` is the retrieval mode of the ranked
    lists and the answers (``naive``, or a graph mode of :mod:`assistant.graph`). ``peer``
    also answers every question with LlamaIndex's citation engine over the same clips, embedder
    and LLM (:mod:`eval.peer`; needs ``answer``). Raises
    ``ValueError`` for a bad gold file (or none, or the same file twice), ``StoreError``
    without an index and ``LLMUnavailable`` when the LLM cannot be loaded.
    """
    from assistant.llm import complete, default_llm_spec
    from assistant.service import build_assistant

    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    t0 = time.perf_counter()
    paths = [gold_path] if isinstance(gold_path, str | Path) else list(gold_path)
    if not paths:
        raise ValueError("no gold file given")
    sets = dict(zip(set_names(paths), (str(p) for p in paths), strict=True))
    # Load every set before any model, so a bad line fails the run at once.
    tagged = [(name, gold) for name, path in sets.items() for gold in load_gold(path)]
    golds = [gold for _, gold in tagged]
    spec = (llm_spec or default_llm_spec()) if answer else None
    assistant = build_assistant(settings, spec, with_llm=answer)
    if mode != "naive":
        from assistant.graph.service import with_mode

        assistant = with_mode(assistant, mode)
    retriever = assistant.retriever
    warnings = _coverage_warnings(golds, retriever.store)
    # Load the embedder and the LLM before the clock runs per question, so the first question's
    # latency measures answering rather than model loading.
    retriever.embed_query("warm up")
    if assistant.llm is not None:
        complete(assistant.llm, [{"role": "user", "content": "Say OK."}], max_tokens=1)
    segments, seg_warnings, cache_path = raw_segments(
        retriever.store, settings, cache_dir or Path(settings.db_dir) / "eval-cache")
    warnings += seg_warnings
    baseline = DenseBaseline(segments, retriever.embedder)
    citation_peer = None
    if peer and answer and assistant.llm is not None:
        from eval.peer import CitationPeer

        citation_peer = CitationPeer(retriever.store.all_clips(), retriever.embedder,
                                     assistant.llm)

    outcomes = []
    for i, (name, gold) in enumerate(tagged, start=1):
        if progress is not None:
            progress(i, len(tagged), gold)
        outcomes.append(QuestionOutcome(
            gold, _run_deerin(assistant, gold, k, answer), _run_baseline(baseline, gold, k),
            name, _run_peer(citation_peer, gold) if citation_peer is not None else None))
    return EvalRun(
        gold_path=", ".join(sets.values()), gold_sets=sets, db_dir=str(settings.db_dir), k=k,
        answered=answer,
        llm=getattr(assistant.llm, "model_id", None), embedder=retriever.embedder.model_id,
        questions=outcomes, warnings=warnings, elapsed_s=time.perf_counter() - t0,
        baseline_info={"engine": BASELINE_ENGINE, "segments": len(segments),
                       "speech_segments": sum(s.kind == "speech" for s in segments),
                       "subtitle_segments": sum(s.kind == "subtitle" for s in segments),
                       "cache": str(cache_path)},
    )


def _run_deerin(assistant: Assistant, gold: GoldQuestion, k: int, answer: bool) -> SystemOutcome:
    from assistant.answer import QuestionError
    from assistant.llm import LLMError

    t = time.perf_counter()
    hits = assistant.retriever.search(gold.question, k=k)
    retrieval_s = time.perf_counter() - t
    retrieved = [(h.clip.media_path, h.clip.start, h.clip.end, h.score, h.clip.kind.value)
                 for h in hits]
    texts = tuple(h.clip.text for h in hits)
    timings = {"retrieval_s": retrieval_s}
    if not answer:
        return SystemOutcome(QuestionResult(gold, retrieved, "", False, (), retrieval_s, None),
                             texts, timings=timings)
    t = time.perf_counter()
    try:
        ans = assistant.ask(gold.question)
    except (LLMError, QuestionError) as exc:
        timings["answer_s"] = time.perf_counter() - t
        return SystemOutcome(QuestionResult(gold, retrieved, "", False, (), retrieval_s, None),
                             texts, timings=timings, error=str(exc).splitlines()[0])
    timings["answer_s"] = time.perf_counter() - t
    for name, value in ans.timings.items():
        # The ask's own retrieval (k=4, for the LLM) is kept apart from the measured top-k search.
        timings["ask_retrieval_s" if name == "retrieval_s" else name] = value
    # A citation stands for the seconds it cites (the supporting words), not its whole clip.
    citations = [(c.clip.media_path, c.start, c.end) for c in ans.citations]
    result = QuestionResult(gold, retrieved, ans.text, ans.refused, citations, retrieval_s,
                            ans.timings.get("generation_s"), ans.extractive, ans.raw,
                            ans.read, ans.gate)
    return SystemOutcome(result, texts, tuple(c.n for c in ans.citations), timings)


def _run_peer(peer: Any, gold: GoldQuestion) -> SystemOutcome:
    reply = peer.ask(gold.question)
    retrieved = [(c.media_path, c.start, c.end, score, c.kind.value)
                 for c, score in reply.retrieved]
    cited = [(c.media_path, c.start, c.end) for c in reply.cited]
    result = QuestionResult(gold, retrieved, reply.text, reply.refused, cited, None,
                            reply.seconds, raw=reply.text)
    return SystemOutcome(result, tuple(c.text for c, _ in reply.retrieved),
                         timings={"answer_s": reply.seconds})


def _run_baseline(baseline: DenseBaseline, gold: GoldQuestion, k: int) -> SystemOutcome:
    t = time.perf_counter()
    found = baseline.search(gold.question, k)
    retrieval_s = time.perf_counter() - t
    retrieved = [(s.media, s.start, s.end, score, s.kind) for s, score in found]
    return SystemOutcome(QuestionResult(gold, retrieved, "", False, (), retrieval_s, None),
                         tuple(s.text for s, _ in found), timings={"retrieval_s": retrieval_s})


def _coverage_warnings(golds: Sequence[GoldQuestion], store: ClipReader) -> list[str]:
    """Name gold files the index lacks: their questions are misses the index cannot help."""
    indexed = {media_name(m.path) for m in store.media()}
    missing = sorted({g.media for g in golds if g.media and g.media not in indexed})
    return [f"gold media not in the index: {name}" for name in missing]


# -- the baseline -------------------------------------------------------------------------------
class DenseBaseline:
    """A naive LlamaIndex ``VectorStoreIndex`` over raw segments, embedded with our embedder.

    Every segment becomes one ``TextNode`` whose embedding covers its text only (metadata is
    excluded, as it holds file paths and times, not words anyone asks about). Retrieval is
    ``as_retriever(similarity_top_k=k)``: cosine similarity, no lexical signal, no rerank, no
    de-duplication, no merging of segments into clips.
    """

    def __init__(self, segments: Sequence[RawSegment], embedder: Embedder) -> None:
        """Embed ``segments`` and build the in-memory index (LlamaIndex is imported here)."""
        self.segments = list(segments)
        self._index: Any = None
        if not self.segments:
            return
        from llama_index.core import VectorStoreIndex
        from llama_index.core.schema import TextNode

        keys = ["seg"]
        nodes = [TextNode(text=s.text, id_=f"seg-{i}", metadata={"seg": i},
                          excluded_embed_metadata_keys=keys, excluded_llm_metadata_keys=keys)
                 for i, s in enumerate(self.segments)]
        self._index = VectorStoreIndex(nodes, embed_model=llama_embedding(embedder))

    def search(self, query: str, k: int) -> list[tuple[RawSegment, float]]:
        """The ``k`` segments most similar to ``query``, best first, with cosine scores."""
        if self._index is None:
            return []
        found = self._index.as_retriever(similarity_top_k=k).retrieve(query)
        return [(self.segments[int(n.node.metadata["seg"])], float(n.score or 0.0))
                for n in found]


def raw_segments(store: ClipReader, settings: Settings,
                 cache_dir: Path) -> tuple[list[RawSegment], list[str], Path]:
    """The raw text units of every indexed file: ASR segments and subtitle cues, time-ordered.

    Speech is transcribed with the recogniser ``settings`` describe (the one indexing uses), the
    way the pipeline feeds it, and cached in ``cache_dir/baseline_segments.json`` under the file's
    content id and the recogniser settings, so a rerun transcribes nothing. Subtitle sidecars are
    read fresh each time (cheap). Returns the segments, warnings (files that are gone or were
    indexed with another recogniser) and the cache file's path.
    """
    from indexing.backends.faster_whisper import transcriber_from_settings
    from indexing.media import MediaError
    from indexing.stages.subtitles import find_sidecars, read_subtitles

    cache_path = Path(cache_dir) / _CACHE_FILE
    cache = _read_cache(cache_path)
    dirty = False
    transcriber = None
    out: list[RawSegment] = []
    warnings: list[str] = []
    for record in store.media():
        path = Path(record.path)
        if not path.exists():
            warnings.append(f"baseline: {record.path} is gone; its speech is not in the baseline")
            continue
        if record.has_audio:
            if transcriber is None:
                transcriber = transcriber_from_settings(settings)
            if record.asr_model and record.asr_model != transcriber.model_id:
                warnings.append(f"baseline: {path.name} was indexed with {record.asr_model}, "
                                f"the baseline transcribes with {transcriber.model_id}")
            key = (f"{record.media_id}|{transcriber.model_id}|{settings.asr_language}|"
                   f"{settings.asr_beam_size}|{settings.asr_vad}")
            if key not in cache:
                try:
                    # From the file, as indexing does: streamed, so memory stays bounded.
                    cache[key] = [[s.start, s.end, s.text] for s in transcriber.transcribe(path)]
                except MediaError as exc:
                    warnings.append(f"baseline: cannot decode {path.name}: {exc}")
                    cache[key] = []
                dirty = True
            out += [RawSegment(record.path, float(s), float(e), str(t), "speech")
                    for s, e, t in cache[key]]
        for sidecar in find_sidecars(path):
            try:
                out += [RawSegment(record.path, c.start, c.end, c.text, "subtitle")
                        for c in read_subtitles(sidecar).cues if c.text.strip()]
            except (ValueError, OSError) as exc:
                warnings.append(f"baseline: subtitles {sidecar.name} skipped: {exc}")
    if dirty:
        try:
            _write_cache(cache_path, cache)
        except OSError as exc:  # a read-only index folder only costs the next run's time
            warnings.append(f"baseline: cannot write segment cache {cache_path}: {exc}")
    return out, warnings, cache_path


def _read_cache(path: Path) -> dict[str, list[list[Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT:
        return {}
    entries = data.get("segments")
    return entries if isinstance(entries, dict) else {}


def _write_cache(path: Path, entries: dict[str, list[list[Any]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"format": _CACHE_FORMAT, "segments": entries}), encoding="utf-8")
    tmp.replace(path)  # atomic: a killed run never leaves half a cache
