"""The language of the command line: chosen once per run, then worded through gettext.

``--lang`` on the command line wins, else the POSIX locale (LC_ALL, LC_MESSAGES, LANG).
What click prints itself ("Usage:", "No such option …") comes from the ``click`` gettext
domain, the one click's own ``gettext`` calls read once it is the current domain; the
help texts of our commands and options are msgids of the ``smtpprobe`` domain, declared in
English with `N_` and worded when click reads them to show them. Catalogues:
``locale/<lang>/LC_MESSAGES/<domain>.po``, compiled to the ``.mo`` beside them
(``scripts/catalogs``). Views and error messages take their words from the knowledge base
(`text`).
"""

from __future__ import annotations

import contextlib
import gettext
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

import click

from smtpprobe.kb import LANGUAGES

__all__ = [
    "CLICK_DOMAIN",
    "DOMAIN",
    "LOCALE_DIR",
    "METAVAR_WORDS",
    "N_",
    "LocalizedCommand",
    "LocalizedGroup",
    "Option",
    "current_lang",
    "lang_from_argv",
    "lang_from_env",
    "option",
    "text",
    "translate",
    "using",
]

LOCALE_DIR = os.path.join(os.path.dirname(__file__), "locale")
CLICK_DOMAIN = "click"
DOMAIN = "smtpprobe"
F = TypeVar("F", bound=Callable[..., Any])

_CHOSEN: ContextVar[str | None] = ContextVar("smtpprobe_lang", default=None)
_METAVAR_WORD = re.compile(r"[A-Z][A-Z_]+(?: RANGE)?")


def N_(message: str) -> str:
    """*message*, unchanged: marks a msgid that is worded when it is shown."""
    return message


def translate(message: str) -> str:
    """*message* (a msgid of the ``smtpprobe`` domain) in the run's language."""
    return gettext.dgettext(DOMAIN, message)


# The upper-case placeholders the usage lines and option lists show: click's own
# ([OPTIONS], COMMAND [ARGS]..., the names of its types) and our options' metavars.
METAVAR_WORDS = (
    N_("OPTIONS"),
    N_("COMMAND"),
    N_("ARGS"),
    N_("TARGET"),
    N_("DOMAIN"),
    N_("FILE"),
    N_("CODE"),
    N_("REPLY"),
    N_("VERB"),
    N_("DIGIT"),
    N_("TEXT"),
    N_("USER"),
    N_("VAR"),
    N_("SECONDS"),
    N_("REGEX"),
    N_("NAME"),
    N_("PORT"),
    N_("WARN"),
    N_("CRIT"),
    N_("HOST"),
    N_("INTEGER"),
    N_("INTEGER RANGE"),
    N_("FLOAT"),
    N_("FLOAT RANGE"),
    N_("ADDRESS"),
    N_("VALUE"),
    N_("LINE"),
)


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
        value = arg[len("--lang=") :] if arg.startswith("--lang=") else None
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
    """Speak *lang* (``en``, ``id``) inside the block, whatever the locale says.

    gettext picks its catalogue by ``LANGUAGE`` first (GNU's rule), so the block pins
    ``LANGUAGE`` to *lang*: click's words and our help follow the same choice as the
    views. ``LANGUAGE`` is process-wide, as gettext's current domain is: one run, one
    language.
    """
    gettext.bindtextdomain(CLICK_DOMAIN, LOCALE_DIR)
    gettext.bindtextdomain(DOMAIN, LOCALE_DIR)
    gettext.textdomain(CLICK_DOMAIN)
    token = _CHOSEN.set(lang)
    saved = os.environ.get("LANGUAGE")
    os.environ["LANGUAGE"] = lang
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("LANGUAGE", None)
        else:
            os.environ["LANGUAGE"] = saved
        _CHOSEN.reset(token)


def text(key: str, **params: object) -> str:
    """The ui entry *key* in the current language, filled with *params*."""
    from smtpprobe.kb import load

    return load(current_lang()).ui(key).format(**params)


# -- help texts, worded when click reads them ---------------------------------------------


def _shown(msgid: str | None) -> str | None:
    """*msgid* in the run's language, as click should show it.

    A paragraph with line breaks of its own (an example block, a table) is kept as
    written: click's ``\\b`` marker is added here, so catalogues hold plain text.
    """
    if not msgid:
        return msgid
    return "\n\n".join(
        "\b\n" + paragraph if "\n" in paragraph else paragraph
        for paragraph in translate(msgid).split("\n\n")
    )


def _metavar(metavar: str) -> str:
    """``[TARGET]...`` in the run's language: each upper-case word is a msgid."""
    return _METAVAR_WORD.sub(lambda match: translate(match.group()), metavar)


class _Msgid:
    """An attribute click reads only to show it (``help``, ``epilog``): it is set to a msgid
    (kept as ``_<name>_msgid``) and read in the run's language."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}_msgid"

    def __get__(self, instance: object, owner: type | None = None) -> str | None:
        return _shown(getattr(instance, self.slot, None))

    def __set__(self, instance: object, msgid: str | None) -> None:
        setattr(instance, self.slot, msgid)


class Option(click.Option):
    """An option whose help is a msgid (`N_`), worded each time click reads it, and whose
    metavar words are worded too."""

    help = _Msgid()

    def make_metavar(self, ctx: click.Context) -> str:
        return _metavar(super().make_metavar(ctx))


def option(*param_decls: str, **attrs: Any) -> Callable[[F], F]:
    """``click.option`` for an `Option`: ``help=N_("…")`` is worded when shown."""
    return click.option(*param_decls, cls=Option, **attrs)


def _show_help(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(ctx.get_help(), color=ctx.color)
        ctx.exit()


class _Worded(click.Command):
    """A command whose help, epilog and usage line are worded when click reads them.

    The language is the run's: cli.main sets it from ``--lang`` in the arguments before
    click parses anything, so ``--lang id --help`` is Indonesian in whatever order they
    come, and ``LANG=id_ID.UTF-8 smtpprobe probe --help`` is too.
    """

    help = _Msgid()
    epilog = _Msgid()
    _help_flag: Option | None = None

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [_metavar(piece) for piece in super().collect_usage_pieces(ctx)]

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        """``-h/--help`` as click makes it, but an `Option`: click words its help once,
        when it first makes the option, and keeps it."""
        names = self.get_help_option_names(ctx)
        if not names or not self.add_help_option:
            return None
        if self._help_flag is None:
            self._help_flag = Option(
                names,
                is_flag=True,
                is_eager=True,
                expose_value=False,
                callback=_show_help,
                help=N_("Show this message and exit."),
            )
        return self._help_flag


class LocalizedCommand(_Worded):
    """A command whose help follows the language of the run."""


class LocalizedGroup(_Worded, click.Group):
    """A group whose help (its epilog and command list included) follows the language."""
