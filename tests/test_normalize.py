"""Tests for dedup.normalize: Unicode/HTML/case normalisation and the universal junk-line filter."""

from __future__ import annotations

import pytest

from dedup.normalize import article_text, normalize_text, strip_junk


def clean(text: str) -> list[str]:
    """The non-empty lines that survive normalisation and junk stripping."""
    return [line for line in strip_junk(normalize_text(text)).split("\n") if line.strip()]


# --- normalize_text ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Harbour Gates CLOSED", "harbour gates closed"),
        ("ＫＥＳＴＲＥＬ　Ｂａｙ", "kestrel bay"),  # fullwidth letters and ideographic space (NFKC)
        ("ﬁnal ﬂood", "final flood"),  # ligatures (NFKC)
        ("Straße ΣΟΦΙΑ", "strasse σοφια"),  # full case folding, not just lower()
        ("Café &amp; Bar &eacute;t&eacute;", "café & bar été"),  # entities, including non-ASCII ones
        ("a&nbsp;b", "a b"),  # NBSP entity becomes a plain space (NFKC)
        ("caf\u0065\u0301", "café"),  # combining accent composed (NFKC)
        ("x² + y²", "x2 + y2"),
    ],
)
def test_normalize_text_unicode_entities_and_case(raw, expected):
    assert normalize_text(raw) == expected


def test_normalize_text_removes_tags_but_not_comparisons():
    assert (
        normalize_text("The <b>storm</b> hit <a href='/x'>Kestrel Bay</a>") == "the  storm  hit  kestrel bay "
    )
    # "<" followed by a space or a digit is not a tag
    assert normalize_text("if x < 3 and y > 2") == "if x < 3 and y > 2"
    # an escaped tag is text, not markup: entities are decoded after tags are removed
    assert normalize_text("&lt;b&gt;bold&lt;/b&gt;") == "<b>bold</b>"


def test_normalize_text_unifies_newlines():
    assert normalize_text("one\r\ntwo\rthree") == "one\ntwo\nthree"
    assert normalize_text("één\u2028twee\u2029drie\x85vier") == "één\ntwee\ndrie\nvier"


def test_normalize_text_empty():
    assert normalize_text("") == ""


def test_html_block_tags_are_line_breaks():
    assert clean("<p>The storm hit the coast.</p><p>ADVERTISEMENT</p><p>Crews worked all night.</p>") == [
        "the storm hit the coast.",
        "crews worked all night.",
    ]


# --- strip_junk: universal junk lines ------------------------------------------------------------------------

JUNK_LINES = [
    "ADVERTISEMENT",
    "Advertisement",
    "Sponsored content",
    "Share this article",
    "Share on Facebook",
    "Facebook Twitter WhatsApp",
    "Facebook | Twitter | Email",
    "Copy to clipboard",
    "Link copied to clipboard",
    "Photo: Harbour Archive/Wire Service",
    "Image caption: Firefighters at the scene on Tuesday",
    "Photo credit: Anna Berg",
    "(AP Photo/Jane Doe)",
    "Image copyright Getty Images",
    "© 2024 Northern Herald",
    "Copyright 2024 Wire Service. All rights reserved.",
    "This material may not be published, broadcast, rewritten or redistributed.",
    "By Marta Lindqvist",
    "By MARTA LINDQVIST, Wire Service",
    "Reporting by Marta Lindqvist; editing by Tom Oakes",
    "Updated: March 5, 2024",
    "Published 3 hours ago",
    "4 min read",
    "Read more: Council approves budget",
    "Follow us on Twitter",
    "Sign up for our daily newsletter",
    "Click here to subscribe",
    "Watch the video",
]


@pytest.mark.parametrize("junk", JUNK_LINES)
def test_universal_junk_line_is_dropped(junk):
    body = f"The council met on Monday.\n{junk}\nIt approved the budget."
    assert clean(body) == ["the council met on monday.", "it approved the budget."]


