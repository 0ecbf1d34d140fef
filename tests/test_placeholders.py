"""The placeholders de-personalisation writes: one table, the one the masking writes and the cards name."""

import re

from kazllm.placeholders import PERSON, PLACEHOLDERS


def test_every_placeholder_is_a_distinct_upper_case_tag_without_digits():
    """No digits, so no placeholder can look like an identifier and be masked again."""
    tags = [*PLACEHOLDERS.values(), PERSON]
    assert all(re.fullmatch(r"<[A-Z_]+>", tag) for tag in tags)
    assert len(set(tags)) == len(tags)


def test_masking_writes_these_placeholders_and_leaves_them_alone():
    from data_prep.deidentify import deidentify
    from data_prep.pii import mask_pii

    masked, counts = deidentify("Серікбаев Нұрлан Әбілұлы, ЖСН 880512300124", "full")
    assert masked == f"{PERSON}, ЖСН {PLACEHOLDERS['iin']}" and counts == {"iin": 1, "person": 1}
    text = " ".join([*PLACEHOLDERS.values(), PERSON])
    assert mask_pii(text) == (text, {})
