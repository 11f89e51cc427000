"""Tests for dedup.describe: class-based TF-IDF keywords, medoid headlines, and the story records."""

from __future__ import annotations

import numpy as np
import pytest
from stage2_helpers import unit

from dedup.describe import StoryMember, medoids, story_keywords, story_records
from dedup.records import parse_date

# -- keywords -------------------------------------------------------------------------------------------

TEXTS = [
    "The council said the Kestrel Bay barrier failed in the storm.",
    "Kestrel Bay residents blame the council for the flood barrier.",
    "The council approved the Orrin battery recall plan.",
    "Orrin batteries caught fire, the council heard.",
    "The council met about the cycling race in Windle.",
    "Windle cycling race closes roads, council says.",
]
LABELS = np.array([0, 0, 1, 1, 2, 2])


def test_keywords_are_the_terms_that_tell_stories_apart():
    words = story_keywords(TEXTS, LABELS, 3, top=3)
    assert len(words) == 3 and all(len(w) == 3 for w in words)
    assert {"barrier", "bay", "kestrel"} == set(words[0])
    assert words[1][0] == "orrin"
    assert {"cycling", "windle"} <= set(words[2])
    # "council" is the most frequent word of all, but every story has it
    assert not any("council" in w for story in words for w in story)


def test_keywords_score_a_story_as_one_document():
    # a word in one article of a story still counts for the whole story
    words = story_keywords(
        ["Barrier fails.", "Barrier flood barrier.", "Battery recall.", "Battery fire."],
        np.array([0, 0, 1, 1]),
        2,
        top=1,
    )
    assert words == [["barrier"], ["battery"]]


def test_keywords_skip_stop_words_numbers_and_repeats():
    texts = [*TEXTS[:-1], "Windle cycling race closes 12 roads in 2024, council says."]
    words = story_keywords(texts, LABELS, 3, top=8)
    for story in words:
        assert len(story) == len(set(story))
        for i, term in enumerate(story):
            assert not any(ch.isdigit() for ch in term)
            assert not set(term.split()) & {"the", "in", "for", "about"}
            if " " not in term:  # a word is not listed after a picked phrase that contains it
                assert not any(term in earlier.split() for earlier in story[:i])


def test_keyword_phrases_whose_words_are_all_picked_are_skipped():
    words = story_keywords(TEXTS, LABELS, 3, top=8)
    assert "kestrel bay" not in words[0]  # both its words were picked first


def test_keywords_for_stories_without_terms():
    assert story_keywords(TEXTS, LABELS, 4, top=2)[3] == []  # a label nobody has
    assert story_keywords(["the and of", "it is"], np.array([0, 1]), 2) == [[], []]
    assert story_keywords([], np.array([], dtype=np.int64), 2) == [[], []]
    assert story_keywords(TEXTS, LABELS, 0) == []


# -- medoids --------------------------------------------------------------------------------------------


def test_medoid_is_the_member_closest_to_the_mean_direction():
    rng = np.random.default_rng(0)
    centre = unit(rng.normal(size=16))
    story0 = unit(centre + np.array([[0.05], [0.6], [1.0]]) * unit(rng.normal(size=(3, 16))))
    other = unit(rng.normal(size=(2, 16)))
    embeddings = np.concatenate([story0[[2, 0, 1]], other])
    labels = np.array([0, 0, 0, 1, 2])
    heads = medoids(embeddings, labels, 3)
    assert heads.dtype == np.int64
    assert heads.tolist() == [1, 3, 4]
    # check against the definition
    mean = embeddings[:3].sum(0)
    assert int(np.argmax(embeddings[:3] @ (mean / np.linalg.norm(mean)))) == heads[0]


def test_medoid_ties_go_to_the_first_member_and_empty_stories_get_minus_one():
    embeddings = unit(np.ones((3, 4)))
    heads = medoids(embeddings, np.array([1, 1, 1]), 3)
    assert heads.tolist() == [-1, 0, -1]


# -- story records ---------------------------------------------------------------------------------------


def member(article_id, group, outlet, when):
    return StoryMember(article_id, group, outlet, None if when is None else parse_date(when))


def test_story_record_fields():
    members = [
        member("a", "a", "Wire Service", "2024-03-05T06:00:00Z"),
        member("b", "a", "Northern Herald", "2024-03-05T07:30:00Z"),
        member("c", "c", "Northern Herald", "2024-03-06T10:00:00.250Z"),
        member("d", "a", None, None),
    ]
    (record,) = story_records(["a"], [members], ["Barrier fails"], [["barrier", "kestrel bay"]])
    assert record == {
        "story": "a",
        "size": 4,
        "articles_distinct": 2,
        "n_outlets": 2,
        "outlets": {"Northern Herald": 2, "Wire Service": 1},
        "first_published_at": "2024-03-05T06:00:00Z",
        "last_published_at": "2024-03-06T10:00:00.250Z",
        "headline": "Barrier fails",
        "keywords": ["barrier", "kestrel bay"],
        "articles": ["a", "b", "c", "d"],
        "dup_groups": ["a", "c"],
    }
    assert list(record) == [
        "story",
        "size",
        "articles_distinct",
        "n_outlets",
        "outlets",
        "first_published_at",
        "last_published_at",
        "headline",
        "keywords",
        "articles",
        "dup_groups",
    ]


def test_story_without_dates_or_outlets():
    (record,) = story_records([7], [[member(7, 7, None, None)]], [""], [[]])
    assert record["first_published_at"] is None and record["last_published_at"] is None
    assert record["outlets"] == {} and record["n_outlets"] == 0
    assert record["size"] == record["articles_distinct"] == 1


def test_records_are_ordered_largest_first_then_by_id():
    sizes = {"m": 1, "b": 3, "z": 3, 5: 1, 2: 2, "a": 1}
    ids = list(sizes)
    groups = [[member(f"{sid}-{k}", f"{sid}-{k}", None, None) for k in range(sizes[sid])] for sid in ids]
    records = story_records(ids, groups, [""] * len(ids), [[]] * len(ids))
    # equal sizes: integer ids before strings, each in natural order
    assert [r["story"] for r in records] == ["b", "z", 2, 5, "a", "m"]
    assert [r["size"] for r in records] == [3, 3, 2, 1, 1, 1]


def test_story_records_need_one_headline_and_keyword_list_per_story():
    with pytest.raises(ValueError):
        story_records(["a", "b"], [[member("a", "a", None, None)]], ["x"], [[]])
