"""Cut a streamed reply into the pieces a non-streaming voice speaks, first clause first.

livekit-agents drives a non-streaming TTS (Piper, espeak-ng, a cloning server) through a
sentence tokenizer. Its default hands over a sentence only once the *next* one has begun,
so the caller waits for a whole first sentence and the start of the second before a
sound is made: on 2 cores, most of a second of every reply.

:class:`FirstClauseTokenizer` hands the first piece of each reply over as soon as it is a
clause (a comma, semicolon, colon or dash after it), a sentence, or a handful of words
that end before a word that starts a new phrase; the rest goes sentence by sentence, as
soon as a sentence's closing mark is followed by a space. The voice then starts on three
to six words while the language model writes the rest.
"""

from __future__ import annotations

import re
from typing import Any

from livekit.agents import tokenize, tts, utils
from livekit.agents.tokenize.tokenizer import SentenceStream, TokenData

FIRST_CHUNK_WORDS = 4
"""A first piece without punctuation is spoken once it has at least this many words..."""
FIRST_CHUNK_MAX_WORDS = 8
"""...and ends before a phrase word ("and", "at", "because"), or at this many words."""
LONG_SENTENCE_CHARS = 160
"""A sentence longer than this is also cut at a clause break, so the voice keeps up."""

_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s+")
_CLAUSE_END = re.compile(r"(?:[,;:]|\s[\u2014\u2013-])[\"')\]]*\s+|\u2014\s*")
_WORD_END = re.compile(r"\S+\s+")
# Closing marks after these are not the end of a sentence ("Dr. Lee", "9 a.m. on Monday").
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr prof vs etc e.g i.e a.m p.m no approx dept mt ft".split()
)
# A first piece cut without punctuation ends before one of these, where speech pauses.
_PHRASE_STARTS = frozenset(
    "and but or so because since which who that when where while if then until from at in "
    "on for with to by about after before".split()
)


def _is_abbreviation(text: str, mark_at: int) -> bool:
    word = text[:mark_at].rsplit(None, 1)[-1] if text[:mark_at].strip() else ""
    word = word.lower().rstrip(".")
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _sentence_end(text: str, start: int = 0) -> int | None:
    """Where the first finished sentence in ``text[start:]`` ends (after its space)."""
    for m in _SENTENCE_END.finditer(text, start):
        if text[m.start()] == "." and _is_abbreviation(text, m.start()):
            continue
        return m.end()
    return None


def _clause_end(text: str, start: int = 0) -> int | None:
    m = _CLAUSE_END.search(text, start)
    return m.end() if m and text[: m.start()].strip() else None


def _words_end(text: str) -> int | None:
    """End of a first piece of plain words, before a phrase word or at the word limit."""
    ends = [m.end() for m in _WORD_END.finditer(text)]
    words = text.split()
    for count in range(FIRST_CHUNK_WORDS, min(len(ends), FIRST_CHUNK_MAX_WORDS) + 1):
        at_limit = count == FIRST_CHUNK_MAX_WORDS
        next_word = words[count].lower() if count < len(words) else ""
        if at_limit or (next_word and next_word.strip("\"'(") in _PHRASE_STARTS):
            # a phrase word is only known once it is followed by a space (complete)
            if at_limit or count + 1 <= len(ends):
                return ends[count - 1]
    return None


def first_piece_end(text: str) -> int | None:
    """Where the first piece of a reply ends, or ``None`` while more text is needed."""
    candidates = [end for end in (_sentence_end(text), _clause_end(text)) if end is not None]
    if candidates:
        return min(candidates)
    return _words_end(text)


def next_piece_end(text: str) -> int | None:
    """Where the next piece after the first ends: a sentence, or a clause of a long one."""
    end = _sentence_end(text)
    if end is not None:
        return end
    if len(text) > LONG_SENTENCE_CHARS:
        return _clause_end(text, LONG_SENTENCE_CHARS // 2)
    return None


def split_pieces(text: str) -> list[str]:
    """The whole ``text`` cut into pieces (a stream may cut its first piece sooner, before
    the punctuation has arrived)."""
    pieces: list[str] = []
    rest = text.lstrip()
    first = True
    while rest:
        end = first_piece_end(rest) if first else next_piece_end(rest)
        if end is None:
            pieces.append(rest.strip())
            break
        if piece := rest[:end].strip():
            pieces.append(piece)
        rest = rest[end:].lstrip()
        first = False
    return [p for p in pieces if p]


class FirstClauseTokenizer(tokenize.SentenceTokenizer):
    """A sentence tokenizer whose stream gives up each reply's first clause at once."""

    def tokenize(self, text: str, *, language: str | None = None) -> list[str]:
        return split_pieces(text)

    def stream(self, *, language: str | None = None) -> SentenceStream:
        return FirstClauseStream()


class FirstClauseStream(SentenceStream):
    """Streamed pieces of one or more replies; ``flush()`` ends a reply (a segment)."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = ""
        self._first = True
        self._segment_id = utils.shortuuid()

    def push_text(self, text: str) -> None:
        self._check_not_closed()
        self._buffer += text
        while True:
            rest = self._buffer.lstrip()
            end = first_piece_end(rest) if self._first else next_piece_end(rest)
            if end is None:
                self._buffer = rest
                return
            self._send(rest[:end])
            self._buffer = rest[end:]
            self._first = False

    def flush(self) -> None:
        self._check_not_closed()
        self._send(self._buffer)
        self._buffer = ""
        self._first = True
        self._segment_id = utils.shortuuid()

    def end_input(self) -> None:
        self.flush()
        self._do_close()

    async def aclose(self) -> None:
        self._do_close()

    def _send(self, piece: str) -> None:
        if piece := piece.strip():
            self._event_ch.send_nowait(TokenData(segment_id=self._segment_id, token=piece))


def speaks_first_clause(engine: tts.TTS[Any]) -> tts.TTS[Any]:
    """``engine`` fed piece by piece by :class:`FirstClauseTokenizer`.

    A streaming engine (one that takes text as it comes) is returned as it is.
    """
    if engine.capabilities.streaming:
        return engine
    return tts.StreamAdapter(tts=engine, sentence_tokenizer=FirstClauseTokenizer())
