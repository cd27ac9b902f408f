"""The language of the command line: chosen once per run, applied to help texts and to click.

``--lang`` on the command line wins, else the POSIX locale (LC_ALL, LC_MESSAGES, LANG).
Views and error messages take their words from the knowledge base; this module covers
what click prints itself: its boilerplate ("Usage:", "No such option …", which click
words through ``gettext``) from ``kb/data/<lang>/click.toml``, and the help texts of the
commands and their options from ``ui_help.toml``. English is the code's own text.
"""

from __future__ import annotations

import contextlib
import gettext
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import click

from smtpprobe.kb import LANGUAGES

__all__ = [
    "ClickCatalog",
    "LocalizedCommand",
    "LocalizedGroup",
    "current_lang",
    "install_click_catalog",
    "lang_from_argv",
    "lang_from_env",
    "text",
    "using",
]

_CHOSEN: ContextVar[str | None] = ContextVar("smtpprobe_lang", default=None)
# click's messages for its own help and version options (click.decorators).
_HELP_OPTION = "Show this message and exit."
_VERSION_OPTION = "Show the version and exit."
_METAVAR_WORD = re.compile(r"[A-Z][A-Z_]+(?: RANGE)?")


def lang_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The language of the POSIX locale (LC_ALL, then LC_MESSAGES, then LANG: ``id_ID.UTF-8``
    is ``id``) when there are words for it, else ``en``."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            lang = value.lower().partition(".")[0].partition("@")[0].partition("_")[0]
            return lang if lang in LANGUAGES else "en"
    return "en"


def lang_from_argv(args: Sequence[str]) -> str | None:
    """The language an explicit ``--lang X`` / ``--lang=X`` asks for (the last one wins),
    or None; nothing after ``--`` counts."""
    found = None
    for n, arg in enumerate(args):
        if arg == "--":
            break
        value = arg[len("--lang="):] if arg.startswith("--lang=") else None
        if arg == "--lang" and n + 1 < len(args):
            value = args[n + 1]
        if value in LANGUAGES:
            found = value
    return found


def current_lang() -> str:
    """The language of this run: the one `using` set, else the locale's."""
    return _CHOSEN.get() or lang_from_env()


@contextlib.contextmanager
def using(lang: str) -> Iterator[None]:
    """Speak *lang* (``en`` or ``id``) inside the block, whatever the locale says."""
    token = _CHOSEN.set(lang)
    try:
        yield
    finally:
        _CHOSEN.reset(token)


def text(key: str, **params: object) -> str:
    """The ui entry *key* in the current language, filled with *params*."""
    from smtpprobe.kb import load

    return load(current_lang()).ui(key).format(**params)


def _ui(lang: str, key: str) -> str | None:
    from smtpprobe.kb import load

    found = load(lang).ui(key)
    return None if found == key else found


# -- click's own words --------------------------------------------------------------------


def _catalog(lang: str) -> Mapping[str, str]:
    if lang == "en":
        return {}
    from smtpprobe.kb import store

    return store.read(f"{lang}/click.toml")


class ClickCatalog(gettext.NullTranslations):
    """click's gettext messages in the current language (``<lang>/click.toml``: msgid →
    text); a message without a translation stays as click words it."""

    def gettext(self, message: str) -> str:
        return _catalog(current_lang()).get(message, message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        message = msgid1 if n == 1 else msgid2
        return _catalog(current_lang()).get(message, message)


_CLICK_CATALOG = ClickCatalog()


def install_click_catalog() -> None:
    """Make click's modules word their messages through `ClickCatalog` (idempotent).

    click binds ``_ = gettext.gettext`` (and ``ngettext``) at module level in each of its
    modules; rebinding those names is the one hook that reaches usage lines, section
    titles and its error messages alike. English is unchanged: the catalogue is empty.
    """
    for name, module in list(sys.modules.items()):
        if name != "click" and not name.startswith("click."):
            continue
        if getattr(module, "_", None) is gettext.gettext:
            module._ = _CLICK_CATALOG.gettext  # type: ignore[attr-defined]
        if getattr(module, "ngettext", None) is gettext.ngettext:
            module.ngettext = _CLICK_CATALOG.ngettext  # type: ignore[attr-defined]


# -- help texts ---------------------------------------------------------------------------


def _metavar(lang: str, metavar: str) -> str:
    """``[TARGET]...`` in *lang*: each upper-case word through ``help_metavar_<WORD>``."""
    def word(match: re.Match[str]) -> str:
        return _ui(lang, "help_metavar_" + match.group().replace(" ", "_")) or match.group()

    return _METAVAR_WORD.sub(word, metavar)


def _param_help(lang: str, command: str, param: click.Option) -> str | None:
    # click 8.5 names its help option `_click_default_help`; the flag is what stays.
    if "--help" in param.opts:
        return _CLICK_CATALOG.gettext(_HELP_OPTION)
    if "--version" in param.opts:
        return _CLICK_CATALOG.gettext(_VERSION_OPTION)
    if lang == "en" or not param.help:
        return param.help
    return (_ui(lang, f"help_{command}_option_{param.name}")
            or _ui(lang, f"help_option_{param.name}") or param.help)


@contextlib.contextmanager
def _translated(command: click.Command, ctx: click.Context) -> Iterator[None]:
    """*command*'s help, epilog, option help and metavars in the current language, for
    the duration of the block (click reads them from the objects themselves)."""
    lang = current_lang()
    saved: list[tuple[Any, str, Any]] = []

    def swap(target: Any, attribute: str, value: Any) -> None:
        saved.append((target, attribute, getattr(target, attribute)))
        setattr(target, attribute, value)

    try:
        for param in command.get_params(ctx):
            if isinstance(param, click.Option):
                swap(param, "help", _param_help(lang, str(command.name), param))
            if lang != "en":
                swap(param, "metavar", _metavar(lang, param.make_metavar(ctx)))
        if lang != "en":
            name = command.name
            swap(command, "help", _ui(lang, f"help_{name}") or command.help)
            swap(command, "epilog", _ui(lang, f"help_{name}_epilog") or command.epilog)
            swap(command, "options_metavar", _metavar(lang, command.options_metavar or ""))
            if isinstance(command, click.Group):
                swap(command, "subcommand_metavar", _metavar(lang, command.subcommand_metavar))
        yield
    finally:
        for target, attribute, value in reversed(saved):
            setattr(target, attribute, value)


class _Localized(click.Command):
    """Help in the current language: ``LANG=id_ID.UTF-8 smtpprobe probe --help`` is Indonesian.

    The language is the run's (`current_lang`): cli.main sets it from ``--lang`` in the
    arguments, so ``--lang id --help`` is Indonesian too, in whatever order they come.
    """

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with _translated(self, ctx):
            super().format_help(ctx, formatter)

    def get_short_help_str(self, limit: int = 45) -> str:
        lang = current_lang()
        translated = _ui(lang, f"help_{self.name}") if lang != "en" else None
        if translated is None:
            return super().get_short_help_str(limit)
        original = self.help
        self.help = translated
        try:
            return super().get_short_help_str(limit)
        finally:
            self.help = original


class LocalizedCommand(_Localized):
    """A command whose help follows the language of the run."""


class LocalizedGroup(_Localized, click.Group):
    """A group whose help (its epilog and command list included) follows the language."""


install_click_catalog()
