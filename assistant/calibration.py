"""Every tuned threshold of the assistant, in one place, with where its value came from.

All values were fixed on ``eval/sets/dev.jsonl`` (the tuning set) over the index of
``../shared/media``; none was fitted on ``eval/sets/dev_new.jsonl``, which only reports. To
re-tune, change a value here and compare ``deerin eval --qa eval/sets/dev.jsonl`` runs; the
figures each choice produced are in ``bench/`` output and the closing notes, not in docstrings,
because they move whenever the models or the index do.
"""

from __future__ import annotations

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
# Refuse without asking the LLM when the best clip's similarity is below this: the highest value
# keeping false refusals of answerable dev questions under 10 %.
MIN_EVIDENCE = 0.34
# A sentence may be cited to a clip ranked first or within this share of the best score: the
# small models mix in sentences from weaker sources, which were the asked-about moment far less
# often than the best-ranked clip.
CITABLE_RELATIVE_SCORE = 0.9
SOURCE_CHARS = 420  # characters per source given to the LLM (prompt length is latency)

# -- reading checks by the LLM (assistant.judge) -------------------------------------------------
# Log-odds (yes minus no) above which the judge's "this passage answers the question" is taken:
# used only when the model's own answer failed the citation checks, to choose between quoting
# the best clip and refusing. The default tier leans to "no" on every passage, so the threshold
# sits where the dev set's answerable gold clips and unanswerable top clips separate best.
ANSWERS_LOG_ODDS = -0.5
# Log-odds above which "this passage states the sentence" is taken (entailment check of every
# sentence that passed the lexical checks). Kept permissive: it must only catch clear failures
# (flipped meaning, a different fact), the lexical checks did the rest.
STATES_LOG_ODDS = -1.5

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
