"""De-personalisation with a policy per source (data_prep/deidentify.py): what each policy masks, the
overlap rule, pseudonyms, allow-lists, the config section, a real prep run with sources under different
policies (stats.json, datasheet) and the `kazllm pii` line tool.

Names in full-policy cases are obvious full names after a lower-case word ("азамат Серікбаев Нұрлан
Әбілұлы"); the mechanics (overlap, pseudonym plumbing) are tested with a stub name finder, so they do not
depend on the name tagger's quality."""

import json
import re

import pytest

from data_prep import pii_names
from data_prep.deidentify import (
    POLICIES,
    Deidentifier,
    deidentify,
    drop_overlapping,
    inputs_by_source_name,
    read_allow_list,
)
from data_prep.pipeline import run_prep
from kazllm.cli import main
from kazllm.config import load_config
from kazllm.errors import ConfigError, InputError

from .conftest import run_kazllm

PERSON_KZ = "Серікбаев Нұрлан Әбілұлы"
PERSON_RU = "Иванов Иван Петрович"
IIN = "880512300124"  # checksum-valid, born 1988-05-12
TEXT = (
    f"Хатты азамат {PERSON_KZ} жіберді, оның ЖСН {IIN}, тел. +7 701 123 45 67; жауапкер {PERSON_RU} келмеді."
)
MASKED_IDS = "Хатты азамат {0} жіберді, оның ЖСН <IIN>, тел. <PHONE>; жауапкер {1} келмеді."


# --- what each policy masks -----------------------------------------------------------------------------
def test_policy_none_leaves_the_text_as_it_is():
    assert deidentify(TEXT, "none") == (TEXT, {})


def test_policy_identifiers_masks_identifiers_and_keeps_names():
    assert deidentify(TEXT, "identifiers") == (
        MASKED_IDS.format(PERSON_KZ, PERSON_RU),
        {"iin": 1, "phone": 1},
    )


def test_policy_full_masks_names_and_identifiers():
    text, counts = deidentify(TEXT, "full")
    assert text == MASKED_IDS.format("<PERSON>", "<PERSON>")
    assert counts == {"iin": 1, "phone": 1, "person": 2}


def test_an_unknown_policy_is_refused():
    assert POLICIES == ("full", "identifiers", "none")
    with pytest.raises(ValueError, match="policy must be one of full, identifiers, none; got 'ful'"):
        deidentify(TEXT, "ful")
    with pytest.raises(ValueError, match="only policy full masks"):
        deidentify(TEXT, "identifiers", pseudonymise=True)


# --- identifiers win over names -------------------------------------------------------------------------
def test_a_name_overlapping_an_identifier_is_dropped():
    identifiers = [(10, 22, "iin"), (40, 50, "email")]
    names = [(0, 5, "person"), (8, 12, "person"), (20, 30, "person"), (22, 25, "person"), (45, 60, "person")]
    # touching is not overlapping: (22, 25) starts where the IIN ends
    assert drop_overlapping(identifiers, names) == [
        (0, 5, "person"),
        (10, 22, "iin"),
        (22, 25, "person"),
        (40, 50, "email"),
    ]


def test_identifiers_win_when_the_tagger_takes_an_email_for_a_name(monkeypatch):
    text = "Жазыңыз: aigerim.s@mail.kz, хабарласыңыз."
    start = text.index("aigerim")
    monkeypatch.setattr(pii_names, "find_names", lambda t, allow=frozenset(): [(start, start + 7, "person")])
    assert deidentify(text, "full") == ("Жазыңыз: <EMAIL>, хабарласыңыз.", {"email": 1})


# --- pseudonyms -----------------------------------------------------------------------------------------
def _stub_names(monkeypatch, *surfaces):
    def find(text, allow=frozenset()):
        spans = [(m.start(), m.end(), "person") for s in surfaces for m in re.finditer(re.escape(s), text)]
        return sorted(spans)

    monkeypatch.setattr(pii_names, "find_names", find)


