"""The placeholders de-personalisation writes into the text, one source for the masking and the cards.

    from kazllm.placeholders import PERSON, PLACEHOLDERS
    PLACEHOLDERS["iin"]   # "<IIN>": what data_prep.pii.mask_pii puts where it found an IIN
    PERSON                # "<PERSON>": what data_prep.deidentify puts for a person name (policy full)

They live in kazllm core rather than data_prep because the model card (kazllm/model_card.py) and the
dataset card (kazllm/push.py) name them too, and kazllm core does not import data_prep. What each kind
matches is described in data_prep/pii.py (identifiers) and data_prep/pii_names.py (person names).
"""

from __future__ import annotations

PLACEHOLDERS = {
    "email": "<EMAIL>",
    "iban": "<IBAN>",
    "card": "<CARD>",
    "iin": "<IIN>",
    "bin": "<BIN>",
    "document": "<DOCUMENT>",
    "plate": "<PLATE>",
    "address": "<HOUSE>",
    "dob": "<DATE_OF_BIRTH>",
    "ip": "<IP>",
    "phone": "<PHONE>",
}
"""Identifier kind (the count key in stats.json) -> the placeholder that replaces it."""

PERSON = "<PERSON>"
"""The placeholder of a person name (count key `person`), unless pseudonyms replace names."""
