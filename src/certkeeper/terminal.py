"""The one escaping function for text that reaches a person's terminal or a mail reader.

Certificates (issuer, subject, SANs), certbot's and nginx's output, SMTP replies, file
names and config keys are written by others. A crafted issuer with ESC[2J would clear
the on-call engineer's screen, a CR or LF would add a fake row to `status`, and a bidi
override (U+202E) would show "moc.elpmaxe" as something else. So every human-readable
line goes through `line()` at the rendering edge (cli.py's echo, render.py's table):
control and invisible characters become visible escapes such as \\x1b, \\r, \\u202e.

Backslashes are left alone: the output is for reading, not for parsing back, and the
escaped text must not grow on every pass (line(line(x)) == line(x)).
"""

from __future__ import annotations

from collections.abc import Mapping

# C0/C1 controls and DEL (Cc), format characters such as bidi overrides and zero-width
# joiners (Cf), lone surrogates (Cs), and the Unicode line and paragraph separators.
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b", "\x00": "\\x00"}


def _escape_char(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def unsafe(ch: str) -> bool:
    code = ord(ch)
    if code < 160:
        return code < 32 or code >= 127
    # Imported here: a table of every character, needed only for a name beyond ASCII.
    import unicodedata

    return unicodedata.category(ch) in _UNSAFE


def line(text: str) -> str:
    """One line for a terminal: nothing in it can move the cursor, break the line,
    change colours or reorder what is shown."""
    if text.isascii() and text.isprintable():
        return text  # the common case, kept cheap
    return "".join(_escape_char(ch) if unsafe(ch) else ch for ch in text)


def lines(text: str) -> str:
    """A block of our own lines joined by LF: each line escaped, the LFs kept.

    Only "\\n" separates lines here; a CR, U+2028 or any other break inside a line is
    someone else's text and is escaped by line()."""
    return "\n".join(line(part) for part in text.split("\n"))


# Our own marks, and what each becomes on a stream that cannot encode it (a latin-1 or
# ASCII locale, PYTHONIOENCODING=ascii): readable words, never a UnicodeEncodeError.
_ASCII_MARKS = {
    "\u2713": "ok",
    "\u2717": "FAIL",
    "\u2192": "->",
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
}


def for_stream(text: str, encoding: str | None) -> str:
    """`text` as the stream can carry it: our marks become ASCII words and anything else
    it cannot encode (a name in an IDN, a certificate's issuer) becomes a \\u escape."""
    codec = encoding or "utf-8"
    try:
        text.encode(codec)
        return text
    except UnicodeEncodeError:
        pass
    except LookupError:
        codec = "ascii"
    plain = "".join(_ASCII_MARKS.get(ch, ch) for ch in text)
    return plain.encode(codec, "backslashreplace").decode(codec)


def colour_wanted(stream: object, environ: Mapping[str, str] | None = None) -> bool:
    """Colour only for a person at a terminal: never into a pipe or file, never when
    NO_COLOR is set to anything (no-color.org), never on TERM=dumb."""
    import os

    env = os.environ if environ is None else environ
    if "NO_COLOR" in env or env.get("TERM", "") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def wrap(text: str, width: int, indent: str) -> list[str]:
    """`text` cut at spaces into lines of at most `width` columns, the later ones
    indented; a word longer than a line (a path, a URL) is cut where the line ends."""
    import textwrap

    return textwrap.wrap(
        text,
        width=width,
        subsequent_indent=indent,
        break_long_words=True,
        break_on_hyphens=False,
    ) or [""]
