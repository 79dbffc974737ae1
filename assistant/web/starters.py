"""The questions the chat suggests on its start screen, made from what the collection says.

Each suggestion asks about the word most particular to one file (frequent in it, rare in the
others), so retrieval has something to find; files are drawn alternately from video and audio.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from indexing.stores.base import MediaRecord

# Words that name a file's form rather than its content, dropped from suggested questions.
_TITLE_NOISE = frozenset("audio video clip part excerpt test demo sample mixture".split())
# Frequent in any speech, about nothing: never the topic of a suggested question.
_FILLER = frozenset("""
today tonight yesterday tomorrow going think really right little thing things something nothing
everything anything people never always every still maybe perhaps would could should might
there their where these those which while whose about after again being below thank thanks
great first second third years times knows known which yeah okay gonna wanna
""".split())


def varied(media: tuple[MediaRecord, ...], n: int) -> list[MediaRecord]:
    """Up to ``n`` files, alternating video and audio so suggestions cover both."""
    video = [m for m in media if m.has_video]
    audio = [m for m in media if not m.has_video]
    out: list[MediaRecord] = []
    while (video or audio) and len(out) < n:
        for group in (audio, video):
            if group and len(out) < n:
                out.append(group.pop(0))
    return out


def title_of(name: str) -> str:
    """A file name as words: ``lewin_physicsworks_lecture_audio.webm`` → ``lewin physicsworks
    lecture``.

    Not :func:`indexing.types.media_title`, which titles the text that gets embedded: that
    one drops every number and keeps form words (``popeye sinbad part3``), this one keeps years
    and drops form words and part numbers (``popeye sinbad 1936``), for a question a user reads.
    """
    stem = name.rsplit(".", 1)[0]
    words = [w for w in re.split(r"[\s_\-.]+", stem) if w]
    kept = [w for w in words if w.lower() not in _TITLE_NOISE and not re.fullmatch(
        r"(part)?\d{1,3}", w.lower())]
    return " ".join(kept or words)


def suggest_questions(
    media: tuple[MediaRecord, ...] | list[MediaRecord],
    texts: dict[str, list[str]],
    *,
    limit: int = 3,
) -> list[tuple[str, str]]:
    """Questions about the files in ``texts`` (media id → clip texts), one per file.

    Each asks about the word most particular to that file (frequent in it, rare in the others),
    so retrieval has something to find: ``("Energy — lewin physicsworks lecture", "What is said
    about energy in lewin physicsworks lecture?")``.
    """
    from indexing.text import is_negator, is_stopword, tokens

    counts: dict[str, Counter[str]] = {}
    for media_id, clip_texts in texts.items():
        said: Counter[str] = Counter()
        for text in clip_texts:
            said.update(w for w in tokens(text) if len(w) >= 5 and w.isalpha()
                        and not is_stopword(w) and not is_negator(w) and w not in _FILLER)
        counts[media_id] = said
    files_with: Counter[str] = Counter()
    for said in counts.values():
        files_with.update(said.keys())
    n_files = max(1, len(counts))
    out: list[tuple[str, str]] = []
    for m in media:
        words = counts.get(m.media_id)
        if not words or len(out) >= limit:
            continue
        tf = words
        best = max(tf, key=lambda w: (tf[w] * math.log(1 + n_files / files_with[w]), w))
        if tf[best] < 2:
            continue  # a word said once is as likely noise as topic
        title = title_of(m.name)
        out.append((f"{best.capitalize()} — {title}",
                    f"What is said about {best} in {title}?"))
    return out
