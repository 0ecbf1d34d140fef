"""De-personalisation with a policy: the one place that decides what of a text is masked.

    deidentify("Серікбаев Нұрлан Әбілұлы, ЖСН 880512300124", "full")
        -> ("<PERSON>, ЖСН <IIN>", {"iin": 1, "person": 1})

Policies (`prep.inputs[].pii.policy` in a run config, `kazllm pii --policy` for the line tool):

    none         the text is left as it is.
    identifiers  the identifiers that data_prep/pii.py finds (IIN, BIN, phones, e-mails, IBANs, cards, IPs and
                 the other kinds its docstring lists) -> their typed placeholders (kazllm/placeholders.py);
                 person names are kept. The default, meant for web text, where most names are public figures.
    full         identifiers as above, and person names (data_prep/pii_names.py) -> `<PERSON>`, or with
                 pseudonymise a fake name. Recommended for state-body sources (court decisions, orders,
                 registers), which name private people.

Rules:
- Identifiers win: a name span that overlaps an identifier span is dropped (the identifier's placeholder
  covers it), so a placeholder never lands inside another one and no text is replaced twice.
- Pseudonyms: one `Pseudonymiser(seed, document_key, lang=...)` (data_prep/pii_pseudonym.py) per
  document, so every mention of a person in a document gets the same fake, and the same seed and document
  id (prep: the document id; the document's language settles spellings) always give the same fakes.
  Counts are the same as with `<PERSON>` (kind `person`).
- Allow-list: names a source keeps as written (historical figures in literature), from the config and from
  files of one name per line; resolved once per source (`Deidentifier.for_source`), not per document.

Counts per kind (`{"iin": 1, "person": 2}`, only kinds seen) are what the pipeline writes to a document's
`metadata["pii"]` and sums per source into stats.json and the datasheet.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from data_prep.pii import find_pii
from kazllm.config import PII_POLICIES, InputSource, PrepSection, resolve_path
from kazllm.errors import InputError
from kazllm.placeholders import PERSON, PLACEHOLDERS

POLICIES = PII_POLICIES  # ("full", "identifiers", "none"), strictest first; defined beside the config field
PERSON_KIND = "person"
Span = tuple[int, int, str]


def _pii_names():
    from data_prep import pii_names  # the name tagger loads its model on first use, only for policy full

    return pii_names


def _pseudonymiser_class():
    from data_prep.pii_pseudonym import Pseudonymiser

    return Pseudonymiser


def read_allow_list(names: Iterable[str] = (), files: Iterable[str | Path] = ()) -> tuple[str, ...]:
    """The names of an allow-list: `names` as given, then every file's lines (blank lines and text after #
    skipped). A missing file is an InputError naming it."""
    out = [n.strip() for n in names if n.strip()]
    for f in files:
        path = resolve_path(f)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise InputError(
                f"allow-list file {f} cannot be read ({type(e).__name__}: {e.strerror or e})"
            ) from None
        out += [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return tuple(n for n in out if n)


def drop_overlapping(identifiers: list[Span], names: list[Span]) -> list[Span]:
    """Both span lists merged, sorted; a name overlapping an identifier is dropped (identifiers win).
    Each list is sorted and non-overlapping in itself, as find_pii and find_names return them."""
    if not identifiers:
        return list(names)
    if not names:
        return list(identifiers)
    starts = [s for s, _, _ in identifiers]
    kept = []
    for start, end, kind in names:
        i = bisect.bisect_left(starts, end)  # identifiers starting at or after the name's end cannot overlap
        if i > 0 and identifiers[i - 1][1] > start:
            continue  # the last identifier starting before the name's end reaches into it
        kept.append((start, end, kind))
    return sorted([*identifiers, *kept])


def render(
    text: str, spans: list[Span], person: Callable[[str], str] | None = None
) -> tuple[str, dict[str, int]]:
    """`text` with each span replaced: identifiers by PLACEHOLDERS[kind], person spans by `person(surface)`
    (default `<PERSON>`); returns the new text and counts per kind (only kinds seen)."""
    if not spans:
        return text, {}
    counts: dict[str, int] = {}
    parts, last = [], 0
    for start, end, kind in spans:
        if kind == PERSON_KIND:
            replacement = person(text[start:end]) if person else PERSON
        else:
            replacement = PLACEHOLDERS[kind]
        parts += [text[last:start], replacement]
        last = end
        counts[kind] = counts.get(kind, 0) + 1
    parts.append(text[last:])
    return "".join(parts), counts


@dataclass(frozen=True)
class Deidentifier:
    """A policy with its settings, ready to apply to many documents:
    `d(text, document_key) -> (text, counts)`.

    `allow` holds the allow-list in the tagger's key form (`pii_names.allow_keys`); build one from plain
    names with `Deidentifier.create(..., allow=[...], allow_files=[...])` or from a config source with
    `for_source`."""

    policy: str = "identifiers"
    pseudonymise: bool = False
    seed: int = 0
    allow: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}; got {self.policy!r}")

    @classmethod
    def create(
        cls,
        policy: str = "identifiers",
        *,
        pseudonymise: bool = False,
        seed: int = 0,
        allow: Iterable[str] = (),
        allow_files: Iterable[str | Path] = (),
    ) -> Deidentifier:
        allow = [allow] if isinstance(allow, str) else list(allow)
        allow_files = [allow_files] if isinstance(allow_files, (str, Path)) else list(allow_files)
        if policy != "full" and (pseudonymise or allow or allow_files):
            raise ValueError(
                f"pseudonymise and allow-lists apply to person names, which only policy full masks; "
                f"got policy {policy!r}"
            )
        names = read_allow_list(allow, allow_files)
        keys = _pii_names().allow_keys(names) if names else frozenset()
        return cls(policy, pseudonymise, seed, keys)

    @classmethod
    def for_source(cls, source: InputSource, enabled: bool = True) -> Deidentifier:
        """The source's `pii` settings; `enabled=False` (prep.mask_pii: false) gives policy none."""
        p = source.pii
        if not enabled:
            return cls("none")
        return cls.create(
            p.policy, pseudonymise=p.pseudonymise, seed=p.seed, allow=p.allow, allow_files=p.allow_files
        )

    def spans(self, text: str) -> list[Span]:
        """What the policy replaces in `text`: sorted, non-overlapping (start, end, kind) spans."""
        if self.policy == "none":
            return []
        identifiers = find_pii(text)
        if self.policy != "full":
            return identifiers
        return drop_overlapping(identifiers, _pii_names().find_names(text, allow=self.allow))

    def __call__(
        self, text: str, document_key: str = "", pseudonymiser=None, language: str | None = None
    ) -> tuple[str, dict[str, int]]:
        """`text` de-personalised, and counts per kind. With pseudonymise, names are replaced through
        `pseudonymiser` when given (to share fakes across several texts, e.g. the lines of one file), else
        through a new Pseudonymiser(seed, document_key); `language` (the document's, e.g. "kk") settles the
        spelling of fakes for names that show none themselves."""
        spans = self.spans(text)
        person = None
        if self.pseudonymise and any(kind == PERSON_KIND for _, _, kind in spans):
            person = (pseudonymiser or self.new_pseudonymiser(document_key, language)).replace
        return render(text, spans, person)

    def new_pseudonymiser(self, document_key: str, language: str | None = None):
        return _pseudonymiser_class()(self.seed, document_key, lang=language)


