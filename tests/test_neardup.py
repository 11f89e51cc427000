"""End-to-end tests of stage 1 (dedup.neardup.find_near_duplicates) on small invented wire-story corpora."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (
    BATTERY_RECALL,
    COURIER_FOOTER,
    CYCLING_RACE,
    FLOOD_ANALYSIS,
    FLOOD_BARRIER,
    MOTH_SPECIES,
    article,
    build_corpus,
    group_of,
    partition,
    result_partition,
    wire_copies,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import NearDupConfig
from dedup.neardup import DupAssignment, DupFinder, DuplicateIdError, find_near_duplicates
from dedup.records import Article, RecordError

FLOOD_IDS = {f"flood-{k}" for k in ("wire", "herald", "gazette", "post", "trim", "brief", "edited")}
BATTERY_IDS = {f"battery-{k}" for k in ("wire", "herald", "gazette", "post", "trim", "brief", "edited")}
EXPECTED = frozenset(
    [frozenset(FLOOD_IDS), frozenset(BATTERY_IDS), *(frozenset([x]) for x in ("analysis", "moth", "race"))]
)


@pytest.fixture(scope="module")
def corpus_result():
    return find_near_duplicates(build_corpus())


def test_wire_copies_form_one_group_each_and_independent_articles_stay_apart(corpus):
    result = find_near_duplicates(corpus)
    assert result_partition(result) == EXPECTED
    assert result.stats.articles == len(corpus) == 17
    assert result.stats.groups == 5 and result.stats.duplicates == 12
    assert result.rejects == []


@pytest.mark.parametrize("variant", ["herald", "gazette", "post", "trim", "brief", "edited"])
def test_each_kind_of_copy_joins_the_wire_story_on_its_own(corpus, variant):
    # the copy and the wire story alone: no other copy to chain through
    pair = [r for r in corpus if r["id"] in (f"flood-{variant}", "flood-wire")]
    assert result_partition(find_near_duplicates(pair)) == {frozenset({"flood-wire", f"flood-{variant}"})}


def test_one_paragraph_brief_joins_its_story():
    records = [
        article("full", BATTERY_RECALL, outlet="Wire Service"),
        article(
            "brief",
            title="Laptop battery recall",
            paragraphs=BATTERY_RECALL.paragraphs[:1],
            outlet="Radio 4U",
        ),
    ]
    assert result_partition(find_near_duplicates(records)) == {frozenset({"full", "brief"})}


def test_same_topic_written_independently_stays_apart():
    records = [
        article("wire", FLOOD_BARRIER, outlet="Wire Service"),
        article("own", FLOOD_ANALYSIS, outlet="Wire Service"),
    ]
    assert result_partition(find_near_duplicates(records)) == {frozenset({"wire"}), frozenset({"own"})}


# --- outlet boilerplate --------------------------------------------------------------------------------------

SHORT_NEWS = [
    (
        "ferry",
        "Ferry timetable changes",
        "The lake ferry will run every forty minutes from Monday, the operator "
        "said, after two crew members retired.",
    ),
    (
        "school",
        "School roof repaired",
        "Workers finished repairing the roof of Ambry primary school on Friday, "
        "a week before the new term begins.",
    ),
    (
        "market",
        "Market moves indoors",
        "The Saturday market is moving into the old corn exchange for the winter months, traders were told.",
    ),
]


def courier_records() -> list[dict]:
    return [
        article(i, title=t, paragraphs=[p], outlet="Lakeside Courier", footer=COURIER_FOOTER)
        for i, t, p in SHORT_NEWS
    ]


def test_short_articles_sharing_an_outlet_footer_stay_apart():
    result = find_near_duplicates(courier_records())
    assert result_partition(result) == {frozenset({"ferry"}), frozenset({"school"}), frozenset({"market"})}
    assert result.stats.boilerplate_lines == 9


def test_without_boilerplate_learning_the_footer_would_join_them():
    # the control for the test above: the footer alone is enough to make them look like copies
    result = find_near_duplicates(courier_records(), NearDupConfig(boilerplate_min_articles=0))
    assert len(result.groups()) == 1


def test_footer_at_an_outlet_with_two_articles_is_not_learned():
    result = find_near_duplicates(courier_records()[:2])
    assert result.stats.boilerplate_lines == 0


def test_outlet_publishing_one_story_three_times_keeps_it_a_group():
    records = [
        article(f"moth-{i}", MOTH_SPECIES, outlet="Valley Gazette", footer=COURIER_FOOTER[:1])
        for i in range(3)
    ]
    records.append(article("moth-wire", MOTH_SPECIES, outlet="Wire Service"))
    result = find_near_duplicates(records)
    assert result.stats.boilerplate_lines == 0
    assert result_partition(result) == {frozenset(r["id"] for r in records)}


def test_developing_story_republished_with_new_headlines_stays_a_group():
    updates = [
        (
            "v1",
            "Flood barrier fails in Kestrel Bay",
            "The council said on Wednesday evening that the northern gate "
            "had been closed by hand after divers cleared the valve.",
        ),
        (
            "v2",
            "Kestrel Bay barrier: gate closed by hand",
            "The governor has ordered a full public inquiry into the "
            "failure, her office said in a short statement on Thursday.",
        ),
        (
            "v3",
            "Governor orders inquiry into Kestrel Bay barrier",
            "Insurers said they expected claims from the flood "
            "to exceed four million crowns, according to an industry body.",
        ),
    ]
    records = [
        article(i, title=t, paragraphs=[u, *FLOOD_BARRIER.paragraphs], outlet="Coastal Times")
        for i, t, u in updates
    ]
    records.append(article("wire", FLOOD_BARRIER, outlet="Wire Service"))
    assert result_partition(find_near_duplicates(records)) == {frozenset({"v1", "v2", "v3", "wire"})}


# --- digests -------------------------------------------------------------------------------------------------

ROUNDUP_EXTRA = (
    "Ambry council has approved plans for a new cycle path between the railway station and the lake shore, "
    "with work due to start in the spring."
)


def digest_records() -> list[dict]:
    moth, race = MOTH_SPECIES.paragraphs, CYCLING_RACE.paragraphs
    return [
        article("moth", MOTH_SPECIES, outlet="Wire Service"),
        article("moth-brief", title="New moth found", paragraphs=moth[:2], outlet="Radio 4U"),
        article("race", CYCLING_RACE, outlet="Wire Service"),
        article("race-brief", title="Eckhart wins", paragraphs=race[:2], outlet="Sports Desk"),
        article(
            "digest",
            title="Morning briefing",
            paragraphs=[*moth[:2], *race[:2], ROUNDUP_EXTRA],
            outlet="Valley Gazette",
        ),
    ]


def test_digest_of_two_briefs_does_not_merge_the_stories():
    result = find_near_duplicates(digest_records())
    assert result_partition(result) == {
        frozenset({"moth", "moth-brief"}),
        frozenset({"race", "race-brief"}),
        frozenset({"digest"}),
    }


def test_syndicated_digest_does_not_merge_the_stories():
    records = digest_records()
    records.append(
        {**records[-1], "id": "digest-2", "title": "Your news this morning", "outlet": "City Post"}
    )
    result = find_near_duplicates(records)
    assert "race-brief" not in group_of(result, "moth-brief")


# --- short, empty, invalid -----------------------------------------------------------------------------------


def test_empty_and_tiny_texts_are_singletons():
    records = [
        {"id": "empty-1"},
        {"id": "empty-2", "title": "", "text": ""},
        {"id": "tiny-1", "title": "Update", "text": "More soon."},
        {"id": "tiny-2", "title": "Update", "text": "More soon."},
        {"id": "junk-only", "text": "ADVERTISEMENT\nShare this article"},
        {"id": "junk-only-2", "text": "ADVERTISEMENT\nShare this article"},
    ]
    result = find_near_duplicates(records)
    assert result_partition(result) == {frozenset([r["id"]]) for r in records}
    assert result.stats.too_short == 6
    assert result.is_canonical.all()


def test_min_tokens_is_configurable():
    records = [{"id": "a", "text": "Ferry runs again."}, {"id": "b", "text": "Ferry runs again."}]
    assert len(find_near_duplicates(records).groups()) == 0
    assert len(find_near_duplicates(records, NearDupConfig(min_tokens=2)).groups()) == 1


def test_no_records():
    result = find_near_duplicates([])
    assert len(result) == 0 and result.groups() == {} and list(result.assignments()) == []


def test_duplicate_id_raises_from_the_finder():
    finder = DupFinder()
    finder.add(Article("a", text="one"))
    with pytest.raises(DuplicateIdError) as info:
        finder.add(Article("a", text="two"))
    assert info.value.first_index == 0
    assert "duplicate id 'a'" in str(info.value)
    assert len(finder) == 1 and "a" in finder


def test_duplicate_id_raises_a_record_error_with_its_position():
    with pytest.raises(RecordError, match="^record 3: duplicate id 'a'"):
        find_near_duplicates([{"id": "a"}, {"id": "b"}, {"id": "a"}])


def test_duplicate_id_raises_duplicate_id_error():
    with pytest.raises(DuplicateIdError):
        find_near_duplicates([{"id": "a"}, {"id": "a"}])


def test_skip_puts_bad_records_in_rejects(corpus):
    records = [
        *corpus[:3],
        {"id": "flood-wire", "text": "again"},
        {"text": "no id"},
        {"id": True},
        *corpus[3:],
    ]
    result = find_near_duplicates(records, on_error="skip")
    assert [number for number, _ in result.rejects] == [4, 5, 6]  # 1-based record numbers
    assert "duplicate id 'flood-wire'" in result.rejects[0][1]
    assert "missing id field" in result.rejects[1][1]
    assert "boolean" in result.rejects[2][1]
    assert result.ids == [r["id"] for r in corpus]
    assert result_partition(result) == EXPECTED


def test_string_and_integer_ids_are_different():
    result = find_near_duplicates([{"id": 1, "text": "a"}, {"id": "1", "text": "a"}])
    assert result.ids == [1, "1"]


# --- order independence and idempotence ----------------------------------------------------------------------


@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_grouping_does_not_depend_on_input_order(data):
    corpus = build_corpus()
    order = data.draw(st.permutations(range(len(corpus))))
    batch_size = data.draw(st.sampled_from([1, 3, 4096]))
    records = [corpus[i] for i in order]
    result = find_near_duplicates(records, NearDupConfig(batch_size=batch_size))
    assert result_partition(result) == EXPECTED
    canonical = {a.id: a.dup_group for a in result.assignments()}
    assert canonical["flood-trim"] == "flood-wire" and canonical["battery-brief"] == "battery-wire"


@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_grouping_of_a_boilerplate_corpus_does_not_depend_on_input_order(data):
    records = [*courier_records(), *digest_records(), *wire_copies(CYCLING_RACE, "race2")[:4]]
    base = result_partition(find_near_duplicates(records))
    shuffled = data.draw(st.permutations(records))
    assert result_partition(find_near_duplicates(shuffled, NearDupConfig(batch_size=2))) == base


def test_running_again_on_marked_records_gives_the_same_groups(corpus):
    first = find_near_duplicates(corpus)
    marked = [
        {**record, "dup_group": a.dup_group, "is_canonical": a.is_canonical}
        for record, a in zip(corpus, first.assignments(), strict=True)
    ]
    second = find_near_duplicates(marked)
    assert result_partition(second) == result_partition(first)
    assert list(second.assignments()) == list(first.assignments())


# --- canonical choice, result API ----------------------------------------------------------------------------


def canonical_records(**dates) -> list[dict]:
    p = FLOOD_BARRIER.paragraphs
    return [
        article("full", FLOOD_BARRIER, published_at=dates.get("full")),
        article("trim", FLOOD_BARRIER, paragraphs=p[:-2], published_at=dates.get("trim")),
        article(
            "long",
            FLOOD_BARRIER,
            footer=["Our reporters contributed to this story from the quay."],
            published_at=dates.get("long"),
        ),
    ]


@pytest.mark.parametrize(
    ("dates", "rule", "winner"),
    [
        # 08:00+03:00 is 05:00Z, earlier than 06:00Z
        ({"full": "2024-03-05T06:00:00Z", "trim": "2024-03-05T08:00:00+03:00"}, "earliest", "trim"),
        ({"full": "2024-03-05T06:00:00Z", "trim": 1709614800000}, "earliest", "trim"),  # epoch ms, 05:00Z
        ({"full": "2024-03-05T06:00:00Z", "trim": "2024-03-05T07:00:00Z"}, "earliest", "full"),
        ({}, "earliest", "long"),  # undated: longest
        ({"trim": "Tue, 05 Mar 2024 09:30:00 +0000"}, "earliest", "trim"),  # dated before undated
        ({"trim": "2024-03-05T06:00:00Z"}, "longest", "long"),
        ({"full": "2024-03-05T06:00:00Z", "long": "2024-03-05T06:00:00Z"}, "earliest", "long"),
    ],
)
def test_canonical_rules(dates, rule, winner):
    result = find_near_duplicates(canonical_records(**dates), NearDupConfig(canonical=rule))
    assert result.groups() == {winner: [winner, *(i for i in ("full", "trim", "long") if i != winner)]}


def test_smallest_id_breaks_ties():
    records = [article(i, MOTH_SPECIES) for i in ("m-3", "m-1", "m-2")]
    result = find_near_duplicates(records)
    assert result.groups() == {"m-1": ["m-1", "m-3", "m-2"]}
    ints = find_near_duplicates([article(i, MOTH_SPECIES) for i in (10, 9, 11)])
    assert ints.groups() == {9: [9, 10, 11]}


def test_result_api(corpus_result):
    result = corpus_result
    groups = result.groups()
    assert set(groups) == {"flood-wire", "battery-wire"}
    assert groups["flood-wire"] == [
        "flood-wire",
        "flood-herald",
        "flood-gazette",
        "flood-post",
        "flood-trim",
        "flood-brief",
        "flood-edited",
    ]
    assignments = list(result.assignments())
    assert all(isinstance(a, DupAssignment) for a in assignments)
    assert [a.id for a in assignments] == result.ids
    by_id = {a.id: a for a in assignments}
    assert by_id["flood-post"] == ("flood-post", "flood-wire", False)
    assert by_id["flood-wire"] == ("flood-wire", "flood-wire", True)
    assert by_id["moth"] == ("moth", "moth", True)
    assert result.dup_group(result.ids.index("battery-trim")) == "battery-wire"
    assert result.is_canonical.sum() == result.stats.groups == len(set(result.canonical.tolist()))
    assert np.array_equal(result.canonical[result.canonical], result.canonical)  # canonicals are their own
    assert partition(result.ids, [a.dup_group for a in assignments]) == EXPECTED


def test_articles_and_dicts_are_both_accepted():
    records = [
        Article("wire", FLOOD_BARRIER.headline, FLOOD_BARRIER.text, "Wire Service", 1.0),
        article("copy", FLOOD_BARRIER, title="Barrier fails", outlet="Northern Herald"),
    ]
    assert find_near_duplicates(records).groups() == {"wire": ["wire", "copy"]}


def test_progress_is_reported():
    calls = []
    find_near_duplicates(
        courier_records(), progress=lambda phase, done, total=None: calls.append((phase, done, total))
    )
    phases = [c[0] for c in calls]
    assert {"read", "shingle", "minhash", "lsh"} <= set(phases)
    assert ("lsh", 3, 3) in calls


def test_finishing_twice_does_not_give_a_different_answer():
    finder = DupFinder()
    for record in canonical_records():
        finder.add(Article(record["id"], record["title"], record["text"]))
    first = result_partition(finder.finish())
    assert first == {frozenset({"full", "trim", "long"})}
    try:
        again = finder.finish()
    except RuntimeError:
        return
    assert result_partition(again) == first


def test_stable_hashes_of_a_batch_are_the_hashes_of_each_id():
    from dedup.neardup import _stable_hash, stable_hashes

    ids = ["a", "wire-1", "é", "", 0, 7, 2**40, "7"]
    got = stable_hashes(ids)
    assert got.dtype == np.uint64
    assert got.tolist() == [_stable_hash(v) for v in ids]
    assert len(set(got.tolist())) == len(ids)  # "7" and 7 are different ids
