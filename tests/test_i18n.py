"""Bahasa Indonesia end to end: the tables and gettext catalogues, errors told in either
language, click's own words, the help texts, and every command following the locale
(``LANG=id_ID.UTF-8``)."""

from __future__ import annotations

import ast
import errno
import gettext
import io
import json
import re
import socket
import string
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

import smtpprobe
from smtpprobe.cli import cli, main
from smtpprobe.commands.probe import parse_host_port
from smtpprobe.errors import (
    Alternatives,
    ProbeConnectError,
    ResolveError,
    SMTPProbeError,
    UnknownCodeError,
    UsageError,
)
from smtpprobe.i18n import (
    LOCALE_DIR,
    METAVAR_WORDS,
    Option,
    lang_from_argv,
    lang_from_env,
    using,
)
from smtpprobe.kb import LANGUAGES, load
from smtpprobe.recorder import REDACTED, scrub_error
from smtpprobe.redact import Redactor
from smtpprobe.validate import check_token
from smtpprobe.views.errors import localized
from smtpprobe.views.explanation import explain_argument
from tests.conftest import ServerAddress
from tests.test_kb import _strings, english_words

PACKAGE = Path(smtpprobe.__file__).parent
DATA = PACKAGE / "kb" / "data"
LOCALE = Path(LOCALE_DIR)
DOMAINS = ("click", "smtpprobe")
TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]
EN, ID = load("en"), load("id")
# Words that only the English interface prints, and their Indonesian counterparts.
ENGLISH_HELP = ("Usage:", "Options:", "Commands:", "Show this message and exit.")
INDONESIAN_HELP = ("Penggunaan:", "Opsi:", "Tampilkan pesan ini lalu keluar.")


def _toml(relative: str) -> dict[str, Any]:
    with (DATA / relative).open("rb") as handle:
        return tomllib.load(handle)