def deidentify(
    text: str,
    policy: str,
    *,
    pseudonymise: bool = False,
    seed: int = 0,
    document_key: str = "",
    allow: Iterable[str] = frozenset(),
    language: str | None = None,
) -> tuple[str, dict[str, int]]:
    """`text` under `policy` (full, identifiers or none) and counts per kind; `allow`: names kept as written.
    For many documents build one `Deidentifier` instead (the allow-list is then resolved once)."""
    d = Deidentifier.create(policy, pseudonymise=pseudonymise, seed=seed, allow=allow)
    return d(text, document_key, language=language)


# ---------------------------------------------------------------------------------------------------
# Sources: which settings a document gets, from the name it carries (metadata["source"])
# ---------------------------------------------------------------------------------------------------


def inputs_by_source_name(prep: PrepSection) -> dict[str, InputSource]:
    """The input each source name comes from (`name`, or the file stem of each file of an unnamed input:
    what SourceReader writes to metadata["source"]). One name reached from inputs with different pii
    settings is an InputError: its documents could not be told apart."""
    from data_prep.readers import list_source_files
    from data_prep.source_io import file_stem

    out: dict[str, InputSource] = {}
    where: dict[str, int] = {}
    for i, src in enumerate(prep.inputs):
        names = {src.name} if src.name else {file_stem(f) for f in list_source_files(src)}
        for name in sorted(names):
            if name not in out:
                out[name], where[name] = src, i
            elif prep.mask_pii and out[name].pii != src.pii:
                raise InputError(
                    f"source name {name!r} comes from prep.inputs[{where[name]}] and prep.inputs[{i}] "
                    "with different pii settings: give the inputs distinct names"
                )
    return out


def source_policies(prep: PrepSection) -> dict[str, str]:
    """Source name (as documents carry it) -> the policy its documents get."""
    return {name: prep.pii_policy(src) for name, src in inputs_by_source_name(prep).items()}


def strictest(policies: Iterable[str]) -> str:
    present = set(policies)
    return next((p for p in POLICIES if p in present), "identifiers")


@dataclass
class SourceDeidentifiers:
    """One Deidentifier per input (allow-list files read once), looked up by a document's source name. A
    name no input gives (never the case for documents SourceReader read) gets the strictest settings."""

    by_name: dict[str, Deidentifier]
    fallback: Deidentifier

    @classmethod
    def from_prep(cls, prep: PrepSection) -> SourceDeidentifiers:
        per_input: dict[int, Deidentifier] = {}
        by_name = {}
        for name, src in inputs_by_source_name(prep).items():
            key = id(src)
            if key not in per_input:
                per_input[key] = Deidentifier.for_source(src, prep.mask_pii)
            by_name[name] = per_input[key]
        chosen = strictest(d.policy for d in per_input.values())
        fallback = next((d for d in per_input.values() if d.policy == chosen), Deidentifier())
        return cls(by_name, fallback)

    def get(self, source_name: str) -> Deidentifier:
        return self.by_name.get(source_name, self.fallback)

    @property
    def any_masking(self) -> bool:
        return any(d.policy != "none" for d in (*self.by_name.values(), self.fallback))
