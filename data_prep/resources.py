"""Files data_prep reads at run time, shipped as package data next to its modules (pyproject.toml).

    from data_prep.resources import ASSETS, NAMES_DIR
    ASSETS / "langid_model.json.gz"     # the character n-gram language ID model
    NAMES_DIR / "kk_given_male.txt"     # a name list of the PII name tagger

The one place that knows where data_prep/assets/ is, so that a wheel and a checkout read the same files
(kazllm/resources.py is the same for kazllm's own assets).
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
NAMES_DIR = ASSETS / "names"
"""Name lists (given names, surnames, patronymics) of the PII name tagger and the pseudonymiser."""
