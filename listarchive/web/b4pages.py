"""``/LIST/_/text/b4/``: the git configuration that points b4 at this site, for one list or for
``all``, written with the site's own address (``web.base_url``, else the one the reader used),
and its plain-text twin ``/LIST/_/text/b4/gitconfig`` to paste into ``~/.gitconfig``.

The three masks are URLs this site serves: ``midmask`` a message under the list (b4 fetches
``<msgid>/t.mbox.gz`` beside it, and b4 0.14+ also searches the list it names with ``POST
?x=m``), ``linkmask`` the short redirect ``/r/<msgid>`` that the ``Link:`` trailers of ``b4 am
-l`` carry, ``searchmask`` the list's search answered as a gzipped mbox of whole threads (what
older b4 versions POST to).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, render_template

from listarchive.archive import listview
from listarchive.web.context import db, site_url, viewer
from listarchive.web.params import list_name

bp = Blueprint("b4", __name__)


@dataclass(frozen=True)
class B4Settings:
    midmask: str
    linkmask: str
    searchmask: str

    def items(self) -> list[tuple[str, str]]:
        return [("midmask", self.midmask), ("linkmask", self.linkmask),
                ("searchmask", self.searchmask)]

    def commands(self, scope: str = "--global") -> list[str]:
        """``git config`` commands that set them, quoted for a POSIX shell (``&`` and ``?``
        in the search mask)."""
        prefix = f"git config {scope} " if scope else "git config "
        return [f"{prefix}b4.{key} {shlex.quote(value)}" for key, value in self.items()]

    def gitconfig(self) -> str:
        """The ``[b4]`` section of a git configuration file."""
        return "[b4]\n" + "".join(f"\t{key} = {value}\n" for key, value in self.items())


def b4_settings(site: str, name: str) -> B4Settings:
    """The masks for list ``name`` (or ``all``) of the site at ``site`` (no trailing slash).

    ``https://lists.example.org``, ``linux-clk`` -> ``midmask =
    https://lists.example.org/linux-clk/%s``; the ``Link:`` goes through ``/r/`` so that it
    keeps working if the message is later found on another list too.
    """
    return B4Settings(midmask=f"{site}/{name}/%s", linkmask=f"{site}/r/%s",
                      searchmask=f"{site}/{name}/?x=m&t=1&q=%s")


def _settings_for(name: str) -> tuple[str, B4Settings]:
    name = list_name(name)
    if not listview.list_exists(db(), viewer(), name):
        abort(404, description=f"there is no list named {name!r} here")
    return name, b4_settings(site_url(), name)


@bp.route("/<name>/_/text/b4/", methods=["GET", "HEAD"])
def b4_page(name: str) -> Any:
    name, config = _settings_for(name)
    return render_template("b4.html", name=name, config=config, site=site_url())


@bp.route("/<name>/_/text/b4/gitconfig", methods=["GET", "HEAD"])
def b4_gitconfig(name: str) -> Response:
    _, config = _settings_for(name)
    return Response(config.gitconfig(), mimetype="text/plain")
