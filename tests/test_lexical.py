"""Tests for dedup.lexical: name tokens, name vectors, and how they join the embeddings."""

from __future__ import annotations

import io

import numpy as np
import pytest
from stage2_helpers import unit

from dedup.lexical import NameSpace, centred, name_tokens, name_vectors, story_vectors

# -- name_tokens ----------------------------------------------------------------------------------------


def test_adjacent_names_are_joined_across_an_abbreviation_dot():
    tokens = name_tokens("Mt. Gox halts withdrawals after hack")
    assert "mtgox" in tokens
    assert tokens == ["mt", "mtgox", "gox"]


def test_only_capitalised_tokens_count_and_stop_words_are_dropped():
    tokens = name_tokens("The council of Kestrel Bay said on Tuesday that the barrier had failed.")
    assert tokens == ["kestrel", "kestrelbay", "bay", "tuesday"]
    # "The" starts the sentence but is a stop word; lower-case words never count
    assert "the" not in tokens and "barrier" not in tokens


def test_stop_words_never_join_a_pair():
    tokens = name_tokens("After The Storm")
    assert tokens == ["storm"]
    assert not any(t.startswith(("after", "the")) for t in tokens)


def test_light_plural_and_possessive_stemming():
    assert name_tokens("Titans") == ["titan"]
    assert name_tokens("Verhoeven's plan") == ["verhoeven"]
    assert name_tokens("Verhoeven\u2019s plan") == ["verhoeven"]  # typographic apostrophe
    assert name_tokens("Congress") == ["congress"]  # -ss is not a plural
    assert name_tokens("Gas") == ["gas"]  # short words keep their s
    # the singular and plural of a name meet
    assert name_tokens("Orrin Lumens")[-1] == name_tokens("Orrin Lumen")[-1] == "lumen"


def test_dotted_abbreviations_and_single_letters():
    assert name_tokens("U.S. officials") == ["us"]
    assert name_tokens("A storm") == []  # a single capital letter is not a name
    assert name_tokens("no names here at all, only lower case") == []
    assert name_tokens("") == []


def test_names_separated_by_other_words_are_not_joined():
    tokens = name_tokens("Alma met Piet")
    assert tokens == ["alma", "piet"]


# -- name_vectors ---------------------------------------------------------------------------------------

NAMED = [
    "Kestrel Bay flood: Alma Verhoeven visits the harbour",
    "Verhoeven tours Kestrel Bay after the flood",
    "Orrin Systems recalls Lumen laptops",
    "Lumen batteries: Orrin Systems apologises",
    "Tour of the Marches won by Jonas Eckhart",
    "Eckhart wins the Marches on Windle Pass",
]


@pytest.mark.parametrize(
    "texts",
    [
        [],
        ["Alma met Piet"],
        ["Alma met Piet", "Alma left"],  # fewer than three texts
        ["Alma met Piet", "Bram left", "Carl came"],  # no name recurs
        ["Alma met Piet", "Alma left", "Carl came"],  # one recurring name: no room for two dimensions
        ["no names here", "none here either", "still nothing"],
    ],
)
def test_name_vectors_none_without_enough_recurring_names(texts):
    assert name_vectors(texts) is None


def test_name_vectors_are_unit_rows_that_match_shared_names():
    v = name_vectors(NAMED)
    assert v is not None and v.dtype == np.float32
    assert v.shape[0] == len(NAMED) and 2 <= v.shape[1] <= len(NAMED) - 1
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sim = v @ v.T
    for a, b in ((0, 1), (2, 3), (4, 5)):
        assert sim[a, b] > 0.9
    for a, b in ((0, 2), (1, 4), (3, 5)):
        assert abs(sim[a, b]) < 0.1


def test_name_vectors_dims_and_determinism():
    small = name_vectors(NAMED, dims=2)
    assert small.shape == (len(NAMED), 2)
    np.testing.assert_array_equal(name_vectors(NAMED, seed=0), name_vectors(NAMED, seed=0))


def test_a_text_without_recurring_names_gets_a_zero_row():
    v = name_vectors([*NAMED, "nothing capitalised here"])
    assert v is not None
    np.testing.assert_array_equal(v[-1], 0.0)


