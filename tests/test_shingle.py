"""Tests for dedup.shingle: tokenisation rules, segments, kept lines, leads, and kernel == reference hashes."""

from __future__ import annotations

import sys
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.normalize import article_text, normalize_text
from dedup.shingle import (
    ShingleBatch,
    TokenBatch,
    case_folds,
    shingle_hash,
    shingle_sets,
    shingles_of,
    token_hash,
    tokenize,
)

# --- a reference tokeniser written from the documented rules -------------------------------------------------

_APOSTROPHES = "'\u2019\u02bc"
_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FFFF))


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def _is_word_char(ch: str) -> bool:
    if ch.isascii():
        return ch.isalnum()
    return unicodedata.category(ch)[0] in "LMN"


def ref_tokens(line: str) -> list[str]:
    """Runs of letters/digits of the case-folded line, apostrophes dropped, each CJK character alone."""
    tokens: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            tokens.append("".join(current))
            current.clear()

    for ch in line.casefold():
        if ch in _APOSTROPHES:
            continue
        if _is_cjk(ch):
            flush()
            tokens.append(ch)
        elif _is_word_char(ch):
            current.append(ch)
        else:
            flush()
    flush()
    return tokens


def ref_lines(text: str) -> list[list[str]]:
    """The headline's tokens (always a line), then the body lines that have tokens."""
    head, *body = text.split("\n")
    return [ref_tokens(head), *[t for t in map(ref_tokens, body) if t]]


def ref_set(lines: list[list[str]], keep: list[bool], n: int) -> set[int]:
    body = [tok for line, k in zip(lines[1:], keep[1:], strict=True) if k for tok in line]
    return {shingle_hash(s) for s in shingles_of(lines[0], n)} | {
        shingle_hash(s) for s in shingles_of(body, n)
    }


def ref_lead(lines: list[list[str]], keep: list[bool], n: int, lead_len: int, prose_min: int) -> set[int]:
    kept = [line for line, k in zip(lines[1:], keep[1:], strict=True) if k]
    body = [tok for line in kept for tok in line]
    prose_at, offset = 0, 0
    for line in kept:
        if len(line) >= prose_min:
            prose_at = offset
            break
        offset += len(line)
    rest = body[prose_at:]
    if len(rest) >= n:
        return {shingle_hash(rest[p : p + n]) for p in range(min(lead_len, len(rest) - n + 1))}
    return {shingle_hash(rest)} if rest else set()


# --- helpers over the compiled output ------------------------------------------------------------------------


def doc_lines(batch: TokenBatch, d: int) -> list[list[int]]:
    first, last = batch.doc_line_offsets[d], batch.doc_line_offsets[d + 1]
    return [
        batch.tokens[batch.line_offsets[i] : batch.line_offsets[i + 1]].tolist() for i in range(first, last)
    ]


def doc_set(sets: ShingleBatch, d: int) -> np.ndarray:
    return sets.shingles[sets.offsets[d] : sets.offsets[d + 1]]


def doc_lead(sets: ShingleBatch, d: int) -> np.ndarray:
    return sets.lead[sets.lead_offsets[d] : sets.lead_offsets[d + 1]]


def tokens_of(line: str) -> list[int]:
    batch = tokenize([line])
    return batch.tokens.tolist()


def hashes(words: list[str]) -> list[int]:
    return [token_hash(w) for w in words]


# --- tokenisation rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("Don't stop", ["dont", "stop"]),
        ("rock \u2019n\u2019 roll", ["rock", "n", "roll"]),
        ("the mayor\u02bcs office", ["the", "mayors", "office"]),
        ("well-known,(x)y.z", ["well", "known", "x", "y", "z"]),
        ("€48m—said «Verhoeven»", ["48m", "said", "verhoeven"]),
        ("HELLO World hello", ["hello", "world", "hello"]),
        ("naïve café in zürich", ["naïve", "café", "in", "zürich"]),
        ("москва and αθήνα", ["москва", "and", "αθήνα"]),
        ("東京の天気", ["東", "京", "の", "天", "気"]),
        ("東京abc都", ["東", "京", "abc", "都"]),
        ("カタカナ。ひらがな", ["カ", "タ", "カ", "ナ", "ひ", "ら", "が", "な"]),
        ("한국 뉴스", ["한국", "뉴스"]),  # Hangul is written with spaces: whole words
        ("storm 🌊 surge", ["storm", "surge"]),
        ("", []),
        ("  ,.;!?  ", []),
    ],
)
def test_tokenisation_rules(line, words):
    assert tokens_of(line) == hashes(words)