def test_pseudonyms_are_consistent_within_a_document(monkeypatch):
    _stub_names(monkeypatch, "Нұрлан", "Айгерім")
    text = "Нұрлан келді. Айгерім келді. Нұрлан кетті."
    out, counts = deidentify(text, "full", pseudonymise=True, seed=3, document_key="doc-1")
    first, second, third = re.fullmatch(r"(.+) келді\. (.+) келді\. (.+) кетті\.", out).groups()
    assert first == third and "<PERSON>" not in out and counts == {"person": 3}


def test_pseudonyms_are_fixed_by_seed_and_document_id(monkeypatch):
    d = Deidentifier.create("full", pseudonymise=True, seed=11)
    text = f"Хатты азамат {PERSON_KZ} жіберді, ал кейін азамат {PERSON_KZ} қайта келді."
    out, counts = d(text, "gov:42")
    assert (
        out
        == d(text, "gov:42")[0]
        == deidentify(text, "full", pseudonymise=True, seed=11, document_key="gov:42")[0]
    )
    assert PERSON_KZ not in out and "<PERSON>" not in out and counts == {"person": 2}
    fake = re.fullmatch(r"Хатты азамат (.+) жіберді, ал кейін азамат (.+) қайта келді\.", out).groups()
    assert fake[0] == fake[1]
    # the seed (and the document) choose the fakes: ten seeds do not all give the same one
    _stub_names(monkeypatch, "Бекболат")
    assert (
        len(
            {
                deidentify("Бекболат келді.", "full", pseudonymise=True, seed=s, document_key="x")[0]
                for s in range(10)
            }
        )
        > 1
    )


# --- allow-lists ----------------------------------------------------------------------------------------
LITERATURE = f"Бұл өлеңді ақын Абай Құнанбайұлы жазған, ал хатты азамат {PERSON_KZ} жіберді."


def test_an_allow_list_keeps_its_names_and_masks_the_rest():
    assert deidentify(LITERATURE, "full")[1] == {"person": 2}
    assert deidentify(LITERATURE, "full", allow=["Абай Құнанбайұлы"]) == (
        "Бұл өлеңді ақын Абай Құнанбайұлы жазған, ал хатты азамат <PERSON> жіберді.",
        {"person": 1},
    )


def test_an_allow_list_file_has_one_name_per_line(tmp_path):
    f = tmp_path / "allow.txt"
    f.write_text(
        "# historical figures\nАбай Құнанбайұлы\n\n  Шоқан Уәлиханов  # traveller\n", encoding="utf-8"
    )
    assert read_allow_list(["Мұхтар Әуезов"], [f]) == ("Мұхтар Әуезов", "Абай Құнанбайұлы", "Шоқан Уәлиханов")
    d = Deidentifier.create("full", allow_files=[f])
    assert d(LITERATURE)[0] == "Бұл өлеңді ақын Абай Құнанбайұлы жазған, ал хатты азамат <PERSON> жіберді."
    with pytest.raises(InputError, match="allow-list file .*missing.txt cannot be read"):
        Deidentifier.create("full", allow_files=[tmp_path / "missing.txt"])


# --- the config section ---------------------------------------------------------------------------------
def _yaml(tmp_path, inputs: str, *overrides):
    path = tmp_path / "run.yaml"
    path.write_text(f"run: {{out_dir: {tmp_path / 'run'}}}\nprep:\n  inputs:\n{inputs}", encoding="utf-8")
    return load_config(path, list(overrides))


def test_pii_settings_per_input_load_from_yaml(tmp_path):
    cfg = _yaml(
        tmp_path,
        "    - {path: gov, name: gov, pii: {policy: full, pseudonymise: true, seed: 7, allow: [Абай]}}\n"
        "    - {path: web, name: web}\n",
    )
    gov, web = cfg.prep.inputs
    assert (gov.pii.policy, gov.pii.pseudonymise, gov.pii.seed, gov.pii.allow) == ("full", True, 7, ["Абай"])
    assert web.pii.policy == "identifiers" and [cfg.prep.pii_policy(s) for s in cfg.prep.inputs] == [
        "full",
        "identifiers",
    ]
    off = _yaml(tmp_path, "    - {path: web, name: web}\n", "prep.mask_pii=false")
    assert off.prep.pii_policy(off.prep.inputs[0]) == "none"