def _fields(template: str) -> set[str]:
    """The ``{placeholders}`` of a str.format template (and ``%(name)s`` ones)."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return names | set(re.findall(r"%\((\w+)\)", template))


@pytest.fixture
def indonesian(monkeypatch: pytest.MonkeyPatch) -> None:
    """The locale of an Indonesian administrator: LANG only, nothing overriding it."""
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "id_ID.UTF-8")
    monkeypatch.setenv("NO_COLOR", "1")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the tables ------------------------------------------------------------------------------


def test_error_tables_have_the_same_keys_and_placeholders() -> None:
    en, id_ = _toml("en/ui_errors.toml"), _toml("id/ui_errors.toml")
    assert sorted(en.keys() ^ id_.keys()) == []
    mismatched = {
        key: (_fields(en[key]), _fields(id_[key]))
        for key in en
        if _fields(id_[key]) != _fields(en[key])
    }
    assert mismatched == {}


def test_indonesian_error_table_is_whole_and_indonesian() -> None:
    found = {
        path: words
        for path, text in _strings(_toml("id/ui_errors.toml"))
        if not text.strip() or (words := english_words(text))
    }
    assert found == {}


def test_every_ui_file_has_an_indonesian_twin() -> None:
    """test_kb checks keys and English words of every ui file; this one checks it sees them."""
    en = sorted(p.name for p in (DATA / "en").glob("ui*.toml"))
    assert "ui_errors.toml" in en
    assert en == sorted(p.name for p in (DATA / "id").glob("ui*.toml"))


# -- the gettext catalogues ------------------------------------------------------------------


def _po(lang: str, domain: str) -> Catalog:
    with (LOCALE / lang / "LC_MESSAGES" / f"{domain}.po").open("rb") as handle:
        return read_po(handle, locale=lang, domain=domain)


def _entries(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """msgid -> its msgstr forms (one, or one per plural form), header left out."""
    found = {}
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid in ids:
            found[msgid] = tuple(strings)
    return found


def _english_fields(msgid: str) -> set[str]:
    """Fields click fills with English words ("File", "integer"): id words it without."""
    if msgid.startswith("{name} {filename!r}"):
        return {"name"}
    return {"number_type"} if "{number_type}" in msgid else set()


def test_every_language_has_its_catalogues() -> None:
    """A language is a folder of kb/data; its gettext catalogues come with it."""
    assert TRANSLATED
    for lang in TRANSLATED:
        for domain in DOMAINS:
            assert (LOCALE / lang / "LC_MESSAGES" / f"{domain}.po").is_file()
    assert sorted(p.name for p in LOCALE.iterdir()) == TRANSLATED


@pytest.mark.parametrize("lang", TRANSLATED)
@pytest.mark.parametrize("domain", DOMAINS)
def test_compiled_catalogue_is_up_to_date(lang: str, domain: str) -> None:
    """The shipped .mo says what its .po says (compiled here as scripts/catalogs does)."""
    fresh = io.BytesIO()
    write_mo(fresh, _po(lang, domain))
    fresh.seek(0)
    shipped = LOCALE / lang / "LC_MESSAGES" / f"{domain}.mo"
    with shipped.open("rb") as handle:
        assert gettext.GNUTranslations(handle)._catalog == (  # type: ignore[attr-defined]
            gettext.GNUTranslations(fresh)._catalog
        ), "run scripts/catalogs compile"  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", TRANSLATED)
@pytest.mark.parametrize("domain", DOMAINS)
def test_catalogues_are_whole_indonesian_and_keep_placeholders(lang: str, domain: str) -> None:
    problems = {}
    for message in _po(lang, domain):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid, msgstr in zip(ids, strings, strict=True):
            if message.fuzzy or not msgstr.strip():
                problems[msgid] = "untranslated"
            elif _fields(msgstr) != _fields(msgid) - _english_fields(msgid):
                problems[msgid] = f"placeholders {sorted(_fields(msgstr))}"
            elif msgid not in METAVAR_WORDS and (
                words := english_words(
                    re.sub(r"--[\w-]+|`[^`]*`|^ +smtpprobe .*$", " ", msgstr, flags=re.MULTILINE)
                )
            ):
                problems[msgid] = f"English words {words}"
    assert problems == {}


def _code_msgids() -> dict[str, str]:
    """Every msgid the code marks (``N_``, ``translate``), by Babel's extractor: msgid ->
    where it is."""
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE), keywords={"N_": None, "translate": None}
    ):
        found[str(message)] = f"{filename}:{lineno}"
    return found


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_msgid_in_the_code_has_a_translation(lang: str) -> None:
    code, catalogue = _code_msgids(), _entries(_po(lang, "smtpprobe"))
    assert len(code) > 100
    assert {
        msgid: where
        for msgid, where in code.items()
        if not "".join(catalogue.get(msgid, ())).strip()
    } == {}
    # and nothing stale: what the catalogue holds, the code still says
    assert sorted(catalogue.keys() - code.keys()) == []


def test_click_catalogue_holds_clicks_own_messages() -> None:
    """Every msgid of click.po is one click (this version) still says."""
    source = "".join(
        p.read_text(encoding="utf-8") for p in Path(click.__file__).parent.glob("*.py")
    )
    missing = [
        key
        for key in _entries(_po("id", "click"))
        if json.dumps(key) not in source and f'"{key}"' not in source
    ]
    assert missing == []


def _error_calls() -> Iterator[tuple[str, ast.Call]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                yield str(path.relative_to(PACKAGE)), node


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


@pytest.mark.slow
def test_every_error_key_in_the_code_has_entries_its_params_fill() -> None:
    """Each ``key="error_…"`` raise site: the entry exists in en and id, and its params
    (when written as a dict) fill every placeholder of the message and the hint."""
    en, id_ = _toml("en/ui_errors.toml"), _toml("id/ui_errors.toml")
    problems, seen = [], 0
    for where, call in _error_calls():
        key = _keyword(call, "key")
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            continue
        seen += 1
        name = key.value
        if name not in en or name not in id_:
            problems.append(f"{where}: {name} has no entry")
            continue
        wanted = _fields(en[name]) | _fields(en.get(name + "_hint", ""))
        params = _keyword(call, "params")
        given = (
            {k.value for k in params.keys if isinstance(k, ast.Constant)}
            if isinstance(params, ast.Dict)
            else set()
            if params is None
            else wanted
        )
        if wanted - given:
            problems.append(f"{where}: {name} lacks {sorted(wanted - given)}")
    assert problems == []
    assert seen >= 60


@pytest.mark.slow
def test_every_message_key_named_in_the_code_exists() -> None:
    """``text("error_…")`` and ``kb.ui("error_…")`` name entries that exist."""
    en = _toml("en/ui_errors.toml")
    named: set[str] = set()
    for _where, call in _error_calls():
        name = getattr(call.func, "attr", getattr(call.func, "id", ""))
        first = call.args[0] if call.args else None
        if (
            name in ("text", "ui")
            and isinstance(first, ast.Constant)
            and str(first.value).startswith("error_")
        ):
            named.add(str(first.value))
    assert len(named) >= 5
    assert sorted(named - en.keys()) == []


# -- errors in two languages -----------------------------------------------------------------


def _kinds(cls: type[SMTPProbeError]) -> set[str]:
    return {cls.kind}.union(*(_kinds(sub) for sub in cls.__subclasses__()))


def test_every_kind_of_error_has_a_label() -> None:
    en, id_ = _toml("en/ui_errors.toml"), _toml("id/ui_errors.toml")
    labels = {f"error_kind_{kind}" for kind in _kinds(SMTPProbeError)}
    assert labels == {key for key in en if key.startswith("error_kind_")}
    assert labels == {key for key in id_ if key.startswith("error_kind_")}


def test_an_error_is_worded_by_the_views_never_by_itself() -> None:
    """Exceptions carry a key and params: str() never loads the knowledge base."""
    exc = UsageError(key="error_port_range", params={"port": 0})
    assert exc.message == str(exc) == "error_port_range"
    assert exc.hint == ""
    assert localized(exc, EN) == ("port 0 is outside 1-65535", "")
    assert localized(exc, ID) == ("port 0 di luar rentang 1-65535", "")


def test_hint_comes_with_its_key() -> None:
    exc = UsageError(key="error_skip_and_only")
    assert localized(exc, EN)[1] == (
        "use --only to list the steps to run, or --skip to leave some out"
    )
    message, hint = localized(exc, ID)
    assert message == "--skip dan --only tidak dapat digabungkan"
    assert hint.startswith("pakai --only")


def test_error_without_key_stays_as_written() -> None:
    exc = ResolveError("mx.test does not resolve", hint="check it")
    assert localized(exc, ID) == ("mx.test does not resolve", "check it")


def test_nested_error_is_told_in_the_same_language() -> None:
    with pytest.raises(UnknownCodeError) as caught:
        explain_argument("hello", ID)
    assert localized(caught.value, EN)[0] == (
        "cannot read 'hello': line does not start with a three-digit reply code"
    )
    assert localized(caught.value, ID)[0] == (
        "'hello' tidak dapat dibaca: baris tidak diawali kode balasan tiga digit"
    )


def test_terms_are_translated_but_option_names_are_not() -> None:
    with pytest.raises(UsageError) as helo:
        check_token("HELO name", "")
    with pytest.raises(UsageError) as option:
        check_token("--user", "")
    assert (localized(helo.value, EN)[0], localized(helo.value, ID)[0]) == (
        "the HELO name is empty",
        "nama HELO kosong",
    )
    assert localized(option.value, ID)[0] == "--user kosong"


def test_alternatives_use_the_languages_or() -> None:
    exc = ResolveError(
        key="error_resolve_no_record",
        params={"name": "mx.test", "rdtypes": Alternatives(("A", "AAAA"))},
    )
    assert localized(exc, EN)[0] == "mx.test has no A or AAAA record"
    assert localized(exc, ID)[0] == "mx.test tidak punya rekaman A atau AAAA"


@pytest.mark.parametrize(
    ("reason", "english", "indonesian"),
    [
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
            "Connection refused",
            "koneksi ditolak",
        ),
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            "Name or service not known",
            "nama atau layanan tidak dikenal",
        ),
        (OSError(errno.EPROTO, "Protocol error"), "Protocol error", "Protocol error"),
    ],
)
def test_system_reasons(reason: OSError, english: str, indonesian: str) -> None:
    """By errno name in both languages (never Python's "Connect call failed (…)"); the C
    library's words where the tables have none."""
    exc = ProbeConnectError(
        key="error_connect_failed", params={"host": "mx.test", "port": 25, "reason": reason}
    )
    assert localized(exc, EN)[0] == f"cannot connect to mx.test port 25: {english}"
    assert localized(exc, ID)[0] == f"tidak dapat tersambung ke mx.test port 25: {indonesian}"


def test_target_errors_nest_with_their_reason() -> None:
    with pytest.raises(UsageError) as caught:
        parse_host_port("[::1")
    outer = UsageError(key="error_targets_line", params={"number": 3, "reason": caught.value})
    assert (
        localized(outer, EN)[0]
        == "--targets line 3: '[::1': write an IPv6 address as [2001:db8::1]:25"
    )
    assert localized(outer, ID)[0] == (
        "--targets baris 3: '[::1': tulis alamat IPv6 sebagai [2001:db8::1]:25"
    )


def test_scrubbed_error_leaks_no_secret_in_any_language() -> None:
    inner = SMTPProbeError(key="error_not_an_address", params={"option": "user", "value": "s3cret"})
    exc = SMTPProbeError(key="error_targets_line", params={"number": 1, "reason": inner})
    redactor = Redactor()
    redactor.add("s3cret")
    scrub_error(exc, redactor)
    for kb in (EN, ID):
        message = localized(exc, kb)[0]
        assert "s3cret" not in message and REDACTED in message


# -- choosing the language -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({"LANG": "id_ID.UTF-8"}, "id"),
        ({"LANG": "id_ID.UTF-8", "LC_ALL": "en_US.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "id_ID.UTF-8"}, "id"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "id_ID"}, "id"),
        ({"LANG": "id_ID.UTF-8", "LC_ALL": ""}, "id"),
        ({}, "en"),
    ],
)
def test_lang_from_env(environ: dict[str, str], lang: str) -> None:
    assert lang_from_env(environ) == lang


@pytest.mark.parametrize(
    ("argv", "lang"),
    [
        (["explain", "252", "--lang", "id"], "id"),
        (["explain", "--lang=en", "252"], "en"),
        (["explain", "--lang", "id", "--lang", "en"], "en"),
        (["explain", "--", "--lang", "id"], None),
        (["explain", "--lang", "fr"], None),
        (["explain", "--lang"], None),
    ],
)
def test_lang_from_argv(argv: list[str], lang: str | None) -> None:
    assert lang_from_argv(argv) == lang


def test_clicks_gettext_follows_the_run() -> None:
    """click's own ``_``/``ngettext`` (gettext's, unpatched) read the click catalogue in the
    language `using` chose, whatever the locale."""
    assert click.core._ is gettext.gettext  # type: ignore[attr-defined]
    with using("id"):
        assert click.core._("Usage:") == "Penggunaan:"  # type: ignore[attr-defined]
        assert click.core._("Options") == "Opsi"  # type: ignore[attr-defined]
        assert gettext.ngettext(
            "Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", 2
        ).startswith("Ada")
        assert gettext.gettext("not a click message") == "not a click message"
        with using("en"):
            assert click.core._("Options") == "Options"  # type: ignore[attr-defined]
        assert click.core._("Options") == "Opsi"  # type: ignore[attr-defined]


# -- help texts ------------------------------------------------------------------------------


def _commands() -> list[tuple[str, click.Command, click.Context]]:
    ctx = click.Context(cli, info_name="smtpprobe")
    found: list[tuple[str, click.Command, click.Context]] = [("cli", cli, ctx)]
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None
        found.append((name, command, click.Context(command, info_name=name, parent=ctx)))
    return found


def test_every_help_text_is_a_msgid_worded_when_shown() -> None:
    """Each command's help and epilog, and each option's help, is a msgid the code marks
    (so the catalogue has it) held by a class that words it when click reads it."""
    code = _code_msgids()
    problems = []
    for name, command, ctx in _commands():
        texts = [
            getattr(command, "_help_msgid", command.help),
            getattr(command, "_epilog_msgid", command.epilog),
        ]
        for param in command.get_params(ctx):
            if isinstance(param, click.Option):
                if not isinstance(param, Option):
                    problems.append(f"{name} {param.opts}: a plain click.Option")
                texts.append(getattr(param, "_help_msgid", param.help))
        problems += [
            f"{name}: {text!r} is not marked" for text in texts if text and text not in code
        ]
    assert problems == []


def test_every_metavar_word_has_a_translation() -> None:
    catalogue = _entries(_po("id", "smtpprobe"))
    words = {"OPTIONS", "COMMAND", "ARGS"}
    with using("en"):
        for _, command, ctx in _commands():
            for param in command.get_params(ctx):
                words |= set(re.findall(r"[A-Z][A-Z_]+(?: RANGE)?", param.make_metavar(ctx)))
    words -= {"BOOLEAN", "IP"}  # flags show none; IP is the same word
    assert sorted(words - set(METAVAR_WORDS)) == []
    assert sorted(w for w in METAVAR_WORDS if not "".join(catalogue.get(w, ())).strip()) == []


@pytest.mark.usefixtures("indonesian")
@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        *(
            [name, "--help"]
            for name in ("probe", "demo", "explain", "compare", "codes", "annotate", "send")
        ),
    ],
)
def test_help_is_indonesian(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, _err = run(capsys, *argv)
    assert code == 0
    assert all(word in out for word in INDONESIAN_HELP), out
    assert not any(word in out for word in ENGLISH_HELP), out
    assert "[OPSI]" in out
    # Option names are literals, whatever their words (--from, --to).
    assert english_words(re.sub(r"--[\w-]+", " ", out)) == []


@pytest.mark.usefixtures("indonesian")
def test_group_help_lists_commands_and_exit_codes_in_indonesian(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _code, out, _err = run(capsys, "--help")
    assert "Perintah:" in out and "Kode keluar" in out
    assert "Bandingkan dua kode" in out and "Exit codes" not in out


def test_lang_option_turns_help_indonesian_in_an_english_locale(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    _code, out, _err = run(capsys, "compare", "--help", "--lang", "id")
    assert "Penggunaan: smtpprobe compare [OPSI] A B" in out
    _code, out, _err = run(capsys, "compare", "--help")
    assert "Usage: smtpprobe compare [OPTIONS] A B" in out


@pytest.mark.usefixtures("indonesian")
def test_version_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--version")[1] == f"smtpprobe, versi {smtpprobe.__version__}\n"


# -- every command, in the locale ------------------------------------------------------------


@pytest.mark.usefixtures("indonesian")
def test_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "explain", "252")
    assert code == 0
    assert "Deskripsi" in out and "Cara Memperbaiki" in out
    assert "Description" not in out and "How to fix" not in out


@pytest.mark.usefixtures("indonesian")
def test_compare_renders_the_seed_page(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "compare", "211", "252")
    assert code == 0
    headings = [
        "Deskripsi",
        "Ketika Anda Melihatnya",
        "Cara Memperbaiki",
        "Perbedaan Utama",
        "Kapan Menggunakan Yang Mana",
    ]
    positions = [out.find(heading) for heading in headings]
    assert -1 not in positions and positions == sorted(positions)
    assert "Key differences" not in out and "When to use which" not in out


@pytest.mark.usefixtures("indonesian")
def test_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "codes", "--class", "4")
    assert code == 0
    assert "Kode balasan SMTP" in out and "SMTP reply codes" not in out


@pytest.mark.usefixtures("indonesian")
def test_annotate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(
        "Nov 28 10:00:01 mx postfix/smtp[1]: 1A2B: to=<bob@example.org>, "
        "status=bounced (host mx.example.org said: 550 5.1.1 <bob@example.org>: "
        "Recipient address rejected: User unknown (in reply to RCPT TO command))\n"
    )
    code, out, _err = run(capsys, "annotate", str(log))
    assert code == 0
    assert "Ringkasan" in out and "Summary" not in out


@pytest.mark.usefixtures("indonesian")
def test_probe(capsys: pytest.CaptureFixture[str], threaded_smtp_server: Any) -> None:
    server: ServerAddress = threaded_smtp_server("hidden")
    code, out, _err = run(capsys, "probe", f"{server.host}:{server.port}", "--timeout", "5")
    assert code in (0, 1)
    assert "Transkrip" in out and "Temuan" in out and "kode keluar" in out
    assert "Transcript" not in out and "Findings" not in out and "exit code" not in out


@pytest.mark.usefixtures("indonesian")
def test_probe_several_targets(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Any, closed_port: int
) -> None:
    server: ServerAddress = threaded_smtp_server("hidden")
    code, out, err = run(
        capsys,
        "probe",
        f"{server.host}:{server.port}",
        f"127.0.0.1:{closed_port}",
        "--timeout",
        "5",
    )
    assert code == 2
    assert "2 target diperiksa" in out and "koneksi ditolak" in out
    assert "targets probed" not in out and "Connection refused" not in out + err


@pytest.mark.usefixtures("indonesian")
@pytest.mark.parametrize("output_format", ["nagios", "junit"])
def test_monitoring_formats(
    capsys: pytest.CaptureFixture[str], closed_port: int, output_format: str
) -> None:
    code, out, _err = run(
        capsys, "probe", f"127.0.0.1:{closed_port}", "--format", output_format, "--timeout", "5"
    )
    assert code == 2
    assert "Tidak ada koneksi" in out and "koneksi ditolak" in out
    assert "Connection refused" not in out


@pytest.mark.usefixtures("indonesian")
def test_json_keys_stay_english_and_text_follows_the_language(
    capsys: pytest.CaptureFixture[str],
    threaded_smtp_server: Any,
) -> None:
    server: ServerAddress = threaded_smtp_server("hidden")
    _code, out, _err = run(
        capsys, "probe", f"{server.host}:{server.port}", "--format", "json", "--timeout", "5"
    )
    document = json.loads(out)
    assert document["lang"] == "id"
    assert {"target", "status", "findings", "exchanges", "error"} <= document.keys()
    assert document["status"] in ("ok", "warning", "critical", "unknown")
    vrfy = document["findings"]["vrfy"]
    assert vrfy["verdict"] == "hidden"
    assert english_words(vrfy["summary"]) == [] and vrfy["summary"] != ""


@pytest.mark.usefixtures("indonesian")
def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "demo", "--profile", "disclosing")
    assert code == 1
    assert "Temuan" in out and "membocorkan" in out and "PERINGATAN" in out
    assert "Findings" not in out and "disclosing" not in out.split("Temuan")[1]
    assert "Server demo (disclosing) mendengarkan" in err


