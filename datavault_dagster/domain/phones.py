"""Phone numbers in the national and international formats of many regions, validated with `phonenumbers`.

A candidate is a run of digits in the groupings people write (`95 873333`, `455 14 549`, `020 7946 0958`,
`06 12 34 56 78`, `+49 (0)30 1234567`, `(02) 9876 5432`, `98765 43210`, `+1-555-0100 ext. 12`). It is a phone when
a phone word comes before it in the same sentence ("tel", "call me on", "registered number", "mob.", "Telefon",
"portable", "cellulare"), or when it starts with `+`/`00` and `phonenumbers` finds it possible, or when
`phonenumbers` finds it a valid number of one of the regions below. Amounts ("1 200 000 kr"), dates and IP
addresses are not candidates.

`spans(text)` yields `(start, end, "PHONE", score, recognizer)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

Hit = tuple[int, int, str, float, str]

REGIONS = ("US", "GB", "IE", "CA", "AU", "NZ", "IN", "DE", "AT", "CH", "FR", "BE", "NL", "LU", "NO", "SE", "DK",
           "FI", "IS", "IT", "ES", "PT", "PL", "CZ", "TR", "BR", "MX", "AR", "ZA", "NG", "JP", "KR", "CN", "SG", "PH")

_CANDIDATE = re.compile(
    r"(?<![\w+\-./,:])(?:\+|00)?[ \t]?\(?\d(?:[\d \t().\-/]|(?<=\d)[ \t](?=\())*\d"
    r"(?:[ \t]?(?:x|ext\.?|extn\.?|extension|#|poste|Durchwahl|DW|anexo|interno|int\.)[ \t]?\d{1,6})?"
    r"(?![\w\-/]|[.,]\d)",
    re.I,
)
_EXTENSION = re.compile(r"[ \t]?(?:x|ext\.?|extn\.?|extension|#|poste|Durchwahl|DW|anexo|interno|int\.)[ \t]?\d{1,6}$",
                        re.I)
_CUE = re.compile(
    r"(?i)(?<![\w])(?:tel|tlf|tlph|telf|tél|téléphone|telephone|telefon|telefoon|telefono|teléfono|telefone|puhelin|"
    r"phone|ph|mob|mobile|mobil|mobiel|móvil|movil|cell|cellphone|cellulare|cel|celular|portable|handy|natel|gsm|"
    r"fax|call|called|calling|ring|rang|dial|reach|reached|text|texted|sms|whatsapp|signal|viber|wechat|contact|"
    r"number|no|nr|nummer|numéro|numero|número|numer|callback|hotline|landline|direct|line|switchboard|"
    r"bellen|anrufen|ruf|appeler|appelez|llamar|chiamare)\b"
)
_NOT_PHONE_AFTER = re.compile(
    r"[ \t]*(?:%|‰|°|(?i:kr|nok|sek|dkk|eur|euros?|usd|dollars?|gbp|pounds?|chf|inr|rs|rupees?|yen|yuan|rmb|zł|zl|"
    r"mg|mcg|µg|ml|kg|g|km|m|cm|mm|mmol|units?|iu|steps|calories|kcal|people|patients|records|rows|items|times|"
    r"shares|points|pts|miles|hours|hrs|days|years|beds)\b|[€$£¥₹])"
)
_NOT_PHONE_BEFORE = re.compile(r"(?:[€$£¥₹]|(?i:\b(?:kr|nok|sek|eur|usd|gbp|chf|inr|rs|total|amount|sum|balance|"
                               r"price|cost|invoice|order|version|v))\.?)[ \t]*$")
_DATE_LIKE = re.compile(r"^\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}$")
_IP_LIKE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


@cache
def _phonenumbers():  # noqa: ANN202 - the module, imported on first use
    import phonenumbers

    return phonenumbers


def _possible(number: str, *, valid: bool) -> bool:
    pn = _phonenumbers()
    regions = (None,) if number.startswith("+") else REGIONS
    candidate = "+" + number[2:].lstrip() if number.startswith("00") else number
    if candidate.startswith("+"):
        regions = (None,)
    for region in regions:
        try:
            parsed = pn.parse(candidate, region)
        except pn.NumberParseException:
            continue
        if (pn.is_valid_number(parsed) if valid else pn.is_possible_number(parsed)):
            return True
    return False


def _cue_before(text: str, start: int) -> bool:
    window = text[max(0, start - 40):start]
    window = re.split(r"[.;!?]\s|\n(?!\s*$)", window)[-1] if "\n" not in window[-3:] else window
    return bool(_CUE.search(window))


def spans(text: str) -> Iterator[Hit]:
    """Phone numbers in `text`."""
    for m in _CANDIDATE.finditer(text):
        raw = m.group(0).strip()
        start = m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
        end = start + len(raw)
        number = _EXTENSION.sub("", raw)
        digits = re.sub(r"\D", "", number)
        if not 6 <= len(digits) <= 15 or "\n" in raw:
            continue
        if _DATE_LIKE.match(number) or _IP_LIKE.match(number) or number.count("(") != number.count(")"):
            continue
        if _NOT_PHONE_AFTER.match(text, end) or _NOT_PHONE_BEFORE.search(text[max(0, start - 12):start]):
            continue
        grouped = bool(re.search(r"[ \t.\-()/]", number))  # a bare digit run is typed by the words before it
        if number.startswith(("+", "00")) and len(digits) >= 8 and _possible(number, valid=False):
            yield start, end, "PHONE", 0.85, "phone:international"
        elif _cue_before(text, start) and len(digits) >= 6:
            yield start, end, "PHONE", 0.8, "phone:after-cue"
        elif grouped and len(digits) >= 8 and _possible(number, valid=True):
            yield start, end, "PHONE", 0.7, "phone:national"
