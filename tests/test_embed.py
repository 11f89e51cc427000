"""Tests for dedup.embed: the text that is embedded, offline model loading, and the embedding cache."""

from __future__ import annotations

import socket
from dataclasses import replace

import numpy as np
import pytest
from stage2_helpers import minilm_model

from dedup.embed import (
    BlendedEncoder,
    Embedder,
    EmbeddingCache,
    ModelNotFound,
    blend,
    default_cache_dir,
    embed_all,
    embed_text,
    load_embedder,
    resolve_cache_dir,
)

# -- embed_text -----------------------------------------------------------------------------------------

BODY = "\n".join(
    [
        "Home | News | Sport | Weather",
        "A storm surge flooded more than 300 homes in Kestrel Bay on Tuesday night.",
        "Photo: Harbour Archive",
        "Engineers said a valve on the northern gate jammed before high tide.",
        "Read more",
        "Residents spent Wednesday pumping water out of their cellars and streets.",
    ]
)


def test_embed_text_is_headline_then_lead_of_prose_lines():
    text = embed_text("Flood barrier fails", BODY)
    assert text == (
        "Flood barrier fails. A storm surge flooded more than 300 homes in Kestrel Bay on Tuesday night. "
        "Engineers said a valve on the northern gate jammed before high tide. "
        "Residents spent Wednesday pumping water out of their cellars and streets."
    )
    for junk in ("Home", "Photo", "Read more", "|"):
        assert junk not in text.split(". ", 1)[1]


def test_embed_text_cuts_the_lead_at_lead_words():
    text = embed_text("Flood barrier fails", BODY, lead_words=5)
    assert text == "Flood barrier fails. A storm surge flooded more"
    # the lead is counted in words across lines, not per line
    text = embed_text("T", BODY, lead_words=16)
    assert (
        text == "T. A storm surge flooded more than 300 homes in Kestrel Bay on Tuesday night. Engineers said"
    )


def test_embed_text_no_double_stop_after_a_headline_with_punctuation():
    assert embed_text("Is the barrier safe?", "It was built eight months ago by the council.") == (
        "Is the barrier safe? It was built eight months ago by the council."
    )
    assert embed_text("Update:", "It was built eight months ago by the council.") == (
        "Update: It was built eight months ago by the council."
    )


def test_embed_text_prose_needs_six_words_and_a_sentence_end():
    body = "Five words and a stop.\nSix words but no final stop here\nThis line has six words, and ends.\n"
    assert embed_text("H", body) == "H. This line has six words, and ends."
    # a quotation closing the line counts as a sentence end
    assert embed_text("H", 'She said "we were told this would never happen"') == (
        'H. She said "we were told this would never happen"'
    )


def test_embed_text_falls_back_to_all_lines_when_none_is_prose():
    assert embed_text("Scores", "Rovers 2\nUnited 1\nFull time") == "Scores. Rovers 2 United 1 Full time"


def test_embed_text_without_headline_or_body():
    assert embed_text("", "A storm surge flooded more than 300 homes on Tuesday night.") == (
        "A storm surge flooded more than 300 homes on Tuesday night."
    )
    assert embed_text("  Storm   hits\ncoast ", "") == "Storm hits coast"
    assert embed_text("", "") == ""
    assert embed_text("", "\n \n") == ""


