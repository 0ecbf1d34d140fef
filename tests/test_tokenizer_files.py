"""kazllm.tokenizer_files: where a tokenizer directory keeps its Hugging Face files and embedding_init.json,
the one definition that `tokenizer extend` writes and `model extend` and training read."""

import pytest

from kazllm.errors import InputError
from kazllm.tokenizer_files import (
    EMBEDDING_INIT,
    parse_embedding_init,
    read_embedding_init,
    resolve_hf_dir,
    write_embedding_init,
)


def test_a_kazllm_tokenizer_directory_is_found_through_its_hf_folder(tmp_path):
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "tokenizer.json").write_text("{}")
    assert resolve_hf_dir(tmp_path) == tmp_path / "hf" and resolve_hf_dir(tmp_path / "hf") == tmp_path / "hf"
    with pytest.raises(InputError, match="no tokenizer.json"):
        resolve_hf_dir(tmp_path / "elsewhere")


def test_embedding_init_round_trips_with_integer_ids(tmp_path):
    write_embedding_init(tmp_path, 5, 8, {5: [1, 2], 6: [3], 7: [0, 4]}, {"name": "base"})
    init = read_embedding_init(tmp_path)
    assert parse_embedding_init(init) == (5, 8, {5: [1, 2], 6: [3], 7: [0, 4]})
    assert (tmp_path / EMBEDDING_INIT).is_file() and init["base"] == {"name": "base"}


@pytest.mark.parametrize(
    ("init", "message"),
    [
        ({"vocab_size": 8, "new": {}}, "missing field 'base_vocab_size'"),
        ({"base_vocab_size": 9, "vocab_size": 8, "new": {}}, "must be >= base_vocab_size"),
        ({"base_vocab_size": 5, "vocab_size": 8, "new": {"4": [1]}}, "outside the extension's ids"),
        ({"base_vocab_size": 5, "vocab_size": 8, "new": {"6": [5]}}, "source ids must be base ids"),
        ({"base_vocab_size": 5, "vocab_size": 8, "new": {"6": []}}, "source ids must be base ids"),
    ],
)
def test_an_embedding_init_that_would_read_a_new_or_missing_row_is_refused(init, message):
    with pytest.raises(InputError, match=message):
        parse_embedding_init(init)


def test_a_directory_without_embedding_init_says_what_makes_one(tmp_path):
    with pytest.raises(InputError, match="tokenizer extend"):
        read_embedding_init(tmp_path)
