"""Factual answer matching: SQuAD-style normalisation, exact match and token F1.

On top of the SQuAD normalisation (lower case, no punctuation, no articles, single spaces) a
few shapes that the seed task files and small models produce are made comparable:

- accents are folded ("cinéma" == "cinema");
- thousands separators and trailing zero decimals vanish ("284,311" == "284311",
  "13138980.0" == "13138980"), while a decimal point between digits is kept ("3.5" != "35");
- numbers written as words become digits ("twenty-one" == "21");
- a whole-answer date in a common form becomes ISO ("April 15, 1865" == "15 April 1865").

Exact match also accepts a number followed by a short unit when the gold answer is that bare
number ("284311 people" for "284311").
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from decimal import Decimal, InvalidOperation

MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DATE_FORMS = [
    # April 15, 1865 / Apr. 15 1865 / April 15th, 1865
    re.compile(rf"^(?P<m>{_MONTH})\.? (?P<d>\d{{1,2}})(?:st|nd|rd|th)?,? (?P<y>\d{{3,4}})$"),
    # 15 April 1865 / 15th of April, 1865
    re.compile(rf"^(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?: of)? (?P<m>{_MONTH})\.?,? (?P<y>\d{{3,4}})$"),
    # 1865-04-15
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"),
]

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_NUMBER_WORDS = set(_UNITS) | set(_TENS) | set(_SCALES)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_POINT = "\x00"  # stands for a decimal point while punctuation is removed
_PUNCTUATION = set(string.punctuation) | {"–", "—", "‘", "’", "“", "”", "…"}
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_YES_NO = {"yes", "no", "noanswer"}


def fold_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def canonical_date(text: str) -> str | None:
    """ISO form of `text` when the whole of it is a date in a common English form."""
    cleaned = re.sub(r"\s+", " ", text.strip().lower().rstrip("."))
    for form in _DATE_FORMS:
        match = form.match(cleaned)
        if not match:
            continue
        month = match["m"]
        month_number = int(month) if month.isdigit() else MONTHS[month]
        day, year = int(match["d"]), int(match["y"])
        if 1 <= month_number <= 12 and 1 <= day <= 31:
            return f"{year:04d}-{month_number:02d}-{day:02d}"
    return None


def words_to_numbers(text: str) -> str:
    """Replace runs of English number words by digits ("two hundred and five" -> "205")."""
    tokens = text.split(" ")
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        value = _number_from_words(run)
        if value is None:
            out.extend(run)
        else:
            out.append(str(value))
        run.clear()

    for token in tokens:
        parts = token.split("-")
        if all(p in _NUMBER_WORDS for p in parts) and token:
            run.extend(parts)
        elif token == "and" and run:
            run.append(token)
        else:
            if run and run[-1] == "and":
                run.pop()
                flush()
                out.append("and")
            elif run:
                flush()
            out.append(token)
    if run and run[-1] == "and":
        run.pop()
        flush()
        out.append("and")
    elif run:
        flush()
    return " ".join(out)


def _number_from_words(words: list[str]) -> int | None:
    total = current = 0
    seen = False
    for word in words:
        if word == "and":
            continue
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def _canonical_number(token: str) -> str:
    if not _NUMBER.match(token):
        return token
    try:
        value = Decimal(token)
    except InvalidOperation:
        return token
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def normalize_answer(text: str) -> str:
    """SQuAD-style normalisation with the extensions described in the module docstring."""
    date = canonical_date(text)
    if date is not None:
        return date
    text = fold_accents(text).lower()
    text = _THOUSANDS.sub("", text)
    text = _DECIMAL_POINT.sub(_POINT, text)
    text = "".join(" " if ch in _PUNCTUATION and ch not in "-" else ch for ch in text)
    text = re.sub(r"(?<![0-9a-z])-|-(?![0-9a-z])", " ", text)  # dashes that join nothing
    text = " ".join(text.split())
    text = words_to_numbers(text)
    text = text.replace("-", " ")
    text = _ARTICLES.sub(" ", text)
    tokens = [_canonical_number(t.replace(_POINT, ".")) for t in text.split()]
    return " ".join(tokens)


def exact_match(answer: str, golds: list[str]) -> bool:
    """Normalised exact match against any accepted answer."""
    normalized = normalize_answer(answer)
    for gold in golds:
        target = normalize_answer(gold)
        if normalized == target or _number_with_unit(normalized, target):
            return True
    return False


def _number_with_unit(answer: str, gold: str) -> bool:
    """ "284311 people" matches a bare numeric gold "284311": one number, at most two words."""
    if not _NUMBER.match(gold):
        return False
    tokens = answer.split()
    numbers = [t for t in tokens if _NUMBER.match(t)]
    words = [t for t in tokens if not _NUMBER.match(t)]
    if len(numbers) != 1 or len(words) > 2 or tokens[0] != numbers[0]:
        return False
    return Decimal(numbers[0]) == Decimal(gold)


def token_f1(answer: str, golds: list[str]) -> float:
    """Best token F1 against the accepted answers (SQuAD/HotpotQA definition)."""
    return max((_f1(normalize_answer(answer), normalize_answer(g)) for g in golds), default=0.0)


def _f1(prediction: str, gold: str) -> float:
    if prediction in _YES_NO or gold in _YES_NO:
        if prediction != gold:
            return 0.0
    predicted, expected = prediction.split(), gold.split()
    common = Counter(predicted) & Counter(expected)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted)
    recall = overlap / len(expected)
    return 2 * precision * recall / (precision + recall)