@pytest.mark.parametrize(
    ("pii", "message"),
    [
        (
            "{policy: ful}",
            "invalid value under 'prep.inputs[0].pii': policy must be one of full, identifiers, none; "
            "got 'ful'",
        ),
        (
            "{polcy: full}",
            "unknown config key 'prep.inputs[0].pii.polcy' (did you mean 'prep.inputs[0].pii.policy'?)",
        ),
        (
            "{pseudonymise: true}",
            "pseudonymise only applies to person names, which only policy full masks; "
            "got policy 'identifiers'",
        ),
        (
            "{policy: none, allow: [Абай]}",
            "allow only applies to person names, which only policy full masks; got policy 'none'",
        ),
        ("{policy: full, seed: x}", "'prep.inputs[0].pii.seed' must be int"),
        ("full", "'prep.inputs[0].pii' must be a mapping of PiiSection fields"),
    ],
)
def test_bad_pii_settings_are_one_line_errors_naming_the_field(tmp_path, pii, message):
    with pytest.raises(ConfigError) as e:
        _yaml(tmp_path, f"    - {{path: gov, pii: {pii}}}\n")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_mask_pii_false_beside_a_full_policy_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"mask_pii is false .* but inputs\[0\].pii.policy is full"):
        _yaml(tmp_path, "    - {path: gov, pii: {policy: full}}\n", "prep.mask_pii=false")


