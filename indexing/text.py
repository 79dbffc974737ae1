"""The one text toolkit: sentences, words, stems, stop words, negation and numbers.

Indexing (sentence windows of clips) and the assistant (citation checks, answer typing, quoted
passages, suggested questions) must cut and compare text the same way, so every rule lives here,
built on libraries rather than hand rules where one exists:

- sentence boundaries: ``pysbd`` (rule-based, language-aware, keeps abbreviations such as
  "Dr." and "Mr." inside a sentence); languages it does not know use its English rules;
- stems: ``snowballstemmer`` per language; a language it does not know is not stemmed;
- numbers: ``text2num`` (``alpha2digit``) turns number words into digits for the languages it
  knows, so "a crew of seven" and "7 astronauts" share the number 7;
- the language of a short text (a question): ``py3langid`` (langid.py's model, shipped in the
  wheel), among the languages the rules here know.

Language codes are ISO 639-1, as in :attr:`indexing.types.Clip.language`; ``None`` (or a code
nothing here knows) means "guess English" for sentence rules and stop words, and never fails.
Negators and number words are content, never stop words: "there are no survivors" and "there
were survivors" must not look alike to a support check.

Every function is thread-safe: the libraries' segmenters and stemmers keep per-call state, and
they cost microseconds to build, so each call builds its own instead of sharing one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

DEFAULT_LANGUAGE = "en"

# Words as a person reads them: letters and digits of any script, an inner apostrophe kept
# ("didn't", "l'équipage"), decimal and grouped numbers kept whole ("3.5", "1,000").
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+(?:['’][^\W_]+)*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*(?:st|nd|rd|th|e|er|ème|º|ª)?")
# A comma between digit groups of three is a thousands separator in every language text2num
# writes; anything else (German "3,5") is a decimal comma.
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")

_SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "es": "spanish", "et": "estonian", "eu": "basque",
    "fi": "finnish", "fr": "french", "ga": "irish", "hi": "hindi", "hu": "hungarian",
    "hy": "armenian", "id": "indonesian", "it": "italian", "lt": "lithuanian", "ne": "nepali",
    "nl": "dutch", "no": "norwegian", "nb": "norwegian", "pl": "polish", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish", "ta": "tamil",
    "tr": "turkish", "yi": "yiddish",
}
# Languages text2num's alpha2digit handles.
_NUMBER_LANGUAGES = frozenset({"en", "de", "fr", "es", "it", "pt", "nl"})
# Number words below this stay words: "one" is far more often a pronoun ("no one", "one of
# them") than a count, and "first" an adverb; from "two" on, words are counts.
_NUMBER_THRESHOLD = 2

# Negators per language. Contractions ("didn't") and elisions (French "n'est") are found by
# their form in :func:`negated`, not listed.
NEGATORS: dict[str, frozenset[str]] = {
    "en": frozenset("no not never nobody none nothing nowhere neither nor without cannot".split()),
    "de": frozenset("nicht kein keine keinen keinem keiner keines nie niemals niemand nichts "
                    "nirgends ohne weder".split()),
    "fr": frozenset("ne pas jamais rien aucun aucune sans ni nulle".split()),
    "es": frozenset("no nunca jamás nadie nada ninguno ninguna ningún sin tampoco ni".split()),
    "it": frozenset("non mai nessuno nessuna niente nulla senza né".split()),
    "nl": frozenset("niet geen nooit niemand niets nergens zonder".split()),
    "pt": frozenset("não nunca jamais ninguém nada nenhum nenhuma sem nem".split()),
}

# Function words, which carry no evidence: "the speaker said that it was" matches every
# transcript. English also lists the words answers use to talk about their sources ("the
# narrator explains"). Reply particles ("yes", "ja") are function words too: "Yes, the bob can
# never come back" claims what follows the comma. No negator and no number word is here (see
# the module docstring).
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself now of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then there these they
this those through to too under until up very was we were what when where which while who whom
why will with would you your yours yourself yourselves said says say speaker talk talks talked
speech source sources clip according mentions mentioned there's it's that's
narrator lecturer professor president recording video audio film excerpt passage sentence
explains explained states stated describes described tells told yes yeah
""".split()),
    # Other languages: articles, pronouns, auxiliaries, common prepositions and conjunctions.
    "de": frozenset("""
der die das den dem des ein eine einen einem einer eines und oder aber denn dass als wie wenn
ob zu zum zur im in am an auf aus bei mit nach von vor für über unter um durch ist sind war
waren wird werden wurde wurden hat haben hatte hatten sein ich du er sie es wir ihr mich mir
dich dir sich uns euch sein seine ihre ihr dieser diese dieses jener so auch noch nur schon
sehr hier da dort was wer wo wann warum welche welcher welches man ja
""".split()),
    "fr": frozenset("""
le la les l un une des du de d et ou mais donc car que qu qui quoi dont où à au aux en dans sur
sous par pour avec chez est sont était étaient été être avoir a ai as avons avez ont avait je
tu il elle on nous vous ils elles me te se m t s lui leur leurs ce cet cette ces c mon ma mes
ton ta tes son sa ses notre nos votre vos y aussi très plus oui si
""".split()),
    "es": frozenset("""
el la los las lo un una unos unas y o pero que quien quienes cual donde cuando como de del a
al en con por para sobre entre es son era eran fue fueron ser estar está están ha han había
haber yo tú él ella nosotros vosotros ellos ellas me te se nos os le les mi mis tu tus su sus
este esta estos estas ese esa esos esas muy más también ya sí si
""".split()),
    "it": frozenset("""
il lo la i gli le l un uno una e ed o ma che chi cui dove quando come di del della dei delle
a al alla ai alle da dal dalla in nel nella con su sul sulla per tra fra è sono era erano fu
essere stato ha hanno aveva avere io tu lui lei noi voi loro mi ti si ci vi gli mio mia tuo
tua suo sua nostro vostro questo questa quello quella molto più anche già sì
""".split()),
    "nl": frozenset("""
de het een en of maar want dat die dit deze wie wat waar wanneer hoe van in op aan met voor
naar bij uit door over onder om tot is zijn was waren wordt worden werd heeft hebben had ik je
jij hij zij ze we wij jullie u me mij hem haar ons hun zich mijn jouw zijn er hier daar ook
zeer heel nog al dan ja
""".split()),
    "pt": frozenset("""
o a os as um uma uns umas e ou mas que quem qual onde quando como de do da dos das em no na
nos nas com por para pelo pela sobre entre é são era eram foi foram ser estar está estão tem
têm ter havia eu tu ele ela nós vós eles elas me te se lhe lhes meu minha seu sua este esta
esse essa isso isto muito mais também já sim
""".split()),
}


