"""Which keys a job keeps and what it calls them: the rules ``rewrite`` and ``convert`` share.

Strategy
--------
A *pattern* is an exact key, a glob (``dense/*``, any of ``*?[``) or a regular
expression written ``re:<regex>`` (matched against the whole key).  An exact key
given to ``select`` must exist -- a typo is an error naming the closest keys, not a
silently empty result.  A *rename* is a mapping ``{old: new}``, a sequence of
``(regex, replacement)`` pairs applied in order with ``re.sub``, or a callable
returning the new name (``None`` keeps the key as it is).

Spec: ``spec/rewrite.md`` (REW-*).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from typing import Callable, Mapping, Optional, Sequence, Union

from .. import errors

__all__ = ["Patterns", "Rename", "matcher", "renamer"]

Patterns = Union[str, Sequence[str], None]
Rename = Union[Mapping[str, str], Sequence[tuple], Callable[[str], Optional[str]], None]


def matcher(patterns: Patterns, what: str, keys: Optional[Sequence[str]]) -> Optional[Callable[[str], bool]]:
    """A test ``key -> bool`` for ``patterns`` (None when there are none); ``what`` names the option
    in errors, and for ``"select"`` every exact key must be one of ``keys`` (unchecked when ``keys``
    is None: a source whose keys are known only once it is read)."""
    if patterns is None:
        return None
    if isinstance(patterns, str):
        patterns = [patterns]
    tests = []
    for p in patterns:
        if p.startswith("re:"):
            try:
                rx = re.compile(p[3:])
            except re.error as exc:
                raise errors.InvalidArgumentError(f"{what} pattern {p!r} is not a regular expression: {exc}") from None
            tests.append(rx.fullmatch)
        elif any(c in p for c in "*?["):
            tests.append(lambda k, p=p: fnmatch.fnmatchcase(k, p))
        else:
            if what == "select" and keys is not None and p not in keys:
                near = difflib.get_close_matches(p, keys, n=3)
                raise errors.NotFoundError(f"selected key is not in the checkpoint"
                                           + (f"; closest: {', '.join(near)}" if near else ""), key=p)
            tests.append(lambda k, p=p: k == p)
    return lambda k: any(t(k) for t in tests)


def renamer(rename: Rename) -> Callable[[str], str]:
    """A function ``old key -> new key`` for any of the rename forms of the module docstring."""
    if rename is None:
        return lambda k: k
    if callable(rename):
        def call(k):
            new = rename(k)
            return k if new is None else new
        return call
    if isinstance(rename, Mapping):
        return lambda k: rename.get(k, k)
    rules = []
    for rule in rename:
        try:
            pattern, replacement = rule
            rules.append((re.compile(pattern), replacement))
        except (TypeError, ValueError, re.error) as exc:
            raise errors.InvalidArgumentError(f"rename rule {rule!r} is not (regex, replacement): {exc}") from None

    def apply(k):
        for rx, replacement in rules:
            k = rx.sub(replacement, k)
        return k
    return apply
