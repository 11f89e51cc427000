"""Tests for dedup.pipeline: both stages over a small corpus of invented events (tests/stage2_helpers.py)."""

from __future__ import annotations

import random
import sqlite3

import numpy as np
import pytest
from stage2_helpers import (
    CANONICAL_OF,
    STORY_ID,
    build_events,
    event_partition,
    partition_of,
    shared_model,  # noqa: F401 - a fixture
    spy_encode,
)

from dedup.config import NearDupConfig, StoryConfig
from dedup.pipeline import (
    ClusterTexts,
    Pipeline,
    PipelineConfig,
    StageTexts,
    find_stories,
    reference_texts,
    story_text,
)
from dedup.records import Article, RecordError, parse_date

LATER = {
    "id": "dam-later",
    "title": "Ferrow dam repairs finished as Marlow Ridge families return home",
    "text": "Halden Water said on Sunday that repairs to the cracked spillway of the Ferrow Valley dam were "
    "complete, and the last families from Marlow Ridge went home from the Ostby school gym.\n\n"
    "Chief engineer Brigit Solberg said the reservoir would be refilled slowly over the coming month "
    "while inspectors watched the new concrete.",
    "outlet": "Ferrow Valley Echo",
    "published_at": "2024-04-14T09:00:00Z",  # eleven days after the dam reports
}


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    """One embedding cache for the module: the tests that look inside the cache make their own."""
    return str(tmp_path_factory.mktemp("embeddings"))


@pytest.fixture
def config(module_cache, shared_model):  # noqa: F811
    return PipelineConfig(stories=StoryConfig(cache_dir=module_cache, batch_size=8))


def run(records, config, **stories):
    if stories:
        config = PipelineConfig(config.near_dup, StoryConfig(**{**config.stories.as_dict(), **stories}))
    return Pipeline(config).run(records)


def story_of(result) -> dict:
    return dict(zip(result.ids, result.story, strict=True))


# -- what the pipeline finds ---------------------------------------------------------------------------


def test_events_become_stories_and_copies_fold_into_dup_groups(config):
    records = build_events()
    result = run(records, config)
    assert result.ids == [r["id"] for r in records]
    groups = {a["id"]: a["dup_group"] for a in result.assignments()}
    assert groups == {r["id"]: CANONICAL_OF.get(r["id"], r["id"]) for r in records}
    assert partition_of(result.ids, result.story) == event_partition(result.ids)
    assert set(result.story) == set(STORY_ID.values())
    assert {r["story"]: r["headline"] for r in result.stories}["theft-wire"] in {
        r["title"] for r in records if r["id"].startswith("theft")
    }


def test_duplicates_inherit_their_canonical_articles_story(config):
    result = run(build_events(), config)
    stories = story_of(result)
    for a in result.assignments():
        assert a["story"] == stories[a["dup_group"]]
        assert a["is_canonical"] == (a["id"] == a["dup_group"])


def test_story_id_is_the_earliest_canonical_article(config):
    records = build_events()
    result = run(records, config)
    when = {r["id"]: parse_date(r["published_at"]) for r in records}
    canonical = {a["id"] for a in result.assignments() if a["is_canonical"]}
    for story in set(result.story):
        members = [i for i, s in story_of(result).items() if s == story and i in canonical]
        assert story == min(members, key=lambda i: when[i])
    assert story_of(result)["dam-followup"] == "dam-wire"


def test_story_id_of_undated_articles_is_the_smallest_canonical_id(config):
    records = [{k: v for k, v in r.items() if k != "published_at"} for r in build_events()]
    result = run(records, config)
    assert partition_of(result.ids, result.story) == event_partition(result.ids)
    canonical = {a["id"] for a in result.assignments() if a["is_canonical"]}
    for story in set(result.story):
        assert story == min(i for i, s in story_of(result).items() if s == story and i in canonical)
    assert story_of(result)["dam-wire"] == "dam-followup"  # "f" sorts before "l" and "w"
    assert all(r["first_published_at"] is None for r in result.stories)


def test_reruns_and_shuffled_input_agree(config):
    records = build_events()
    first = run(records, config)
    again = run(records, config)
    assert again.story == first.story and again.stories == first.stories
    shuffled = records[:]
    random.Random(5).shuffle(shuffled)
    other = run(shuffled, config)
    assert story_of(other) == story_of(first)  # same partition and the same ids
    assert {a["id"]: a["dup_group"] for a in other.assignments()} == {
        a["id"]: a["dup_group"] for a in first.assignments()
    }