def test_uppercase_is_folded_for_any_script_through_normalisation():
    assert tokenize([article_text("", "ÉTÉ Straße ΑΘΗΝΑ")]).tokens.tolist() == hashes(
        ["été", "strasse", "αθηνα"]
    )


def test_non_latin_punctuation_separates_tokens():
    assert tokens_of("كتب، قال") == tokens_of("كتب قال")
    assert tokens_of("खबर। नई") == tokens_of("खबर नई")


def test_ideographic_iteration_mark_is_not_dropped():
    assert tokens_of("人々") != tokens_of("人")


def test_lines_without_tokens_are_not_lines_but_the_headline_always_is():
    batch = tokenize(["\n\n first body line \n ... \n\nsecond", "only headline", ""])
    assert batch.n_docs == 3
    assert doc_lines(batch, 0) == [[], hashes(["first", "body", "line"]), hashes(["second"])]
    assert doc_lines(batch, 1) == [hashes(["only", "headline"])]
    assert doc_lines(batch, 2) == [[]]


def test_equal_token_sequences_have_equal_line_hashes():
    batch = tokenize(["Head\nThe Same line, here.\nthe same LINE here\nanother line"])
    lh = batch.line_hashes.tolist()
    assert lh[1] == lh[2]
    assert len({lh[0], lh[1], lh[3]}) == 3


def test_empty_batch():
    batch = tokenize([])
    sets = shingle_sets(batch)
    assert batch.n_docs == 0 and sets.n_docs == 0
    assert len(sets.shingles) == 0 and len(sets.lead) == 0


# --- segments, kept lines, leads -----------------------------------------------------------------------------


def test_headline_and_body_are_separate_segments():
    batch = tokenize(["alpha beta gamma\ndelta epsilon zeta eta"])
    got = set(doc_set(shingle_sets(batch, shingle_size=3), 0).tolist())
    assert got == {
        shingle_hash(["alpha", "beta", "gamma"]),
        shingle_hash(["delta", "epsilon", "zeta"]),
        shingle_hash(["epsilon", "zeta", "eta"]),
    }
    assert shingle_hash(["beta", "gamma", "delta"]) not in got


def test_short_segment_is_one_shingle():
    batch = tokenize(["storm\nthe barrier failed"])
    got = set(doc_set(shingle_sets(batch, shingle_size=5), 0).tolist())
    assert got == {shingle_hash(["storm"]), shingle_hash(["the", "barrier", "failed"])}


def test_dropped_line_leaves_no_seam():
    text = "Head line here\nthe first paragraph has these words\nshare this article now\nthe second paragraph follows on"
    without = "Head line here\nthe first paragraph has these words\nthe second paragraph follows on"
    batch = tokenize([text, without])
    keep = np.ones(len(batch.line_hashes), dtype=np.bool_)
    keep[2] = False  # doc 0: headline, para 1, the junk line, para 2
    sets = shingle_sets(batch, keep, shingle_size=3)
    assert doc_set(sets, 0).tolist() == doc_set(sets, 1).tolist()
    assert sets.content_hash[0] == sets.content_hash[1]
    assert sets.n_tokens[0] == sets.n_tokens[1] == 3 + 6 + 5
    # and the line does count when kept
    assert shingle_sets(batch, shingle_size=3).content_hash[0] != sets.content_hash[1]


def test_headline_line_is_always_kept():
    batch = tokenize(["the headline words here\nand the body words follow"])
    keep = np.zeros(len(batch.line_hashes), dtype=np.bool_)
    sets = shingle_sets(batch, keep, shingle_size=2)
    assert set(doc_set(sets, 0).tolist()) == {
        shingle_hash(s) for s in shingles_of(["the", "headline", "words", "here"], 2)
    }


def test_lead_starts_at_first_prose_line():
    body_lines = [
        "by jane roe",  # 3 tokens: not prose
        "photo archive",  # 2 tokens
        "the tidal barrier built to protect the harbour town failed on tuesday",  # 12 tokens: prose
        "engineers said a valve jammed forty minutes before high tide",
    ]
    batch = tokenize(["headline\n" + "\n".join(body_lines)])
    sets = shingle_sets(batch, shingle_size=3, lead_shingles=4, prose_min_tokens=8)
    prose = body_lines[2].split()
    assert set(doc_lead(sets, 0).tolist()) == {shingle_hash(prose[p : p + 3]) for p in range(4)}