# -- errors, in the locale -------------------------------------------------------------------


@pytest.mark.usefixtures("indonesian")
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["probe", "--bogus"], "Tidak ada opsi '--bogus'"),
        (["compare", "211"], "Argumen belum diberikan 'B'"),
        (["codes", "--class", "x"], "Nilai tidak valid untuk '--class'"),
        (["codes", "--class", "9"], "--class 9 bukan kelas kode balasan"),
        (["explain", "6.1.1"], "'6.1.1' bukan kode status tambahan"),
        (["probe", "mx.test", "--skip", "vrfy", "--only", "help"], "tidak dapat digabungkan"),
        (["probe", "[::1"], "tulis alamat IPv6"),
        (["probe", "--targets", "/nonexistent/targets", "x"], "berkas atau direktori tidak ada"),
        (
            ["probe", "mx.test", "--cafile", "/nonexistent/ca.pem"],
            "'/nonexistent/ca.pem' tidak ada",
        ),
    ],
)
def test_usage_error(capsys: pytest.CaptureFixture[str], argv: list[str], expected: str) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (3, "")
    assert err.startswith("smtpprobe: galat: ") and expected in err
    assert "\n  petunjuk: " in err
    assert "error:" not in err and "hint:" not in err and "No such" not in err
    assert english_words(err.split("petunjuk:")[0]) == []