def test_integer_ids(config):
    records = build_events()
    number = {r["id"]: k + 100 for k, r in enumerate(records)}
    renumbered = [{**r, "id": number[r["id"]]} for r in records]
    result = run(renumbered, config)
    assert story_of(result) == {number[i]: number[s] for i, s in story_of(run(records, config)).items()}


def test_articles_as_values(config):
    records = build_events()
    articles = [
        Article(r["id"], r["title"], r["text"], r["outlet"], parse_date(r["published_at"])) for r in records
    ]
    assert run(articles, config).story == run(records, config).story


# -- the story records ---------------------------------------------------------------------------------


def test_story_records_agree_with_the_assignments(config):
    records = build_events()
    result = run(records, config)
    by_id = {r["id"]: r for r in records}
    listed = [a for s in result.stories for a in s["articles"]]
    assert sorted(listed) == sorted(result.ids)  # every article in exactly one record
    assert sum(s["size"] for s in result.stories) == len(records)
    groups = {a["id"]: a["dup_group"] for a in result.assignments()}
    for s in result.stories:
        assert s["size"] == len(s["articles"])
        assert all(story_of(result)[a] == s["story"] for a in s["articles"])
        assert s["dup_groups"] == list(dict.fromkeys(groups[a] for a in s["articles"]))
        assert s["articles_distinct"] == len(s["dup_groups"])
        assert s["story"] in s["dup_groups"]
        outlets = [by_id[a]["outlet"] for a in s["articles"]]
        assert s["outlets"] == {o: outlets.count(o) for o in set(outlets)}
        assert s["n_outlets"] == len(set(outlets))
        times = [parse_date(by_id[a]["published_at"]) for a in s["articles"]]
        assert parse_date(s["first_published_at"]) == min(times)
        assert parse_date(s["last_published_at"]) == max(times)
        assert s["headline"] in {by_id[a]["title"] for a in s["articles"] if groups[a] == a}
        assert s["keywords"] and len(s["keywords"]) <= 8
    assert [s["size"] for s in result.stories] == sorted((s["size"] for s in result.stories), reverse=True)
    dam = next(s for s in result.stories if s["story"] == "dam-wire")
    assert dam["size"] == 5 and dam["articles_distinct"] == 3
    assert dam["first_published_at"] == "2024-04-02T07:00:00Z"
    assert dam["last_published_at"] == "2024-04-03T19:00:00Z"
    assert {"ferrow", "dam", "spillway"} <= set(" ".join(dam["keywords"]).split())


def test_keywords_setting(config):
    result = run(build_events(), config, keywords=3)
    assert all(len(s["keywords"]) == 3 for s in result.stories)


# -- the time window end to end ------------------------------------------------------------------------


def test_a_report_beyond_the_window_starts_a_new_story(config):
    records = [*build_events(), LATER]
    assert story_of(run(records, config, window_days=3))["dam-later"] == "dam-later"
    assert story_of(run(records, config, window_days=0))["dam-later"] == "dam-wire"  # 0: no limit
    assert story_of(run(records, config, window_days=20))["dam-later"] == "dam-wire"


def test_no_story_spans_more_than_the_window(config):
    records = [*build_events(), LATER]
    result = run(records, config, window_days=1)
    when = {r["id"]: parse_date(r["published_at"]) for r in records}
    for s in result.stories:
        times = [when[a] for a in s["articles"] if CANONICAL_OF.get(a, a) == a]
        assert max(times) - min(times) <= 86400


# -- the embeddings ------------------------------------------------------------------------------------