def test_lead_runs_across_lines_and_without_prose_starts_at_the_top():
    batch = tokenize(["h\none two three\nfour five six"])
    sets = shingle_sets(batch, shingle_size=2, lead_shingles=10, prose_min_tokens=8)
    words = ["one", "two", "three", "four", "five", "six"]
    assert set(doc_lead(sets, 0).tolist()) == {shingle_hash(words[p : p + 2]) for p in range(5)}


def test_lead_of_empty_body_is_empty():
    sets = shingle_sets(tokenize(["a headline only\n"]))
    assert len(doc_lead(sets, 0)) == 0


def test_content_hash_equal_iff_shingle_sets_equal():
    texts = [
        "Storm hits coast\nThe storm hit the coast on Monday night, the council said.",
        "STORM HITS COAST\nThe storm   hit the coast\non Monday night -- the council said!",  # same tokens
        "Storm hits coast\nThe storm hit the coast on Tuesday night, the council said.",  # one word changed
        "Storm hits\ncoast The storm hit the coast on Monday night, the council said.",  # a word moved segment
        "Storm hits coast\nThe storm hit the coast on Monday night, the council said. The storm hit",  # repeat
    ]
    sets = shingle_sets(tokenize([normalize_text(t) for t in texts]))
    for i in range(len(texts)):
        for j in range(len(texts)):
            same_set = doc_set(sets, i).tolist() == doc_set(sets, j).tolist()
            assert (sets.content_hash[i] == sets.content_hash[j]) == same_set, (i, j)
    assert sets.content_hash[0] == sets.content_hash[1]
    assert len({int(h) for h in sets.content_hash[[0, 2, 3, 4]]}) == 4


def test_shingle_sets_are_sorted_and_unique():
    sets = shingle_sets(tokenize(["h\n" + "the same words again " * 20]), shingle_size=2)
    s = doc_set(sets, 0)
    assert (np.diff(s.astype(np.int64)) > 0).all()
    assert len(s) == 1 + 4  # the headline; the same, same words, words again, again the


# --- compiled kernels == pure-Python reference ---------------------------------------------------------------

LETTERS = list("abcxyzABCXYZ0189") + list("éßñØüαΩдЖкتكאकि中文日東あカ한") + list("ẞŉİΣςﬁᏸ𐐀Ꭰ")
SEPARATORS = [
    " ",
    " ",
    "\n",
    ", ",
    ". ",
    "—",
    "“",
    "”",
    "'",
    "’",
    "-",
    "😀",
    "。",
    "«",
    "»",
    "\t",
    "€",
    "\u00a0",
]
words = st.text(alphabet=st.sampled_from(LETTERS), min_size=1, max_size=7)
texts = st.lists(st.one_of(words, st.sampled_from(SEPARATORS)), max_size=50).map("".join)


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(texts, min_size=1, max_size=4), data=st.data())
def test_kernels_match_reference(texts, data):
    n = data.draw(st.integers(1, 6), label="shingle_size")
    lead_len = data.draw(st.integers(1, 8), label="lead_shingles")
    prose_min = data.draw(st.integers(1, 6), label="prose_min")
    batch = tokenize(texts)
    assert batch.n_docs == len(texts)
    keep = np.array(
        data.draw(st.lists(st.booleans(), min_size=len(batch.line_hashes), max_size=len(batch.line_hashes))),
        dtype=np.bool_,
    )
    sets = shingle_sets(batch, keep, shingle_size=n, lead_shingles=lead_len, prose_min_tokens=prose_min)
    ref_sets = []
    for d, text in enumerate(texts):
        lines = ref_lines(text)
        assert doc_lines(batch, d) == [hashes(line) for line in lines]
        first = batch.doc_line_offsets[d]
        doc_keep = [True, *keep[first + 1 : first + len(lines)].tolist()]
        expected = ref_set(lines, doc_keep, n)
        assert doc_set(sets, d).tolist() == sorted(expected)
        assert doc_lead(sets, d).tolist() == sorted(ref_lead(lines, doc_keep, n, lead_len, prose_min))
        kept_tokens = len(lines[0]) + sum(
            len(line) for line, k in zip(lines[1:], doc_keep[1:], strict=True) if k
        )
        assert sets.n_tokens[d] == kept_tokens
        ref_sets.append(expected)
    for i in range(len(texts)):
        for j in range(i):
            assert (sets.content_hash[i] == sets.content_hash[j]) == (ref_sets[i] == ref_sets[j])


@settings(max_examples=100, deadline=None)
@given(text=texts)
def test_tokeniser_folds_case_as_casefold_does(text):
    plain, folded = tokenize([text]), tokenize([text.casefold()])
    for name in ("tokens", "line_offsets", "line_hashes", "line_sentence", "doc_line_offsets"):
        assert getattr(plain, name).tolist() == getattr(folded, name).tolist()


