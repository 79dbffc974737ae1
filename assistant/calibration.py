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
# Final order by semantic similarity only; BM25 adds candidates through rank fusion. A BM25 term
# in the final score lowered Recall@1 at every weight tried (0.03, 0.1).
W_SEMANTIC = 1.0
W_LEXICAL = 0.0
CANDIDATES = 40  # fused candidates read from the store per question

# -- query-likelihood rerank (assistant.rerank) --------------------------------------------------
# Rescore the DEPTH best hits within MARGIN of the best similarity; the likelihood (a mean
# log-probability per token, about -2..-5 nats) is scaled by WEIGHT to the similarity's range.
# Chosen over depth 5/12, weight 0.5 and no margin, which were no better on the dev set; the
# margin halves the clips scored (cost) at the same recall.
RERANK_DEPTH = 8
RERANK_MARGIN = 0.15
RERANK_WEIGHT = 0.7

# -- answering (assistant.answer) ----------------------------------------------------------------
# Refuse without asking the LLM when the best clip's similarity is below this. Only a guard for
# questions about something the collection plainly lacks (the dev set's World Cup question:
# 0.09): with the 1.5B model reading, the judge decides the near misses. At 0.34 (the 0.5B
# era's value) it refused 10 of 85 answerable dev questions (their best clips at 0.26-0.33)
# and 3 of 12 unanswerable ones.
MIN_EVIDENCE = 0.25
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
# model has its own thresholds; an unknown model gets the default tier's.
JUDGES: dict[str, JudgeCalibration] = {
    # Dev set, passages of the 3 best clips: answerable questions' quoted passages scored
    # 0.76-2.83 when the quote held the answer, unanswerable questions' -0.38-1.40 (7 of 8 below
    # 1.0); "answers" AUC 0.85. "states" at 0, where the model itself leans to "no": the one
    # invented answer that passed the lexical checks ("a selling price of 150 joules", cited to
    # a lecture passage) scored -0.09, the lowest right answer 0.02.
    "qwen2.5-coder-1.5b": JudgeCalibration(answers=1.0, states=0.0),
    # The 0.5B model leans to "no" on every passage; its log-odds overlap almost entirely
    # (AUC ~0.6), so it refuses little and quotes much.
    "qwen2.5-coder-0.5b": JudgeCalibration(answers=-0.5, states=-1.5),
}
DEFAULT_JUDGE = "qwen2.5-coder-1.5b"


def judge_calibration(model_id: str) -> JudgeCalibration:
    """The thresholds for the judge model named ``model_id`` (a backend's model id)."""
    lowered = model_id.lower()
    for key, calibration in JUDGES.items():
        if key in lowered:
            return calibration
    return JUDGES[DEFAULT_JUDGE]


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