def test_only_canonical_articles_are_embedded_and_a_rerun_embeds_nothing(shared_model, tmp_path, monkeypatch):  # noqa: F811
    config = PipelineConfig(stories=StoryConfig(cache_dir=str(tmp_path / "cache")))
    encoded = spy_encode(monkeypatch)
    reference = reference_texts()
    records = build_events()
    run(records, config)
    assert len(encoded) == len(records) - len(CANONICAL_OF) == 9
    with sqlite3.connect(tmp_path / "cache" / "embeddings.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone() == (9 + len(reference),)
    encoded.clear()
    run(records, config)
    assert encoded == []


def test_default_cache_dir_comes_from_the_environment(tmp_path, shared_model):  # noqa: F811
    result = Pipeline(PipelineConfig()).run(build_events()[:4])
    assert len(result.story) == 4
    assert (tmp_path / "default-cache" / "embeddings.sqlite").exists()  # DEDUP_CACHE_DIR


def test_the_model_setting_reaches_the_loader(config, shared_model):  # noqa: F811
    run(build_events()[:3], config)
    assert shared_model.calls == ["minilm"]
    with pytest.raises(FileNotFoundError, match="not found"):
        run(build_events()[:3], config, model="/nonexistent/model")


# -- bad records ---------------------------------------------------------------------------------------


def with_bad_records():
    records = build_events()
    return [
        *records[:2],
        {"title": "no id here"},
        *records[2:5],
        {"id": "x", "text": ["a", "list"]},
        *records[5:],
    ]


def test_on_error_raise_names_the_record(config):
    with pytest.raises(RecordError, match=r'^record 3: missing id field "id"'):
        run(with_bad_records(), config)


def test_on_error_skip_sets_bad_records_aside(config):
    result = Pipeline(config).run(with_bad_records(), on_error="skip")
    clean = run(build_events(), config)
    assert result.ids == clean.ids
    assert result.story == clean.story and result.stories == clean.stories
    assert [n for n, _ in result.dups.rejects] == [3, 7]
    assert 'field "text" is a list' in result.dups.rejects[1][1]


def test_empty_input(config):
    result = run([], config)
    assert result.ids == [] and result.story == [] and result.stories == []
    assert list(result.assignments()) == []


def test_one_article(config):
    result = run(build_events()[:1], config)
    assert result.story == [result.ids[0]]
    assert result.stories[0]["size"] == 1 and result.stories[0]["headline"] == build_events()[0]["title"]


def test_near_dup_settings_are_used(config):
    # articles shorter than min_tokens stay singletons: then copies are clustered as articles
    strict = PipelineConfig(NearDupConfig(min_tokens=100_000), config.stories)
    result = Pipeline(strict).run(build_events())
    assert all(a["is_canonical"] for a in result.assignments())
    assert partition_of(result.ids, result.story) == event_partition(result.ids)


# -- the texts stage 2 reads -----------------------------------------------------------------------------


def test_story_text_cleans_html_and_junk_lines():
    article = Article(
        "a",
        "Flood &amp; storm <b>hit</b> Kestrel Bay",
        "Share this article\n\n<p>A storm surge flooded more than 300 homes in Kestrel Bay on Tuesday.</p>\n\n"
        "ADVERTISEMENT\n\nEngineers said a valve on the northern gate jammed before high tide.",
    )
    assert story_text(article) == (
        "Flood & storm hit Kestrel Bay. A storm surge flooded more than 300 homes in Kestrel Bay on Tuesday. "
        "Engineers said a valve on the northern gate jammed before high tide."
    )
    assert story_text(article, lead_words=3) == "Flood & storm hit Kestrel Bay. A storm surge"


def test_stage_texts_and_cluster_texts():
    record = build_events()[0]
    article = Article(record["id"], record["title"], record["text"])
    shingle, text, title = StageTexts(lead_words=5)(article)
    assert title == record["title"]
    assert text == story_text(article, 5)
    assert shingle.startswith(record["title"])  # cleaned, case kept (the tokeniser folds it)
    assert ClusterTexts(5)(article, {"dup_group": "g"}) == (text, title, "g")
    assert ClusterTexts(5, dup_field="group")(article, {"group": 7}) == (text, title, 7)
    assert ClusterTexts(5)(article, None) == (text, title, None)
    assert ClusterTexts(5)(article, {}) == (text, title, None)


def test_find_stories_directly(tmp_path, shared_model):  # noqa: F811
    # two copies of one text (the second folded into the first) and an unrelated article
    ids = ["a", "b", "c"]
    texts = [
        "Dam spillway crack forces evacuation of Marlow Ridge.",
        "",  # non-canonical: not read
        "Velden Rovers win the cup final.",
    ]
    dates = np.array([0.0, 60.0, np.nan])
    result = find_stories(
        ids,
        np.array([0, 0, 2]),
        texts,
        ["Dam", "Dam copy", "Cup"],
        ["Wire", "Echo", None],
        dates,
        StoryConfig(cache_dir=str(tmp_path)),
    )
    assert result.story == ["a", "a", "c"]
    assert [s["story"] for s in result.stories] == ["a", "c"]
    assert result.stories[0]["dup_groups"] == ["a"] and result.stories[0]["size"] == 2
    assert result.stories[0]["last_published_at"] == "1970-01-01T00:01:00Z"
    assert set(result.seconds) == {"load_model", "embed", "cluster", "describe"}
