"""How a streamed reply is cut for the voice: the first clause goes at once."""

from __future__ import annotations

import pytest

from vocable.providers.speech_chunks import FirstClauseStream, split_pieces


async def stream_pieces(tokens: list[str]) -> list[tuple[int, str]]:
    """Push ``tokens`` one by one; return (tokens pushed when it came out, piece)."""
    stream = FirstClauseStream()
    out: list[tuple[int, str]] = []
    for pushed, token in enumerate(tokens, start=1):
        stream.push_text(token)
        while not stream._event_ch.empty():
            out.append((pushed, (await stream.__anext__()).token))
    stream.end_input()
    out.extend([(len(tokens), data.token) async for data in stream])
    return out


def llm_tokens(text: str) -> list[str]:
    """Words with their leading space, as a language model streams them."""
    words = text.split(" ")
    return [words[0], *(" " + w for w in words[1:])]


async def test_the_first_clause_is_handed_over_before_the_sentence_ends() -> None:
    tokens = llm_tokens("Yes, we open at nine in the morning. We close at six.")
    pieces = await stream_pieces(tokens)
    assert pieces[0] == (2, "Yes,")  # as soon as the word after the comma starts
    assert [p for _, p in pieces] == ["Yes,", "we open at nine in the morning.", "We close at six."]


async def test_a_sentence_goes_as_soon_as_its_full_stop_is_followed_by_a_space() -> None:
    tokens = llm_tokens("We open at nine. We close at six in the evening.")
    pieces = await stream_pieces(tokens)
    # the first piece does not wait for the next sentence to be long enough
    assert pieces[0] == (5, "We open at nine.")


async def test_a_first_clause_without_punctuation_is_cut_before_a_phrase_word() -> None:
    pieces = await stream_pieces(llm_tokens("The bakery opens every day at nine o'clock sharp."))
    assert pieces[0][1] == "The bakery opens every day"
    assert pieces[1][1] == "at nine o'clock sharp."


async def test_a_long_run_of_words_is_cut_at_the_word_limit() -> None:
    text = "Our famous sourdough loaves sell out very quickly every single morning."
    pieces = await stream_pieces(llm_tokens(text))
    assert pieces[0][1] == "Our famous sourdough loaves sell out very quickly"


@pytest.mark.parametrize(
    "text",
    [
        "Dr. Lee can see you at 9 a.m. tomorrow, or later.",
        "It costs $3.50 per loaf, or 1,200 for the year.",
    ],
)
def test_abbreviations_and_numbers_do_not_end_a_piece(text: str) -> None:
    first = split_pieces(text)[0]
    assert first.endswith(",")
    assert len(first.split()) >= 5


def test_nothing_is_lost_or_added() -> None:
    text = "Sure — we have rye, spelt and white bread; also cakes. Anything else? Bye!"
    assert " ".join(split_pieces(text)).split() == text.split()


async def test_each_reply_after_a_flush_starts_with_a_clause_again() -> None:
    stream = FirstClauseStream()
    stream.push_text("Hello there, friend. ")
    stream.flush()
    stream.push_text("Well, yes. ")
    stream.end_input()
    pieces = [data async for data in stream]
    assert [p.token for p in pieces] == ["Hello there,", "friend.", "Well,", "yes."]
    assert pieces[0].segment_id != pieces[2].segment_id
