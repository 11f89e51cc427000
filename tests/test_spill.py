"""Spilling token batches and shingle sets to disk changes memory, never results."""

from __future__ import annotations

import numpy as np
import pytest

from dedup import neardup
from dedup.config import NearDupConfig
from dedup.neardup import find_near_duplicates
from dedup.spill import Spill
from dedup.synth import SynthConfig, generate_corpus


def test_spill_round_trips_arrays() -> None:
    spill = Spill()
    arrays = [np.arange(10, dtype=np.uint32), np.empty(0, np.uint32), np.array([2**63 + 5], np.uint64)]
    handles = [spill.put(a) for a in arrays]
    for a, h in zip(arrays, handles, strict=True):
        np.testing.assert_array_equal(spill.get(h), a)
        assert spill.get(h).dtype == a.dtype
    out = np.zeros(10, np.uint32)
    spill.read_into(handles[0], out)
    np.testing.assert_array_equal(out, arrays[0])
    assert spill.bytes_written == 48
    spill.close()


@pytest.mark.parametrize("spill_after", [0, 40_000])
def test_spilled_run_equals_in_memory_run(monkeypatch, spill_after: int) -> None:
    records = list(generate_corpus(None, SynthConfig(n_articles=700, n_outlets=30, seed=3)))
    config = NearDupConfig(batch_size=64)  # many batches, so some are spilled and some are not
    want = find_near_duplicates(records, config)
    puts = []
    original = Spill.put

    def counting_put(self, array):
        puts.append(len(array))
        return original(self, array)

    monkeypatch.setattr(neardup, "SPILL_AFTER_BYTES", spill_after)
    monkeypatch.setattr(Spill, "put", counting_put)
    got = find_near_duplicates(records, config)
    assert len(puts) > 10  # tokens, then shingle sets and leads, went through the spill file
    np.testing.assert_array_equal(got.canonical, want.canonical)
    np.testing.assert_array_equal(got.set_sizes, want.set_sizes)
    assert np.count_nonzero(want.canonical != np.arange(len(records))) > 100