def test_a_name_space_applies_to_new_texts_as_scikit_learn_would_and_survives_a_save():
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    space, fitted = NameSpace.fit(NAMED, dims=3)
    np.testing.assert_allclose(space.transform(NAMED), fitted, atol=1e-5)  # as fitted
    later = ["Alma Verhoeven returns to Kestrel Bay", "Orrin Systems and Jonas Eckhart", "no names", ""]
    tfidf = TfidfVectorizer(analyzer=name_tokens, min_df=2, sublinear_tf=True, dtype=np.float32)
    svd = TruncatedSVD(3, random_state=0, algorithm="randomized", n_iter=4).fit(tfidf.fit_transform(NAMED))
    expected = normalize(svd.transform(tfidf.transform(later)))
    got = space.transform(later)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_array_equal(got[2:], 0.0)  # no known name: a zero row
    buffer = io.BytesIO()
    space.save(buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(NameSpace.load(buffer).transform(later), got)


# -- story_vectors and centred ------------------------------------------------------------------------


@pytest.fixture
def pair():
    rng = np.random.default_rng(7)
    return unit(rng.normal(size=(12, 16))), unit(rng.normal(size=(12, 5)))


@pytest.mark.parametrize("weight", [0.1, 0.3, 0.7])
def test_story_vector_dots_mix_the_two_cosines(pair, weight):
    emb, names = pair
    joined = story_vectors(emb, names, weight)
    assert joined.shape == (12, 21) and joined.dtype == np.float32 and joined.flags.c_contiguous
    expected = (1 - weight) * (emb @ emb.T) + weight * (names @ names.T)
    np.testing.assert_allclose(joined @ joined.T, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(joined, axis=1), 1.0, atol=1e-5)  # still unit vectors


def test_story_vectors_centred_mix_uses_the_centred_embedding_cosine(pair):
    emb, names = pair
    joined = story_vectors(emb, names, 0.3, center=True)
    c = centred(emb)
    np.testing.assert_allclose(joined @ joined.T, 0.7 * (c @ c.T) + 0.3 * (names @ names.T), atol=1e-5)


def test_story_vectors_without_names_are_the_embeddings(pair):
    emb, names = pair
    np.testing.assert_array_equal(story_vectors(emb, None, 0.3), emb)
    np.testing.assert_array_equal(story_vectors(emb, names, 0.0), emb)


def test_centred_removes_the_common_direction():
    rng = np.random.default_rng(3)
    common = np.zeros(16)
    common[0] = 5.0
    emb = unit(rng.normal(size=(50, 16)) + common)
    assert (emb @ emb.T).mean() > 0.5  # everything looks alike from far away
    c = centred(emb)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, atol=1e-5)
    assert abs((c @ c.T)[~np.eye(50, dtype=bool)].mean()) < 0.05
    # one article: nothing to centre on
    np.testing.assert_array_equal(centred(emb[:1]), emb[:1])


# -- calibration ---------------------------------------------------------------------------------------


def test_baseline_similarity_is_the_mean_cosine_over_distinct_pairs():
    from dedup.lexical import baseline_similarity

    rng = np.random.default_rng(3)
    v = rng.normal(size=(40, 16)) + 0.8  # a shared direction, as sentence embeddings have
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    sims = v @ v.T
    brute = sims[~np.eye(len(v), dtype=bool)].mean()
    assert baseline_similarity(v.astype(np.float32)) == pytest.approx(brute, abs=1e-5)
    assert brute > 0.3
    assert baseline_similarity(v[:1]) == 0.0


@pytest.mark.parametrize("weight", [0.0, 0.3])
def test_calibrated_threshold_measures_similarity_from_the_baseline(weight):
    from dedup.lexical import story_threshold

    rng = np.random.default_rng(4)
    emb = rng.normal(size=(6, 8))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    names = rng.normal(size=(6, 5))
    names /= np.linalg.norm(names, axis=1, keepdims=True)
    b = 0.4
    joined = story_vectors(emb, names, weight, baseline=b)
    calibrated = (1 - weight) * (emb @ emb.T - b) / (1 - b) + weight * (names @ names.T)
    shift = story_threshold(0.0, weight, True, b)
    np.testing.assert_allclose(joined @ joined.T - shift, calibrated, atol=1e-5)
    # without names, threshold t is met by a cosine a share t of the way from the baseline to 1
    cosine = b + 0.2 * (1 - b)
    assert cosine / (1 - b) == pytest.approx(story_threshold(0.2, weight, False, b))


def test_shrunk_baseline_trusts_large_corpora_and_the_reference_for_tiny_ones():
    from dedup.lexical import shrunk_baseline

    assert shrunk_baseline(0.9, 2, 0.1) == pytest.approx(0.1, abs=0.02)
    assert shrunk_baseline(0.3, 100_000, 0.1) == pytest.approx(0.3, abs=1e-3)