def test_one_source_name_with_two_policies_is_an_error(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.jsonl").write_text('{"text": "x"}\n', encoding="utf-8")
    cfg = _yaml(
        tmp_path,
        f"    - {{path: {tmp_path / 'a.jsonl'}, name: same, pii: {{policy: full}}}}\n"
        f"    - {{path: {tmp_path / 'b.jsonl'}, name: same}}\n",
    )
    with pytest.raises(
        InputError, match=r"source name 'same' comes from prep.inputs\[0\] and prep.inputs\[1\]"
    ):
        inputs_by_source_name(cfg.prep)


# --- a real prep run: three sources, three settings -----------------------------------------------------
GOV = (
    "Қала әкімдігі жаңа мектеп салу туралы шешім қабылдады. Құрылыс жұмыстары көктемде басталып, күзде "
    f"аяқталады. Өтінішті азамат {PERSON_KZ} жіберді, оның ЖСН {IIN}. Жоба бойынша ұсыныстар қабылданады."
)
WEB = (
    "Наурыз мейрамы көктемнің келуін білдіреді. Бұл күні адамдар наурыз көже әзірлеп, бір-біріне жақсы тілек "
    f"айтады. Мерекені ұйымдастырған азамат {PERSON_RU}, байланыс тел. +7 701 123 45 67. "
    "Ауылдар мен қалаларда ойын-сауық және ұлттық ойындар өтеді."
)
LIT = (
    "Бұл домбыра — қазақтың екі ішекті музыкалық аспабы. Күйшілер домбырамен халықтың тарихын, қуанышы мен "
    f"қайғысын жеткізген. Бұл өлеңді ақын Абай Құнанбайұлы жазған, ал хатты азамат {PERSON_KZ} жіберді."
)


def test_prep_applies_each_sources_policy_and_reports_it(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name, text in (("gov", GOV), ("web", WEB), ("lit", LIT)):
        (src / f"{name}.jsonl").write_text(
            json.dumps({"id": f"{name}-1", "text": text}, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    allow = tmp_path / "allow.txt"
    allow.write_text("Абай Құнанбайұлы\n", encoding="utf-8")
    config = tmp_path / "run.yaml"
    config.write_text(
        f"""run: {{out_dir: {tmp_path / "run"}}}
prep:
  inputs:
    - {{path: {src / "gov.jsonl"}, name: gov, licence: CC0-1.0, pii: {{policy: full}}}}
    - {{path: {src / "web.jsonl"}, name: web, licence: CC0-1.0}}
    - {{path: {src / "lit.jsonl"}, name: lit, licence: CC0-1.0,
        pii: {{policy: full, pseudonymise: true, seed: 7, allow_files: [{allow}]}}}}
  quality: {{min_words: 10, min_alpha_word_ratio: 0.5}}
""",
        encoding="utf-8",
    )
    result = run_kazllm("prep", "--config", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    prep_dir = tmp_path / "run" / "prep"
    kept = {
        json.loads(line)["metadata"]["source"]: json.loads(line)
        for f in (prep_dir / "kept").glob("*.jsonl")
        for line in f.open(encoding="utf-8")
    }
    assert set(kept) == {"gov", "web", "lit"}
    assert kept["gov"]["text"] == GOV.replace(PERSON_KZ, "<PERSON>").replace(IIN, "<IIN>")
    assert kept["web"]["text"] == WEB.replace(
        "+7 701 123 45 67", "<PHONE>"
    )  # the name stays under identifiers
    lit = kept["lit"]["text"]
    assert "Абай Құнанбайұлы" in lit and PERSON_KZ not in lit and "<PERSON>" not in lit  # allowed; pseudonym
    expected = Deidentifier.create("full", pseudonymise=True, seed=7, allow=["Абай Құнанбайұлы"])(
        LIT, "lit-1", language="kk"
    )
    assert lit == expected[0]  # the pseudonyms are seeded by the document id (spelt for its language)
    assert [kept[s]["metadata"]["pii"] for s in ("gov", "web", "lit")] == [
        {"iin": 1, "person": 1},
        {"phone": 1},
        {"person": 1},
    ]

    stats = json.loads((prep_dir / "stats.json").read_text(encoding="utf-8"))
    assert stats["pii_masked"] == {"iin": 1, "person": 2, "phone": 1}
    assert {s: (row["pii_policy"], row["pii_masked"]) for s, row in stats["by_source"].items()} == {
        "gov": ("full", {"iin": 1, "person": 1}),
        "web": ("identifiers", {"phone": 1}),
        "lit": ("full", {"person": 1}),
    }

    sheet = json.loads((prep_dir / "datasheet.json").read_text(encoding="utf-8"))
    assert [
        (s["name"], s["pii"]["policy"], s["pii"]["pseudonymise"], s["pii"]["allow_list_names"])
        for s in sheet["sources"]
    ] == [("gov", "full", False, 0), ("web", "identifiers", False, 0), ("lit", "full", True, 1)]
    assert sheet["pii_masked_by_source"]["gov"] == {"policy": "full", "masked": {"iin": 1, "person": 1}}
    md = (prep_dir / "datasheet.md").read_text(encoding="utf-8")
    assert "| source | format | licence | PII policy | path |" in md
    assert "| gov | jsonl | CC0-1.0 | full |" in md and "| web | jsonl | CC0-1.0 | identifiers |" in md
    assert "| lit | jsonl | CC0-1.0 | full (pseudonyms; 1 name allowed) |" in md
    assert "| gov | full | iin: 1, person: 1 |" in md and "| web | identifiers | phone: 1 |" in md

    # an edited allow-list is a new config: the rerun starts afresh and now masks Абай too
    allow.write_text("# nobody\n", encoding="utf-8")
    run_prep(load_config(config))
    lit = next(
        json.loads(line)
        for f in (prep_dir / "kept").glob("*.jsonl")
        for line in f.open(encoding="utf-8")
        if json.loads(line)["metadata"]["source"] == "lit"
    )
    assert "Абай Құнанбайұлы" not in lit["text"] and lit["metadata"]["pii"] == {"person": 2}


def test_a_missing_allow_list_file_stops_prep_before_any_work(tmp_path):
    (tmp_path / "gov.jsonl").write_text(
        json.dumps({"text": GOV}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    cfg = _yaml(
        tmp_path,
        f"    - {{path: {tmp_path / 'gov.jsonl'}, "
        f"pii: {{policy: full, allow_files: [{tmp_path / 'no.txt'}]}}}}\n",
    )
    with pytest.raises(InputError, match="allow-list file .*no.txt cannot be read"):
        run_prep(cfg)
    assert not (tmp_path / "run" / "prep" / "kept").exists()


# --- the model card names the policy per source ---------------------------------------------------------
def test_the_model_card_names_each_sources_policy(tmp_path):
    from kazllm.model_card import _pii_line, render_use

    cfg = _yaml(
        tmp_path,
        "    - {path: gov, name: gov, pii: {policy: full, pseudonymise: true}}\n"
        "    - {path: web, name: web}\n",
    )
    line = _pii_line(cfg.prep, {"pii_masked": {"iin": 2, "person": 3}})
    assert "gov full with pseudonyms, web identifiers" in line and "<IIN>" in line and "<PERSON>" in line
    assert "iin 2, person 3" in line and "Sources under policy identifiers keep their names" in line
    assert "in sources under policy full, person names" in render_use(cfg.prep, 10**9, 1, ["kk"])
    off = _yaml(tmp_path, "    - {path: web, name: web}\n", "prep.mask_pii=false")
    assert "off (policy none for every source)" in _pii_line(off.prep, {})
    assert "Personal data was not masked" in render_use(off.prep, 10**9, 1, ["kk"])


# --- the line tool --------------------------------------------------------------------------------------
def _pii_tool(capsys, *args):
    main(["pii", *args])
    return capsys.readouterr().out.splitlines()


def test_the_line_tool_masks_identifiers_by_default_and_names_with_policy_full(tmp_path, capsys):
    f = tmp_path / "in.txt"
    f.write_text(f"{TEXT}\n\n{LITERATURE}\n", encoding="utf-8")
    assert _pii_tool(capsys, str(f)) == [MASKED_IDS.format(PERSON_KZ, PERSON_RU), "", LITERATURE]
    assert _pii_tool(capsys, "--policy", "full", "--allow", "Абай Құнанбайұлы", str(f)) == [
        MASKED_IDS.format("<PERSON>", "<PERSON>"),
        "",
        "Бұл өлеңді ақын Абай Құнанбайұлы жазған, ал хатты азамат <PERSON> жіберді.",
    ]


def test_the_line_tool_keeps_a_pseudonym_across_the_lines_of_a_file(tmp_path, capsys):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(f"Хатты азамат {PERSON_KZ} жіберді.\nЖауапты азамат {PERSON_KZ} берді.\n", encoding="utf-8")
    b.write_text("тел. +7 701 123 45 67\n", encoding="utf-8")
    out = _pii_tool(capsys, "--policy", "full", "--pseudonymise", "--seed", "5", str(a), str(b))
    assert len(out) == 3 and out[2] == "тел. <PHONE>"  # line-aligned, the files in turn
    first = re.fullmatch(r"Хатты азамат (.+) жіберді\.", out[0]).group(1)
    second = re.fullmatch(r"Жауапты азамат (.+) берді\.", out[1]).group(1)
    assert first == second and PERSON_KZ not in first and first != "<PERSON>"
    assert _pii_tool(capsys, "--policy", "full", "--pseudonymise", "--seed", "5", str(a), str(b)) == out


def test_line_tool_name_options_need_policy_full():
    result = run_kazllm("pii", "--pseudonymise")
    assert result.returncode == 2 and "use them with --policy full" in result.stderr
    result = run_kazllm("pii", "--policy", "full", "--allow-file", "no/such/names.txt")
    assert result.returncode == 2 and "allow-list file no/such/names.txt cannot be read" in result.stderr