# -- loading the model ----------------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to reach the network fails the test loudly."""
    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_minilm_loads_offline_and_gives_unit_vectors(no_network, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the loader must not rely on the caller
    embedder = load_embedder("minilm", batch_size=4, device="cpu")
    assert no_network == []
    assert embedder.dim == 384
    assert embedder.name == "all-MiniLM-L6-v2@64"
    assert embedder.model.max_seq_length == 64
    vectors = embedder.encode(
        ["A storm floods the harbour town.", "Laptop batteries recalled over fire risk."]
    )
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_max_seq_length_is_applied_and_part_of_the_name():
    embedder = load_embedder("minilm", max_seq_length=64, device="cpu")
    assert embedder.model.max_seq_length == 64
    assert embedder.name == "all-MiniLM-L6-v2@64"


def test_similar_texts_are_closer_than_unrelated_ones():
    embedder = minilm_model()
    v = embedder.encode(
        [
            "Storm surge floods harbour town after tidal barrier fails to close",
            "Sea water pours into homes as the flood gate jams during a storm",
            "Laptop maker recalls 90,000 batteries after reports of fires",
        ]
    )
    sim = v @ v.T
    assert sim[0, 1] > sim[0, 2] + 0.2
    assert sim[0, 1] > sim[1, 2] + 0.2


def test_encode_of_nothing_is_an_empty_matrix():
    out = minilm_model().encode([])
    assert out.shape == (0, 384) and out.dtype == np.float32


def test_missing_model_directory_is_a_clear_error_without_network(no_network, tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFound) as info:
        load_embedder(str(missing))
    message = str(info.value)
    assert str(missing) in message
    assert "not found" in message and "never downloads" in message
    assert isinstance(info.value, FileNotFoundError)
    assert no_network == []


def test_a_directory_that_is_not_a_model_is_a_clear_error_without_network(no_network, tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelNotFound, match="cannot load embedding model from"):
        load_embedder(str(tmp_path), device="cpu")
    assert no_network == []


def test_a_hub_name_is_not_downloaded(no_network):
    with pytest.raises(ModelNotFound, match="dedup never downloads models"):
        load_embedder("sentence-transformers/all-mpnet-base-v2")
    assert no_network == []


def test_a_local_model_directory_loads_under_its_path(tmp_path):
    from dedup.embed import packaged_minilm_path

    embedder = load_embedder(str(packaged_minilm_path()), device="cpu", batch_size=4)
    assert embedder.dim == 384
    assert embedder.name == f"{packaged_minilm_path().resolve()}@64"
    assert embedder.name != minilm_model().name  # a different cache key from the packaged name
    np.testing.assert_allclose(
        embedder.encode(["The same sentence."]), minilm_model().encode(["The same sentence."]), atol=1e-5
    )


def test_offline_environment_is_restored_after_loading(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    with pytest.raises(ModelNotFound):
        load_embedder("/nonexistent/model")
    import os

    assert "HF_HUB_OFFLINE" not in os.environ
    assert os.environ["TRANSFORMERS_OFFLINE"] == "0"


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("DEDUP_CACHE_DIR", str(tmp_path / "d"))
    assert default_cache_dir() == tmp_path / "d"
    monkeypatch.delenv("DEDUP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "dedup"
    # a configured directory (--cache-dir) wins; none means the default
    assert resolve_cache_dir(str(tmp_path / "c")) == tmp_path / "c"
    assert resolve_cache_dir(None) == resolve_cache_dir("") == tmp_path / "x" / "dedup"


# -- the cache -----------------------------------------------------------------------------------------


class FakeModel:
    """A sentence-transformers stand-in: a fixed vector per text, and a log of what was encoded."""

    def __init__(self, dim: int = 8):
        self.dim = dim
        self.encoded: list[str] = []

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts, batch_size, normalize_embeddings, convert_to_numpy, show_progress_bar):
        assert normalize_embeddings and convert_to_numpy and not show_progress_bar
        self.encoded.extend(texts)
        rows = []
        for t in texts:
            rng = np.random.default_rng(abs(hash(t)) % 2**32)
            v = rng.normal(size=self.dim)
            rows.append(v / np.linalg.norm(v))
        return np.array(rows, dtype=np.float64)


TEXTS = [f"Article number {i} about the flood barrier." for i in range(7)]


def test_cache_round_trips_vectors(tmp_path):
    cache = EmbeddingCache(tmp_path, "model-a")
    keys = [EmbeddingCache.key(t) for t in TEXTS[:3]]
    vectors = np.arange(3 * 4, dtype=np.float32).reshape(3, 4) / 10
    cache.put(keys, vectors)
    cache.close()
    again = EmbeddingCache(tmp_path, "model-a")  # a new connection: it is on disk
    got, found = again.get([keys[2], EmbeddingCache.key("never stored"), keys[0]], 4)
    again.close()
    assert found.tolist() == [True, False, True]
    np.testing.assert_array_equal(got[0], vectors[2])
    np.testing.assert_array_equal(got[1], np.zeros(4))
    np.testing.assert_array_equal(got[2], vectors[0])
    assert (tmp_path / "embeddings.sqlite").exists()


def test_cache_ignores_vectors_of_another_dimension(tmp_path):
    cache = EmbeddingCache(tmp_path, "model-a")
    key = EmbeddingCache.key("text")
    cache.put([key], np.ones((1, 4), dtype=np.float32))
    _, found = cache.get([key], 8)
    assert not found.any()
    cache.close()


def test_cache_keys_are_exact_text():
    assert EmbeddingCache.key("Storm") != EmbeddingCache.key("storm")
    assert EmbeddingCache.key("a b") != EmbeddingCache.key("a  b")
    assert EmbeddingCache.key("lone surrogate \ud800") == EmbeddingCache.key("lone surrogate \ud800")


def test_different_models_do_not_share_cache_entries(tmp_path):
    key = [EmbeddingCache.key("same text")]
    a = EmbeddingCache(tmp_path, "model-a")
    a.put(key, np.ones((1, 4), dtype=np.float32))
    b = EmbeddingCache(tmp_path, "model-b")
    _, found = b.get(key, 4)
    assert not found.any()
    b.put(key, np.full((1, 4), 2.0, dtype=np.float32))
    np.testing.assert_array_equal(a.get(key, 4)[0], np.ones((1, 4)))
    np.testing.assert_array_equal(b.get(key, 4)[0], np.full((1, 4), 2.0))
    a.close()
    b.close()


def test_embed_all_uses_the_cache_on_a_second_run(tmp_path):
    model = FakeModel()
    embedder = Embedder(model, "fake", batch_size=2)
    cache = EmbeddingCache(tmp_path, embedder.name)
    first = embed_all(embedder, TEXTS, cache, chunk=3)
    assert model.encoded == TEXTS
    assert first.shape == (7, 8) and first.dtype == np.float32
    model.encoded.clear()
    second = embed_all(embedder, TEXTS, cache, chunk=3)
    assert model.encoded == []  # nothing embedded twice
    np.testing.assert_array_equal(first, second)
    # a new text among cached ones: only it is embedded, and rows stay in input order
    mixed = [TEXTS[4], "A new article about something else.", TEXTS[0]]
    third = embed_all(embedder, mixed, cache)
    assert model.encoded == ["A new article about something else."]
    np.testing.assert_array_equal(third[0], first[4])
    np.testing.assert_array_equal(third[2], first[0])
    cache.close()


def test_embed_all_without_cache_and_with_progress():
    model = FakeModel()
    seen = []
    out = embed_all(Embedder(model, "fake"), TEXTS, None, chunk=4, progress=lambda *a: seen.append(a))
    assert model.encoded == TEXTS and out.shape == (7, 8)
    assert seen == [("embedding", 4, 7), ("embedding", 7, 7)]
    assert embed_all(Embedder(model, "fake"), [], None).shape == (0, 8)


def test_embed_all_second_run_with_minilm_calls_the_model_zero_times(tmp_path, monkeypatch):
    shared = minilm_model()
    embedder = Embedder(shared.model, shared.name, batch_size=4)
    calls: list[int] = []
    real_encode = embedder.encode

    def spy(texts):
        calls.append(len(texts))
        return real_encode(texts)

    monkeypatch.setattr(embedder, "encode", spy)
    texts = ["Dam spillway crack forces evacuation.", "Telecom outage cuts off mobile users."]
    cache = EmbeddingCache(tmp_path, embedder.name)
    first = embed_all(embedder, texts, cache)
    cache.close()
    assert calls == [2]
    cache = EmbeddingCache(tmp_path, embedder.name)
    second = embed_all(embedder, texts, cache)
    cache.close()
    assert calls == [2]
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, real_encode(texts), atol=1e-6)
    # the static model's name is another cache entry: it would embed again
    other = EmbeddingCache(tmp_path, "static:minilm-pca256-sif1e-4-v1")
    assert not other.get([EmbeddingCache.key(t) for t in texts], 384)[1].any()
    other.close()


# -- the default blend: the transformer reads the headline, the static model the lead ------------------


def test_blend_cosine_is_the_weighted_mean_of_the_two_models_cosines():
    first, second = Embedder(FakeModel(8), "a"), Embedder(FakeModel(5), "b")
    blended = blend(first, second, 0.3)
    assert blended.dim == 13 and blended.name == "a+b*0.3"
    v = blended.encode(TEXTS)
    assert v.shape == (7, 13) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    a, b = first.encode(TEXTS), second.encode(TEXTS)
    np.testing.assert_allclose(v @ v.T, 0.7 * (a @ a.T) + 0.3 * (b @ b.T), atol=1e-6)
    assert blended.encode([]).shape == (0, 13)
    # a text one model gives the zero vector is the other model's alone, still a unit vector
    second.model.encode = lambda texts, **_: np.zeros((len(texts), 5))
    lone = blended.encode(TEXTS[:2])
    np.testing.assert_allclose(lone[:, :8], a[:2], atol=1e-6)
    assert not lone[:, 8:].any()
    for weight in (0.0, 1.0, -0.2):
        with pytest.raises(ValueError, match="between 0 and 1"):
            blend(first, second, weight)


def test_default_story_embedder_blends_minilm_on_the_headline_with_the_static_model(static_dir):
    from dedup.config import StoryConfig
    from dedup.embed import story_embedder

    config = StoryConfig(cache_dir=str(static_dir), device="cpu")
    embedder = story_embedder(config)
    assert embedder.name == "all-MiniLM-L6-v2@16+static:minilm-pca256-sif1e-4-v1*0.5"
    assert embedder.dim == 384 + 256
    minilm = embedder.model.first
    assert minilm.model.max_seq_length == 16
    texts = [
        "Storm surge floods harbour town. The tidal barrier failed to close as water rose over the quay.",
        "Harbour town flooded by storm surge. Residents pumped water from cellars all of Wednesday.",
        "Laptop batteries recalled over fire risk. The maker said 90,000 packs could overheat.",
    ]
    v = embedder.encode(texts)
    static = load_embedder("static", cache_dir=static_dir).encode(texts)
    np.testing.assert_allclose(v[:, :384], minilm.encode(texts) * np.sqrt(0.5), atol=1e-5)
    np.testing.assert_allclose(v[:, 384:], static * np.sqrt(0.5), atol=1e-6)
    # MiniLM reads 16 word pieces (the headline and the lead's first words); the static model the rest
    longer = embedder.encode([t + " Officials promised a full inquiry into the causes." for t in texts])
    np.testing.assert_allclose(longer[:, :384], v[:, :384], atol=1e-5)
    assert np.all(np.abs(longer[:, 384:] - v[:, 384:]).max(axis=1) > 1e-3)
    sim = v @ v.T
    assert sim[0, 1] > sim[0, 2] + 0.2
    # no blend: the fast mode, a zero weight, or the static model named as the model
    for plain in (StoryConfig(fast=True), StoryConfig(static_weight=0.0), StoryConfig(model="static")):
        loaded = story_embedder(replace(plain, cache_dir=str(static_dir), device="cpu"))
        assert not isinstance(loaded.model, BlendedEncoder)


def test_static_weight_is_checked():
    from dedup.config import StoryConfig

    assert StoryConfig().blend_weight == 0.5 and StoryConfig(fast=True).blend_weight == 0.0
    for weight in (1.0, -0.1):
        with pytest.raises(ValueError, match="static_weight"):
            StoryConfig(static_weight=weight)


def test_loading_phase_says_when_the_static_model_is_distilled(static_dir, tmp_path):
    from dedup.config import StoryConfig
    from dedup.embed import loading_phase

    assert loading_phase(StoryConfig(cache_dir=str(static_dir))) == "loading the embedding model"
    empty = str(tmp_path / "empty")
    assert "distilling" in loading_phase(StoryConfig(cache_dir=empty))
    assert "distilling" in loading_phase(StoryConfig(cache_dir=empty, fast=True))
    assert loading_phase(StoryConfig(cache_dir=empty, static_weight=0.0)) == "loading the embedding model"