@pytest.mark.usefixtures("indonesian")
def test_runtime_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "probe", "nonexistent.invalid", "--timeout", "3")
    assert (code, out) == (3, "")
    assert err.startswith("smtpprobe: galat: nonexistent.invalid ")
    assert "di-resolve" in err and "does not resolve" not in err


def test_lang_en_wins_over_an_indonesian_locale(
    capsys: pytest.CaptureFixture[str], indonesian: None
) -> None:
    _code, out, _err = run(capsys, "compare", "211", "252", "--lang", "en")
    assert "Key differences" in out and "Perbedaan Utama" not in out
    code, _out, err = run(capsys, "codes", "--class", "9", "--lang", "en")
    assert code == 3
    assert err == (
        "smtpprobe: error: --class 9 is not a class of reply codes\n"
        "  hint: expected one of 2, 3, 4, 5\n"
    )
    _code, out, _err = run(capsys, "probe", "--help", "--lang", "en")
    assert "Usage:" in out and "Penggunaan:" not in out


def test_lc_all_overrides_lang(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "id_ID.UTF-8")
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    _code, out, _err = run(capsys, "explain", "252")
    assert "Description" in out and "Deskripsi" not in out
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.setenv("LC_ALL", "id_ID.UTF-8")
    code, _out, err = run(capsys, "explain", "999x", "--command", "1")
    assert code == 3 and "bukan perintah SMTP" in err
