"""Addresses written in other scripts: Chinese and Japanese, Korean, Thai, Cyrillic, Greek, Arabic, Hebrew and
Devanagari.

Their structure is regular even where words are not separated by spaces: an address is a run of the script's
letters, digits and separators that holds two or more of its administrative and street words ("東京都新宿区西新宿
2-8-1": 都, 区; "서울시 마포구 월드컵북로 396": 시, 구, 로; "ул. Тверская, д. 12, кв. 48": ул., д., кв.) and a number.
A run with one such word only is a place name in a sentence, not an address.

Yields `(start, end, "ADDRESS", score, recognizer)` like addresses.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

Hit = tuple[int, int, str, float, str]


@dataclass(frozen=True)
class _Script:
    name: str
    run: re.Pattern[str]  # a candidate run: the script's letters, digits and in-address separators
    keywords: re.Pattern[str]  # its administrative and street words


_DIGITS = r"0-9０-９"
_HAN = r"\u4e00-\u9fff\u3400-\u4dbf々〆ヶ\u30a0-\u30ff"  # Han and katakana (building names: ハイツ, タワー)
_SCRIPTS = (
    _Script(
        "cjk",
        # Latin letters only in short runs inside the address ("华星时代广场A座 1108", "望京SOHO T3 B座")
        re.compile(rf"(?:[{_HAN}]|[{_DIGITS}]+(?=[{_HAN}]))(?:(?:[{_HAN}{_DIGITS}\-－‐ー・ 　#＃]|[A-Za-zＡ-Ｚ]{{1,4}}"
                   rf"(?=[{_HAN}{_DIGITS} 　])|[がの](?=[{_HAN}]))*[{_HAN}{_DIGITS}])?"),  # "自由が丘", "霞が関"
        re.compile(r"都|道|府|県|省|市|区|區|县|縣|郡|町|村|镇|鎮|乡|鄉|街道|路|街|大道|丁目|番地|番|号|號|栋|棟|幢|楼|樓|"
                   r"室|階|层|層|巷|弄|里|座|期|单元|單元"),
    ),
    _Script(
        "hangul",
        re.compile(rf"[가-힣{_DIGITS}](?:[가-힣{_DIGITS}\- ,]*[가-힣{_DIGITS}])?"),
        # the suffix is what counts: "서울로 ... 집으로" are two words with the same particle, not an address
        re.compile(r"[가-힣]+?(?P<kind>특별시|광역시|특별자치시|특별자치도|시|도|군|구|읍|면|동|리|로|길|번지|번길|층|호)"
                   r"(?![가-힣])"),
    ),
    _Script(
        "thai",
        re.compile(rf"[\u0e00-\u0e7f{_DIGITS}](?:[\u0e00-\u0e7f{_DIGITS}/\-., ]*[\u0e00-\u0e7f{_DIGITS}])?"),
        re.compile(r"ซอย|ซ\.|ถนน|ถ\.|แขวง|เขต|ตำบล|ต\.|อำเภอ|อ\.|จังหวัด|จ\.|หมู่|ม\.|กรุงเทพ|บ้านเลขที่|เลขที่"),
    ),
    _Script(
        "cyrillic",
        re.compile(rf"[\u0400-\u04ff{_DIGITS}](?:[\u0400-\u04ff{_DIGITS}/\-., ]*[\u0400-\u04ff{_DIGITS}.])?"),
        # a one-letter abbreviation counts only with its full stop ("д. 12"; "с" alone is a preposition)
        re.compile(r"(?i)(?<![\u0400-\u04ff])(?:(?:ул|улица|вул|вулиця|просп|проспект|пер|переулок|площадь|шоссе|"
                   r"бул|бульвар|наб|набережная|дом|буд|кв|квартира|корп|корпус|стр|строение|город|місто|обл|"
                   r"область|р-н|район|село|пос|посёлок|мкр)(?:\.|(?=\s))|(?:д|г|м|с|пр|пл|ш)\.)"),
    ),
    _Script(
        "greek",
        re.compile(rf"[\u0370-\u03ff\u1f00-\u1fff{_DIGITS}](?:[\u0370-\u03ff\u1f00-\u1fff{_DIGITS}/\-., ]*"
                   rf"[\u0370-\u03ff\u1f00-\u1fff{_DIGITS}])?"),
        re.compile(r"(?i)(?<![\u0370-\u03ff])(?:Λεωφόρος|Λεωφ\.|Λ\.|οδός|οδ\.|Πλατεία|Πλ\.|Τ\.Κ\.|ΤΚ|αριθ\.|Αρ\.)"),
    ),
    _Script(
        "arabic",
        re.compile(rf"[\u0600-\u06ff{_DIGITS}\u0660-\u0669](?:[\u0600-\u06ff{_DIGITS}\u0660-\u0669/\-., ]*"
                   rf"[\u0600-\u06ff{_DIGITS}\u0660-\u0669])?"),
        re.compile(r"شارع|طريق|حي|مبنى|عمارة|شقة|الطابق|مدينة|منطقة|ص\.ب|صندوق بريد|الرمز البريدي"),
    ),
    _Script(
        "hebrew",
        re.compile(rf"[\u0590-\u05ff{_DIGITS}](?:[\u0590-\u05ff{_DIGITS}/\-., ]*[\u0590-\u05ff{_DIGITS}])?"),
        re.compile(r"רחוב|רח'|שדרות|שד'|דירה|קומה|כניסה|ת\.ד\.|מיקוד"),
    ),
    _Script(
        "devanagari",
        re.compile(rf"[\u0900-\u097f{_DIGITS}](?:(?:[\u0900-\u097f{_DIGITS}/\-., ]|(?<=[0-9])[A-Za-z](?![A-Za-z]))*"
                   rf"[\u0900-\u097f{_DIGITS}])?"),
        re.compile(r"मकान|नं\.|गली|नगर|मार्ग|रोड|सेक्टर|मोहल्ला|कॉलोनी|जिला|ज़िला|पिन|पोस्ट|ग्राम|तहसील|फ्लैट|"
                   r"अपार्टमेंट|ब्लॉक|फेज़|फेज"),
    ),
)


_KOREAN_REGIONS = frozenset(
    "서울 부산 대구 인천 광주 대전 울산 세종 경기 강원 충북 충남 전북 전남 경북 경남 제주".split()
)
# a Japanese address in kanji numerals: "三軒茶屋二丁目十一番二十号"
_KANJI_NUMBER = re.compile(r"[一二三四五六七八九十百千〇]+(?:丁目|番地|番|号)")
_CYRILLIC_STREETS = {f"{w}{end}" for w in ("ул", "улица", "вул", "вулиця", "просп", "проспект", "пер", "переулок",
                                            "площадь", "шоссе", "бул", "бульвар", "наб", "набережная", "кв",
                                            "квартира", "мкр", "пр", "пл", "ш") for end in (".", "")}


def find(text: str) -> Iterator[Hit]:
    """Addresses in other scripts: runs with two or more address words and a number."""
    for script in _SCRIPTS:
        for m in script.run.finditer(text):
            start, run = m.start(), m.group(0)
            # a sentence ends the address ("Αθήνα. ΑΦΜ: ..."); an abbreviation's full stop does not ("ул. Тверская")
            run = re.split(r"。|(?<=[^\W\d_]{4})\.[ \t]", run)[0]
            if script.name == "hangul" and (lead := re.match(r"[가-힣]+[ \t]+", run)) \
                    and not script.keywords.fullmatch(lead.group(0).strip()) \
                    and lead.group(0).strip() not in _KOREAN_REGIONS:
                start, run = start + lead.end(), run[lead.end():]  # "주소는 서울시 ...": the topic word is not
            if len(run) < 6 or not (re.search(rf"[{_DIGITS}\u0660-\u0669\u0966-\u096f]", run)
                                    or _KANJI_NUMBER.search(run)) \
                    or not re.search(rf"[^\W\d_{_DIGITS}]", run):
                continue
            words = {k.group("kind") if "kind" in k.groupdict() else k.group(0).lower()
                     for k in script.keywords.finditer(run)}
            if script.name == "cyrillic" and not words & _CYRILLIC_STREETS:
                continue  # "дом" (a house) and "г." (a town) alone are words of a sentence
            # Greek, Arabic, Hebrew and Devanagari street words are unambiguous: one and a number is enough
            if script.name == "devanagari" and not re.search(r"[\u0900-\u097f]", run):
                continue  # digits and a Latin letter only ("55Z,203.0.113.47"): no Devanagari address
            if script.name == "devanagari" and re.match(r"\d{1,4}(?:/\d{1,4})?[A-Za-z\u0900-\u097f]?,", run):
                words.add("house-number")  # "47/12, नरही, लखनऊ": a house number opens the address
            if len(words) >= (1 if script.name in ("greek", "arabic", "hebrew", "devanagari") else 2):
                if script.name == "hangul" and (dong := re.match(r"[ \t]*\([가-힣]+동\)", text[start + len(run):])):
                    run += dong.group(0)  # "..., 2층 201호 (봉천동)": the neighbourhood in brackets
                if code := re.search(r"[ \t]*[,，\-–][ \t]*(\d{5,6})\.?$", run):  # "..., Казань, 420111", "जयपुर-३०२०१६"
                    yield start + code.start(1), start + code.end(1), "ZIP", 0.75, f"address:{script.name}-code"
                    run = run[:code.start()]
                yield start, start + len(run), "ADDRESS", 0.75, f"address:{script.name}"