def detect_language(text: str) -> str | None:
    """The language of ``text`` (ISO 639-1), among those this toolkit stems, or None when the
    text is too short to tell or in another language. A question of a few words is enough."""
    if len(tokens(text)) < 2:
        return None
    import py3langid  # its model (a few MB) loads on the first call

    code, _ = py3langid.classify(text)
    return code if code in _SNOWBALL else None


def language(lang: str | None) -> str:
    """The ISO 639-1 code of ``lang`` in lower case (``"de-AT"`` -> ``"de"``), English for
    ``None`` or an empty code."""
    code = (lang or "").strip().lower().replace("_", "-").split("-")[0]
    return code or DEFAULT_LANGUAGE


# --------------------------------------------------------------------------------------------
# Sentences


def sentence_spans(text: str, lang: str | None = None) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of ``text``, whitespace trimmed.

    Line breaks always end a sentence (subtitle cues and transcripts put one statement per
    line); within a line, pysbd decides. The spans index the original ``text``, so a sentence
    can be mapped to seconds with :meth:`indexing.types.Clip.span_of`.
    """
    import pysbd  # lazily: only callers that split sentences pay for its rule tables
    from pysbd.languages import LANGUAGE_CODES

    code = language(lang)
    segmenter = pysbd.Segmenter(language=code if code in LANGUAGE_CODES else DEFAULT_LANGUAGE,
                                clean=False)
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        offset = line.start()
        cursor = 0
        body = line.group()
        for piece in segmenter.segment(body):
            piece = piece.strip()
            if not piece:
                continue
            # pysbd returns its sentences in order and unchanged (clean=False), so each is
            # found from where the last one ended.
            at = body.find(piece, cursor)
            if at < 0:  # never expected; keep the rest of the line as one sentence
                rest = body[cursor:]
                if rest.strip():
                    lead = len(rest) - len(rest.lstrip())
                    spans.append((offset + cursor + lead, offset + len(body.rstrip())))
                cursor = len(body)
                break
            spans.append((offset + at, offset + at + len(piece)))
            cursor = at + len(piece)
    return spans


def sentences(text: str, lang: str | None = None) -> list[str]:
    """The sentences of ``text`` (see :func:`sentence_spans`), whitespace trimmed."""
    return [text[a:b] for a, b in sentence_spans(text, lang)]


# --------------------------------------------------------------------------------------------
# Words


def tokens(text: str, lang: str | None = None) -> list[str]:
    """The words of ``text`` in lower case, in any script, numbers whole ("3.5", "1,000").

    Apostrophes are normalised to ``'``; French and Italian elisions are split ("l'équipage"
    -> "l", "équipage"; "n'est" -> "n", "est"), where the first part is an article or negator.
    """
    words = [w.replace("’", "'") for w in _TOKEN.findall(text.lower())]
    if language(lang) not in ("fr", "it"):
        return words
    out: list[str] = []
    for w in words:
        out.extend(p for p in w.split("'") if p)
    return out


def token_spans(text: str) -> list[tuple[int, int, str]]:
    """The words of ``text`` as :func:`tokens` finds them (without the French/Italian elision
    split), each with its character span: ``(start, end, lower-case word)``.

    For mapping a match on words back to the characters, and so to the seconds, it covers.
    """
    return [(m.start(), m.end(), m.group().lower().replace("’", "'"))
            for m in _TOKEN.finditer(text)]


def stem(word: str, lang: str | None = None) -> str:
    """The Snowball stem of one lower-case ``word``; the word itself in a language without a
    Snowball stemmer."""
    return stemmer(lang)(word)


def stemmer(lang: str | None = None) -> Callable[[str], str]:
    """A function stemming words of ``lang`` (identity for a language Snowball does not know).

    Build one per batch of words: it is cheap, and not shared across threads.
    """
    name = _SNOWBALL.get(language(lang))
    if name is None:
        return _identity
    import snowballstemmer  # lazily: only text comparisons need it

    return snowballstemmer.stemmer(name).stemWord


def _identity(word: str) -> str:
    return word


def is_stopword(word: str, lang: str | None = None) -> bool:
    """Whether lower-case ``word`` is a function word of ``lang`` (English when unknown)."""
    stops = _STOPWORDS.get(language(lang), _STOPWORDS[DEFAULT_LANGUAGE])
    return word in stops


def content_words(text: str, lang: str | None = None) -> list[str]:
    """Stems of the words of ``text`` that carry meaning: no stop words, numbers as digits.

    Number words are written as digits first ("seven" -> "7"), so a sentence and its source
    compare the same way whichever they use; a negated contraction counts as the negator
    ("didn't" -> "not") since its auxiliary is a stop word.
    """
    form = _content_form(lang)
    return [f for f in (form(w) for w in tokens(digits(text, language(lang)), lang)) if f]


def _content_form(lang: str | None) -> Callable[[str], str | None]:
    """A function from one lower-case token to its content form (see :func:`content_words`),
    or ``None`` for a stop word."""
    code = language(lang)
    stops = _STOPWORDS.get(code, _STOPWORDS[DEFAULT_LANGUAGE])
    stem_of = stemmer(code)

    def form(w: str) -> str | None:
        if w[0].isdigit():
            return _number_form(w)
        if is_negator(w, code):
            return "not" if w.endswith("n't") else w
        if w not in stops and len(w) > 1:
            return stem_of(w)
        return None

    return form


# --------------------------------------------------------------------------------------------
# Negation and numbers


def is_negator(word: str, lang: str | None = None) -> bool:
    """Whether lower-case ``word`` negates in ``lang`` ("no", "never", "didn't", "kein")."""
    code = language(lang)
    return word in NEGATORS.get(code, ()) or (code == "en" and word.endswith("n't"))


def negated(text: str, lang: str | None = None) -> bool:
    """Whether ``text`` holds a negator of ``lang`` ("no", "never", "didn't", "nicht", "kein…").

    Any negator counts: spoken language piles them up ("nobody said nothing") more often than
    it cancels them, and a support check only needs to see that two sentences differ. French
    and Italian elided "ne" ("n'est") counts too (:func:`tokens` splits it off as "n").
    """
    code = language(lang)
    return any(is_negator(w, code) or (w == "n" and code in ("fr", "it"))
               for w in tokens(text, code))


def negated_words(text: str, lang: str | None = None, before: int = 1,
                  after: int = 2) -> frozenset[str]:
    """The content words of ``text`` (as :func:`content_words` gives them) that a negator
    stands next to: up to ``before`` tokens before it and ``after`` tokens after it.

    Which words a negation covers matters more than whether a sentence has one: recognisers
    run sentences together, and "I live on an island … that's not a bad joke" does not deny
    the island. English puts the negator before what it denies ("no survivors", "never came
    back"), German often after the verb ("ging nicht aus"); one token back and two ahead
    covers both in the sentences the checks compare, and stops short of what a rhetorical
    "ask not what your country can do" goes on to affirm.
    """
    code = language(lang)
    words = tokens(digits(text, code), code)
    form = _content_form(code)
    out: set[str] = set()
    for i, w in enumerate(words):
        if is_negator(w, code) or (w == "n" and code in ("fr", "it")):
            for near in words[max(0, i - before): i] + words[i + 1: i + 1 + after]:
                f = form(near)
                if f and not is_negator(near, code):
                    out.add(f)
    return frozenset(out)


def digits(text: str, lang: str | None = None) -> str:
    """``text`` with number words written as digits ("a crew of seven" -> "a crew of 7") in
    the languages text2num knows; other text is returned as is."""
    code = language(lang)
    if code not in _NUMBER_LANGUAGES or not text:
        return text
    from text_to_num import alpha2digit  # lazily: a compiled extension

    try:
        return str(alpha2digit(text, code, threshold=_NUMBER_THRESHOLD))
    except (ValueError, RuntimeError):  # odd input must never break a comparison
        return text


def numbers(text: str, lang: str | None = None) -> set[str]:
    """The numbers ``text`` states, written as digits whether spoken or written so.

    ``"seven astronauts"`` and ``"7 astronauts"`` both give ``{"7"}``; thousands separators
    go ("1,000" -> "1000"); ordinals keep their suffix ("second" -> "2nd"). "One" and "first"
    stay words (they are pronouns and adverbs more often than counts).
    """
    return {_number_form(m.group()) for m in _NUMBER.finditer(digits(text, lang))}


def _number_form(number: str) -> str:
    return _THOUSANDS.sub("", number)


def overlap(words: Iterable[str], evidence: Iterable[str]) -> float:
    """Share of ``words`` found in ``evidence`` (1.0 when ``words`` is empty)."""
    listed = list(words)
    if not listed:
        return 1.0
    have = set(evidence)
    return sum(1 for w in listed if w in have) / len(listed)
