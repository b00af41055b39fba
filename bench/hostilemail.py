"""Pathological mail, made with a fixed seed: what an attacker (or a broken mailer) can send a
public list. Each message is named for what it attacks; the test suite ingests them and the bench
times them next to normal mail."""

from __future__ import annotations

import random
from collections.abc import Iterator

SEED = 20261205
MB = 1 << 20


def _head(n: int, subject: str, extra: str = "", sender: str = "") -> str:
    sender = sender or f"Mallory {n} <mallory{n}@evil.example>"
    return (f"From: {sender}\nTo: list@example.org\nSubject: {subject}\n"
            f"Date: Mon, 2 Jun 2025 10:{n % 60:02d}:00 +0000\n"
            f"Message-ID: <hostile-{n}@evil.example>\n{extra}")


def _patch(path: str = "drivers/clk/x.c") -> str:
    return (f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,1 +1,1 @@\n"
            "-old\n+new\n")


def messages(seed: int = SEED) -> Iterator[tuple[str, bytes]]:
    """(what it attacks, raw bytes), in a fixed order."""
    rng = random.Random(seed)
    n = 0

    def mail(name: str, text: str) -> tuple[str, bytes]:
        return name, text.encode("utf-8", "surrogateescape")

    n += 1
    long_line = "".join(rng.choice("ab/.:@-_") for _ in range(MB))
    yield mail("1 MB line in a cover letter", _head(n, "[PATCH 0/2] clk: cover") + "\n"
               + "Link to v1: https://lore.kernel.org/r/" + long_line + "\n")
    n += 1
    yield mail("1 MB line of URLs in a cover letter", _head(n, "[PATCH v2 0/2] clk: cover")
               + "\n" + "v1: https://lore.kernel.org/r/a@b " * (MB // 36) + "\n")
    n += 1
    yield mail("1 MB line in a commit message", _head(n, "[PATCH 1/2] clk: fix") + "\n"
               + "Fixes: " + "x" * MB + "\n---\n" + _patch())
    n += 1
    yield mail("1 MB line in a pull request", _head(n, "[GIT PULL] clk fixes") + "\n"
               + "The following changes are available in the git repository at:\n\n  "
               + "git://x/" + "y" * MB + " tags/clk\n\nfor you to fetch changes up to "
               + "0" * 40 + "\n")
    n += 1
    yield mail("1 MB hunk line", _head(n, "[PATCH] clk: long") + "\n---\n"
               + _patch().replace("+new", "+" + "z" * MB))
    n += 1
    refs = " ".join(f"<ref-{i}-{rng.randrange(10**9)}@x>" for i in range(50_000))
    yield mail("50,000 References", _head(n, "Re: refs", f"References: {refs}\n") + "\nhi\n")
    n += 1
    same = " ".join(["<same@x>"] * 50_000)
    yield mail("50,000 References to one id", _head(n, "Re: same", f"References: {same}\n")
               + "\nhi\n")
    n += 1
    to = ", ".join(f"user{i} <u{i}@example.org>" for i in range(200_000))
    yield mail("200,000 addresses", _head(n, "many", f"Cc: {to}\n") + "\nhi\n")
    n += 1
    parts = "".join(f"--b\nContent-Type: text/plain\n\npart {i}\n" for i in range(10_000))
    yield mail("10,000 MIME parts", _head(n, "parts", "MIME-Version: 1.0\n"
                                          "Content-Type: multipart/mixed; boundary=b\n")
               + "\n" + parts + "--b--\n")
    n += 1
    depth = 5_000
    nested = "".join(f"--b{i}\nContent-Type: multipart/mixed; boundary=b{i + 1}\n\n"
                     for i in range(depth))
    nested += "--b5000\nContent-Type: text/plain\n\ndeep\n"
    nested += "".join(f"--b{i}--\n" for i in range(depth, -1, -1))
    yield mail("5,000-deep nesting", _head(n, "deep", "MIME-Version: 1.0\n"
                                           "Content-Type: multipart/mixed; boundary=b0\n")
               + "\n" + nested)
    for subject in ("[PATCH v99999999999999999999999] clk: big", "[PATCH " + "9" * 5000
                    + "/" + "9" * 5000 + "] clk: counter", "PATCH 99999999999/2 clk: bare",
                    "[PATCH 1 of " + "7" * 5000 + "] clk: of", "[PATCHv" + "8" * 300 + "] glued"):
        n += 1
        yield mail(f"huge number in a subject ({subject[:20]}...)",
                   _head(n, subject) + "\n---\n" + _patch())
    n += 1
    yield mail("NULs in headers and body", _head(n, "nul\x00subject",
                                                 "X-Thing: a\x00b\nReviewed-by: x\x00y\n")
               + "\nbody\x00with nul\nReviewed-by: Nul \x00Person <n@x>\n")
    n += 1
    yield mail("invalid charsets", _head(n, "=?x-no-such?B?////?= =?utf-8?Q?=FF=FE?=",
                                         "Content-Type: text/plain; charset=\"\x7f\x01bogus\"\n")
               + "\n\xff\xfe body in no charset \udcff\n")
    n += 1
    yield mail("control characters in the Message-ID",
               _head(n, "ctl").replace(f"<hostile-{n}@evil.example>",
                                       f"<ctl\x01\x7f-{n}@evil.example>") + "\nhi\n")
    n += 1
    yield mail("non-ASCII sender of a patch", _head(n, "[PATCH] clk: ümlaut",
                                                    sender="Jürgen Grüß <jürgen@exämple.org>")
               + "\n---\n" + _patch())
