"""What makes a one-line error read badly: a phrase said twice, or a template whose slot was filled with the wrong
thing (a sentence where a job id or target belongs, None, nothing, or a brace left over). Used on every line the
hostile-input campaign produces (tests/integration/test_hostile_campaign.py) and on describe's own answers."""

from __future__ import annotations

import re

#: Text in quotes is what the user typed or the server named (a path, an id, a pattern): echoed, not our prose.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
#: Slots our templates fill with a value: a job id, a target, a client.
_SLOT = re.compile(r"\b(?:job|target|client) '([^']*)'")
_UNFILLED = [
    (re.compile(r"\b(?:job|target|client) (?:None|''|\"\")"), "an empty slot"),
    (re.compile(r"\{[a-z_]*\}"), "a brace left over"),
    (re.compile(r"(?<![.!?])  \S|: :|\(\)|\( \)"), "a hole in the sentence"),
]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_%]+", text.lower())


def repeated_phrase(text: str, n: int = 3) -> str | None:
    """The first phrase of ``n`` words said twice in ``text`` (quoted parts left out), or None."""
    w = words(_QUOTED.sub(" \u2026 ", text))
    seen = set()
    for i in range(len(w) - n + 1):
        phrase = tuple(w[i : i + n])
        if phrase in seen:
            return " ".join(phrase)
        seen.add(phrase)
    return None


def sentence_problem(line: str) -> str | None:
    """Why ``line`` does not read as one sentence, or None when it does."""
    phrase = repeated_phrase(line)
    if phrase:
        return f"says {phrase!r} twice"
    for pattern, what in _UNFILLED:
        if pattern.search(_QUOTED.sub("'x'", line)):
            return what
    for value in _SLOT.findall(line):
        if len(value.split()) > 3:  # ids and targets are single words; hostile ones may hold a few spaces
            return f"prose in a value's slot ({value[:60]!r})"
    return None