@pytest.mark.parametrize("junk", ["ADVERTISEMENT", "  Share this article  ", "Facebook  Twitter   WhatsApp"])
def test_junk_line_with_extra_whitespace_is_dropped(junk):
    assert clean(f"First line of the story.\n{junk}\nLast line.") == [
        "first line of the story.",
        "last line.",
    ]


# Real news sentences that merely start like junk: they must survive.
PROSE_LINES = [
    "Copyright law reform was debated in parliament on Tuesday, with ministers split.",
    "By the end of the week, the river had risen by two metres.",
    "By 2030, the city expects to double its population.",
    "Photographs of the flooding spread quickly online.",
    "Video shows the moment the bridge collapsed.",
    "Share prices fell sharply after the announcement.",
    "Email addresses of thousands of customers were leaked, the company said.",
    "Print editions of the paper will end next year.",
    "Updated plans for the harbour were published on Monday after months of delay and consultation.",
    "Advertisements for the new service will run on buses from April.",
    "The plan was sponsored by three members of the assembly.",
    "Related charges against two other men were dropped last year.",
    pytest.param("Published figures show unemployment fell to 4.1 percent in March."),
    pytest.param("Updated guidance says masks are no longer required in hospitals."),
    pytest.param("Posted guards now stand at every gate, the ministry said."),
    pytest.param("By then it was too late!"),
    pytest.param("By what measure can this be called a success?"),
    pytest.param("Copyright 2023 data show piracy fell by half, the report said."),
]


@pytest.mark.parametrize("sentence", PROSE_LINES)
def test_sentence_that_starts_like_junk_survives(sentence):
    assert clean(f"The council met on Monday.\n{sentence}\nIt approved the budget.") == [
        "the council met on monday.",
        normalize_text(sentence),
        "it approved the budget.",
    ]


def test_long_lines_are_never_junk():
    long_line = "Advertisement " + "word " * 60
    assert clean(long_line) == [normalize_text(long_line)]


def test_text_without_junk_is_returned_unchanged():
    text = "first line.\n\n  second line, indented.\nthird"
    assert strip_junk(text) == text


# --- strip_junk: related-link blocks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "heading",
    ["You might also like:", "You may also like", "Related stories", "Read more:", "Most read", "See also"],
)
def test_related_link_block_dropped_and_next_sentence_survives(heading):
    body = (
        "The storm hit the coast on Tuesday.\n"
        f"{heading}\n"
        "Mayor opens new library wing\n"
        "- Council votes on parking charges\n"
        "• Weather warning for the weekend\n"
        "Crews worked through the night to clear the roads.\n"
        "Schools will reopen on Thursday."
    )
    assert clean(body) == [
        "the storm hit the coast on tuesday.",
        "crews worked through the night to clear the roads.",
        "schools will reopen on thursday.",
    ]


def test_related_link_block_survives_blank_lines_and_ends_at_a_long_paragraph():
    paragraph = "Crews worked through the night to clear the roads and restore power to " + "the town " * 12
    body = f"Lead sentence.\nRelated\n\nMayor opens new library wing\n\n{paragraph}\nUnpunctuated tail line"
    lines = clean(body)
    assert lines == ["lead sentence.", normalize_text(paragraph), "unpunctuated tail line"]


def test_related_link_block_is_bounded():
    links = [f"Headline number {i} about something" for i in range(20)]
    lines = clean("Lead sentence.\nRelated:\n" + "\n".join(links))
    # at most 15 link lines follow a heading; the rest are kept
    assert lines == ["lead sentence.", *[normalize_text(x) for x in links[15:]]]


# --- article_text --------------------------------------------------------------------------------------------


def test_article_text_headline_first_line_then_clean_body():
    text = article_text("Storm Hits\r\nKestrel Bay", "ADVERTISEMENT\nThe storm hit.\nBy Jane Roe")
    assert text == "Storm Hits Kestrel Bay\nThe storm hit."  # case is folded by the tokeniser


def test_article_text_empty_parts():
    assert article_text("", "") == "\n"
    assert article_text("Only A Headline", "") == "Only A Headline\n"
    assert article_text("", "Only a body.") == "\nOnly a body."