def test_case_fold_table_covers_every_code_point_that_folds():
    offsets, pool = case_folds()
    for cp in (0xDF, 0x149, 0x130, 0x3A3, 0x3C2, 0xFB01, 0x13F8, 0x10400, 0x1E921):
        assert "".join(map(chr, pool[offsets[cp] : offsets[cp + 1]])) == chr(cp).casefold()
    assert offsets[ord("a") + 1] == offsets[ord("a")]  # unchanged: empty
    assert all(chr(cp).casefold() == chr(cp) for cp in range(len(offsets) - 1, sys.maxunicode + 1))


@settings(max_examples=60, deadline=None)
@given(text=texts)
def test_normalised_text_tokenises_like_the_reference(text):
    normal = normalize_text(text)
    assert tokenize([normal]).tokens.tolist() == [token_hash(t) for line in ref_lines(normal) for t in line]


NON_CJK_LETTERS = [c for c in LETTERS if not _is_cjk(c)]


@settings(max_examples=100, deadline=None)
@given(token=st.text(alphabet=st.sampled_from(NON_CJK_LETTERS), min_size=1, max_size=10))
def test_token_hash_matches_kernel_for_single_tokens(token):
    folded = token.casefold().replace("\u02bc", "")  # ŉ folds to ʼn, and apostrophes are dropped
    assert tokens_of(token) == [token_hash(folded)]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.text(alphabet="ab .\n", max_size=40), min_size=1, max_size=8),
    st.data(),
)
def test_take_docs_equals_tokenising_those_articles_alone(texts, data):
    from dedup.shingle import take_docs

    keep = sorted(data.draw(st.sets(st.integers(0, len(texts) - 1))))
    got = take_docs(tokenize(texts), np.array(keep, dtype=np.int64))
    want = tokenize([texts[k] for k in keep])
    for name in ("tokens", "line_offsets", "line_hashes", "line_sentence", "doc_line_offsets"):
        assert getattr(got, name).tolist() == getattr(want, name).tolist(), name


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), max_size=600))
def test_radix_sort_sorts_like_numpy(values):
    from dedup.shingle import _radix_sort_u32

    a = np.array(values, dtype=np.uint32)
    _radix_sort_u32(a, np.empty_like(a))
    assert a.tolist() == sorted(values)


def test_long_articles_get_the_reference_shingle_set():
    # several hundred shingles per article: the radix-sorted path
    rng = np.random.default_rng(7)
    vocab = [f"w{i}" for i in range(300)]
    texts = ["head line here\n" + " ".join(rng.choice(vocab, size=size)) for size in (70, 400, 1500)]
    sets = shingle_sets(tokenize(texts), shingle_size=3)
    for d, text in enumerate(texts):
        lines = ref_lines(text)
        assert doc_set(sets, d).tolist() == sorted(ref_set(lines, [True] * len(lines), 3))


def test_unicode_tables_are_stored_once_and_read_back_equal(tmp_path):
    from dedup.shingle import _stored_tables, char_classes

    built = (char_classes(), *case_folds())
    first = _stored_tables.__wrapped__(tmp_path)  # builds and stores
    assert len(list(tmp_path.glob("dedup-unicode-*.npz"))) == 1
    again = _stored_tables.__wrapped__(tmp_path)  # reads the file
    missing = _stored_tables.__wrapped__(tmp_path / "no" / "such" / "dir")  # cannot store: builds
    for tables in (first, again, missing):
        assert all(np.array_equal(a, b) for a, b in zip(tables, built, strict=True))


@pytest.mark.parametrize("threads", [2, 3, 7])
def test_a_batch_tokenised_in_parts_at_once_equals_one_piece(monkeypatch, threads):
    import dedup.shingle as shingle

    texts = [
        f"Headline {k}\nThe mayor said on Monday that the budget for {k} would rise.\n\nÉtude n°{k}: straße"
        if k % 5
        else ""
        for k in range(40)
    ]
    whole = shingle.tokenize(texts)
    monkeypatch.setattr(shingle, "_PARALLEL_BYTES", 0)
    parts = shingle.tokenize(texts, threads=threads)
    for field in ("tokens", "line_offsets", "line_hashes", "line_sentence", "doc_line_offsets"):
        assert getattr(parts, field).tolist() == getattr(whole, field).tolist(), field
    assert whole.n_docs == 40 and len(whole.tokens) > 400
