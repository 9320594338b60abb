"""Dates with their time part, in the languages of the addresses we read, and ages in numbers and words.

Dates: month names in English, German, French, Spanish, Italian, Dutch, Nordic, Portuguese and Polish ("5. März
2024", "le 5 mars", "5 de marzo de 2024", "3 maart", "the 3rd of May", "June 5th"), a time joined to a date
("2024-03-05T14:22:10Z", "05/03/2024 14:22", "14:22 on 5 March", "at 3 pm on the 5th"), and ordinal days after
"on the". Ages: "82 yo", "82yo", "82-year-old", "aged 82", "age: 61", "a 45 y/o", "3-month-old", "82 ans",
"82 Jahre", "82 år", "82 anni", "82 años", "82-jarige", "aged eighty-two", "eighty-two years old".

`dates(text)` and `ages(text)` yield `(start, end, entity, score, recognizer)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Hit = tuple[int, int, str, float, str]

MONTHS = (
    # English
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    # German, French, Spanish, Italian, Dutch, Nordic, Portuguese, Polish (genitive), Finnish (partitive)
    "januar jänner februar märz mai juni juli oktober dezember "
    "janvier février fevrier mars avril juin juillet août aout septembre octobre novembre décembre decembre "
    "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre "
    "gennaio febbraio aprile maggio giugno luglio settembre ottobre dicembre "
    "januari februari maart mei augustus "
    "mars desember maj augusti "
    "janeiro fevereiro março marco maio junho julho setembro outubro novembro dezembro "
    "stycznia lutego marca kwietnia maja czerwca lipca sierpnia września wrzesnia października pazdziernika "
    "listopada grudnia "
    "tammikuuta helmikuuta maaliskuuta huhtikuuta toukokuuta kesäkuuta heinäkuuta elokuuta syyskuuta lokakuuta "
    "marraskuuta joulukuuta "
    "janv févr fév avr juil sept oct déc ene dic gen mag giu lug ago set ott mrt okt mei dez des "
    # Turkish, Czech (genitive), Hungarian, Romanian, Croatian, Hindi
    "ocak şubat mart nisan mayıs haziran temmuz ağustos eylül ekim kasım aralık "
    "ledna února března dubna května června července srpna září října listopadu prosince "
    "január február március április május június július augusztus szeptember október "
    "ianuarie februarie martie aprilie mai iunie iulie septembrie octombrie noiembrie decembrie "
    "siječnja veljače ožujka travnja svibnja lipnja srpnja kolovoza rujna listopada studenoga prosinca "
    "जनवरी फ़रवरी फरवरी मार्च अप्रैल मई जून जुलाई अगस्त सितंबर सितम्बर अक्टूबर अक्तूबर नवंबर नवम्बर दिसंबर दिसम्बर"
).split()
_MONTH = r"(?:" + "|".join(sorted({re.escape(m) for m in MONTHS}, key=len, reverse=True)) + r")\.?"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th|er|e|º|\.)?"
_YEAR = r"(?:\d{4}|'\d{2})"
_ZONE = r"(?:Z|UTC|GMT|CET|CEST|EET|EEST|WET|WEST|[ECMP][SD]T|AK[SD]T|HST|BST|IST|JST|KST|HKT|SGT|AE[SD]T|NZ[SD]T)"
_TIME = (r"(?:[01]?\d|2[0-3])(?::[0-5]\d(?::[0-5]\d(?:[.,]\d+)?)?(?:[ \t]?(?:[ap]\.?m\.?))?|[h.][0-5]\d|h(?![\w])|"
         r"[ \t]?(?:[ap]\.?m\.?)(?![\w]))(?:[ \t]?(?:uur|Uhr|h|godz\.?))?"
         # a second time of a range: "14:00-15:00", "zwischen 14:00 und 15:00 Uhr", "14:00 to 15:30"
         r"(?:[ \t]*(?:[-–]|to|till|until|bis|und|and|à|a|e|og|och|en|do)[ \t]*(?:[01]?\d|2[0-3])(?:[:.h][0-5]\d)?"
         r"(?:[ \t]?[ap]\.?m\.?)?(?:[ \t]?(?:uur|Uhr|h))?)?(?:[ \t]?(?:" + _ZONE + r"|[+\-]\d{2}:?\d{2}))?")
# what joins a time to its date: "5 March, 14:22", "15 June at approximately 23:10", "alle ore 19.10",
# "12/Jun/2024:08:14"
_LINK = (r"(?:[ \t]*[,T:][ \t]*|[ \t]*[,]?[ \t]+(?:(?:at|on|um|à|às|as|a[ \t]+las|alle|ore|alle[ \t]+ore|kl\.?|klo|om|"
         r"the|le|el|il|den|de|dia|ngày|from|von|o[ \t]+godz\.?|zwischen|between|vers|hacia|sobre|gegen|"
         # Czech "v", Turkish "günü saat" / "tarihinde saat", Polish "r., godz.", Spanish "horas del día", "hrs on"
         r"v|ve|saat|günü[ \t]+saat|tarihinde(?:[ \t]+saat)?|r\.,?[ \t]*godz\.?|godz\.?|horas[ \t]+del(?:[ \t]+día)?|"
         r"hrs[ \t]+on|hours[ \t]+on|dne|kello|klockan|"
         r"omkring|rond|cerca[ \t]+de)[ \t]+)?(?:(?:approx\.?|approximately|around|about|ca\.?|circa|~|"
         r"ungefähr|environ|aprox\.?|verso|circa)[ \t]*)?|[ \t]+)")
WEEKDAYS = (
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed weds thu thur thurs fri sat sun "
    "montag dienstag mittwoch donnerstag freitag samstag sonntag mo di mi do fr sa so "
    "lundi mardi mercredi jeudi vendredi samedi dimanche lun mar mer jeu ven sam dim "
    "lunes martes miércoles miercoles jueves viernes sábado sabado domingo "
    "lunedì lunedi martedì martedi mercoledì mercoledi giovedì giovedi venerdì venerdi sabato domenica "
    "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag ma wo vr za zo "
    "mandag tirsdag onsdag torsdag fredag lørdag lordag søndag måndag tisdag lördag söndag "
    "maanantai tiistai keskiviikko torstai perjantai lauantai sunnuntai ma ti ke to pe la su "
    "segunda terça quarta quinta sexta sábado domingo"
).split()
_WEEKDAY = r"(?:" + "|".join(sorted({re.escape(w) for w in WEEKDAYS if len(w) > 2}, key=len, reverse=True)) + r")\.?,?"
# two-letter weekdays ("Mi.", "ke", "do") are words too ("to", "ma"): only before a day and month
_WEEKDAY2 = r"(?:" + "|".join(sorted({re.escape(w) for w in WEEKDAYS if len(w) == 2})) + r")\.?,?"
# a day without its year: "17.04.", "3/6", "28/05", "26/4" (d/m or m/d), after a weekday or a date word, or with
# the German/Nordic trailing dot; "6/9" alone is as likely a ratio
_DAY_MONTH = (r"(?:[12]\d|3[01]|0?[1-9])(?:[./]|\.[ \t])(?:1[0-2]|0?[1-9])\.?"
              r"|(?:1[0-2]|0?[1-9])/(?:[12]\d|3[01]|0?[1-9])")
_DATE_CUES = (r"on|am|le|el|il|op|den|d\.|dal|del|vom|bis|til|till|fra|från|from|until|since|by|dated|date|datum|"
              r"fecha|data|emails?|posted|the|du|au|ab|seit|t\.o\.m\.|innen|hasta|em|à|ao|al|ngày|before|after|"
              r"dne|od|do|ke|dňa|dnia|due|expires?|exp\.?|valid|until|termín|doručena|doručení|úraz\w*|"
              r"lyžování")
_SHORT_DATES = [
    # a month and year after an expiry word: "expires 03/2031", "Exp: 09/27", "gültig bis 03.2030"
    re.compile(r"(?i)(?<![\w])(?:expires?|expiry|exp\.?|valid[ \t]+(?:until|thru|through|to)|gültig[ \t]+bis|"
               r"válido[ \t]+até|valable[ \t]+jusqu'au|caduca|scadenza)[ \t:]*"
               r"(?P<d>(?:0?[1-9]|1[0-2])[/.\-](?:20\d{2}|\d{2}))(?![\w/]|[.,]\d)"),
    # a weekday and a day: "Mi., 17.04.", "sabato 8", "Weds 19th", "tirsdag d. 14.", "ke 15.5."
    re.compile(rf"(?i)(?<![\w]){_WEEKDAY}[ \t]+(?:d\.[ \t]*|den[ \t]+|día[ \t]+|dia[ \t]+|le[ \t]+|the[ \t]+)?"
               rf"(?P<d>{_DAY_MONTH}|(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th|\.)?)(?![\w/]|\.\d)"),
    re.compile(rf"(?i)(?<![\w]){_WEEKDAY2}[ \t]+(?:d\.[ \t]*|den[ \t]+)?(?P<d>{_DAY_MONTH})(?![\w/]|\.\d)"),
    # the German/Nordic day and month with their dots: "17.04.", "24.05."
    re.compile(r"(?<![\w/.,\-])(?P<d>(?:[12]\d|3[01]|0?[1-9])\.(?:1[0-2]|0[1-9])\.)(?![\w/]|\d)"),
    # after a date word: "le 28/05", "t.o.m. 26/4", "emails 5/2", "innen 28.06"
    re.compile(rf"(?i)(?<![\w])(?:{_DATE_CUES})[ \t]+(?P<d>{_DAY_MONTH})(?![\w/]|[.,]\d)"),
    # before a time: "3/18 10:42", "03/06 01:52"
    re.compile(rf"(?<![\w/.,\-])(?P<d>{_DAY_MONTH})(?=[ \t]+(?:(?i:at|um|kl\.?|klo|ore|às|à)[ \t]*)?"
               r"(?:[01]?\d|2[0-3])[:.h][0-5]\d)"),
    # at the start of a line of a list: " - 04/02 UBER *EATS"
    re.compile(r"(?m)^[ \t]*(?:[-*•][ \t]*)?(?P<d>(?:[12]\d|3[01]|0?[1-9])/(?:[12]\d|3[01]|0?[1-9]))(?=[ \t])"),
]
_CJK_DATES = re.compile(r"(?:\d{2,4}[ \t]*年[ \t]*)?\d{1,2}[ \t]*月[ \t]*\d{1,2}[ \t]*日(?:[（(][月火水木金土日][）)])?"
                        r"|\d{4}년[ \t]*\d{1,2}월[ \t]*\d{1,2}일|\d{1,2}월[ \t]*\d{1,2}일|\d{4}年\d{1,2}月")
# "4 t/m 11 juni 2024", "June 10–12, 2024", "vom 03.06. bis", "nuit du 14 au 15 octobre": a day joined to a date
_DAY_WORDS_BEFORE = re.compile(
    rf"(?i)(?<![\w])(?:(?:{_WEEKDAY}|{_WEEKDAY2})(?:[ \t]+(?:d\.|den|dia|día|ngày))?|d\.|den|dia|día|ngày)[ \t]*$"
)
_RANGE_BEFORE = re.compile(r"(?<![\w./\-])(?:[12]\d|3[01]|0?[1-9])(?:[./](?:1[0-2]|0?[1-9])(?![\d]))?"
                           r"(?:st|nd|rd|th|\.)?[ \t]*(?:[-–]|t/m|au|bis|to|till|til|tot|a|al|et)[ \t]*$")
_RANGE_AFTER = re.compile(r"^[ \t]*(?:[-–]|to|bis|au|al|a|til|till|t/m)[ \t]*(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
                          r"(?:,?[ \t]+\d{4}(?![\w])|(?=[ \t]*,))")

_WORD_DATES = re.compile(
    rf"(?i)(?<![\w])(?:{_DAY}[ \t]*(?:de[ \t]+|of[ \t]+|-|/)?{_MONTH}"
    rf"(?:[ \t,\-/]*(?:de[ \t]+|del[ \t]+)?{_YEAR})?"
    rf"|{_MONTH}[ \t]+(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?(?:[ \t,]+{_YEAR})?|{_MONTH}[ \t,]+{_YEAR})"
    r"(?![\w]|[-/]\d)"
)
_NUMERIC_DATES = re.compile(
    r"(?<![\w/.\-])(?:\d{4}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|[12]\d|3[01])[-/.](?:\d{4}|\d{2}))(?![\dA-SU-Za-z_/]|[.\-]\d)"
)
_ON_THE = re.compile(
    r"(?i)(?<![\w])(?:on|the|le|el|am|den)[ \t]+(?:the[ \t]+)?((?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th))(?![\w])"
)
_TIME_RE = re.compile(rf"(?i)(?:(?<=\dT)|(?<=[a-z]{{3}}/\d{{4}}:)|(?<![\w:.]))(?:{_TIME})(?![\w:])")  # "Jun/2024:08:14"
_HALF_DAY = "午前|午後|上午|下午|凌晨|早上|晚上|中午|오전|오후"
# times written in other ways: "14時20分", "午後6時15分", "凌晨02:17", "下午3:12", "오전 10시 20분", "सुबह 10:30 बजे",
# "0215 hrs", "2330 hours"
_TIME_OTHER = re.compile(
    rf"(?:{_HALF_DAY})?[ \t]*(?:[01]?\d|2[0-3])(?:時|时|시)(?:[ \t]*[0-5]?\d(?:分|분))?"
    rf"|(?:{_HALF_DAY})[ \t]*(?:[01]?\d|2[0-3])[:：][0-5]\d"
    r"|(?:सुबह|शाम|दोपहर|रात)[ \t]+(?:[01]?\d|2[0-3])[:.][0-5]\d(?:[ \t]*बजे)?"
    r"|(?<![\w:.])(?:[01]\d|2[0-3])[0-5]\d[ \t]?(?:hrs|hours|h)(?![\w])"
)
_TIME_OTHER_HINT = re.compile(r"[時时시]|hrs|hours|\dh\b|बजे|सुबह|शाम|दोपहर|रात|午|凌晨|早上|晚上|오[전후]")
# other scripts' digits read as ASCII digits, one character for one (offsets stay): "०५/०८/१९५६", "١٢/٠٣/٢٠٢٤"
_DIGITS = str.maketrans({chr(zero + i): str(i) for zero in (0x0966, 0x0660, 0x06F0, 0xFF10) for i in range(10)})
# day, month (and year) with a space after each dot (Czech, Slovak, Hungarian, Korean): "14. 2. 2024", "20. 1.",
# "2024. 8. 25."
_SPACED_DATES = re.compile(
    r"(?<![\w.])(?:[12]\d|3[01]|0?[1-9])\.[ \t](?:1[0-2]|0?[1-9])\.[ \t]?\d{4}(?![\d])"
    r"|(?<![\w.])\d{4}\.[ \t]?(?:1[0-2]|0?[1-9])\.[ \t]?(?:[12]\d|3[01]|0?[1-9])\.?(?![\d])"
)


# dates said in words, as on a call: "June fourth, nineteen seventy-six", "twenty-second of November sixty-four",
# "Fourth of the ninth, ninety-five", "Oh-three, twelve, two-thousand-one"
_UNITS_EN = "one two three four five six seven eight nine".split()
_ORDINALS_EN = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
                "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth").split()
_CARDINALS_EN = (_UNITS_EN + "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty "
                 "thirty forty fifty sixty seventy eighty ninety hundred thousand oh".split())
_SPOKEN_WORD = (r"(?:" + "|".join(sorted(_ORDINALS_EN + _CARDINALS_EN, key=len, reverse=True)) + r")"
                r"(?:-(?:" + "|".join(sorted(_ORDINALS_EN + _CARDINALS_EN + ["and"], key=len, reverse=True)) + r"))*")
_SPOKEN_PART = rf"(?:{_SPOKEN_WORD}|{_MONTH.removesuffix(chr(92) + '.?')})"  # no full stop: "March. One hundred"
_SPOKEN_DATE = re.compile(
    rf"(?i)(?<![\w\-]){_SPOKEN_PART}(?:(?:[ \t]*,[ \t]*|[ \t]+(?:of[ \t]+)?(?:the[ \t]+)?|[ \t]+and[ \t]+)"
    rf"{_SPOKEN_PART}){{1,6}}(?![\w\-])"
)
_ORDINAL_RE = re.compile(r"(?i)(?:" + "|".join(_ORDINALS_EN) + r")|\b(?:twenty|thirty)-(?:first|second|third|"
                         r"fourth|fifth|sixth|seventh|eighth|ninth)\b")
_MONTH_RE = re.compile(rf"(?i)(?<![\w]){_MONTH}(?![\w])")
_BIRTH_CUE = re.compile(r"(?i)date of birth|birth ?date|\bdob\b|d\.o\.b|\bborn\b|birthday|\bdate\b")


def spoken_dates(text: str) -> Iterator[tuple[int, int]]:
    """English dates in words: with a month and a day or year in words, or three numbers after a date cue."""
    for m in _SPOKEN_DATE.finditer(text):
        piece = m.group(0)
        numbers = [w for w in re.split(r"[\s,]+|\bof\b|\bthe\b", piece) if w and not _MONTH_RE.fullmatch(w)
                   and w.lower() not in ("and", "oh")]
        month = _MONTH_RE.search(piece)
        if month and (month.group(0)[0].isupper() or piece.islower()) and (
                _ORDINAL_RE.search(piece) or len(numbers) >= 2):
            yield m.start(), m.end()
        elif len(numbers) >= 3 and _BIRTH_CUE.search(text[max(0, m.start() - 100):m.start()]):
            yield m.start(), m.end()


def dates(text: str) -> Iterator[Hit]:
    """Dates (with a time joined to them) in `text`."""
    text = text.translate(_DIGITS)
    found: list[tuple[int, int]] = []
    for m in (m for pattern in _SHORT_DATES for m in pattern.finditer(text)):
        day = m.group("d")  # "17.04." keeps its dot, "19th." ends a sentence
        found.append((m.start("d"), m.end("d") - (day.endswith(".") and not re.search(r"\.\d+\.$", day))))
    for pattern in (_WORD_DATES, _NUMERIC_DATES, _CJK_DATES, _SPACED_DATES):
        for m in pattern.finditer(text):
            piece = m.group(0)
            if not any(c.isdigit() for c in piece):
                continue
            if re.match(r"(?i)^may[ \t]+\d", piece) and piece[0] == "m":
                continue  # "may 5 doses": the verb
            if re.match(r"(?i)^(?:mar|dec|sept|set|gen|mag|ago|des|ene|dic|mei|oct)\.?[ \t,]+\d{4}$", piece) \
                    and piece[0].islower():
                continue
            found.append((m.start(), m.end() - piece.endswith(".")))  # "March 5." ends a sentence
    for m in _ON_THE.finditer(text):
        found.append((m.start(1), m.end(1)))
    found.extend(spoken_dates(text))
    times = [(m.start(), m.end()) for m in _TIME_RE.finditer(text)
             if re.search(r"[:h.]\d|[ap]\.?m|\dh$", m.group(0), re.I)]
    if _TIME_OTHER_HINT.search(text):  # a cheap look first: most texts have none of these
        times += [(m.start() + len(m.group(0)) - len(m.group(0).lstrip()), m.end())
                  for m in _TIME_OTHER.finditer(text)]
    for start, end in found:
        # searched in place (pos/endpos), so that what comes before the window still counts for look-behinds
        if m := _RANGE_BEFORE.search(text, max(0, start - 22), start):
            start = m.start()
        if m := _DAY_WORDS_BEFORE.search(text, max(0, start - 24), start):
            start = m.start()  # "Weds 19th June", "tirsdag d. 14. maj", "ke 15.5.", "jueves día 20"
        if m := _RANGE_AFTER.match(text[end:end + 16]):
            end += m.end()
        # a time right after the date ("2024-03-05T14:22", "5 March, 14:22") or right before it ("14:22 on 5 March")
        for t_start, t_end in times:
            if t_start >= end and re.fullmatch(_LINK, text[end:t_start]):
                end = t_end
            elif t_end <= start and re.fullmatch(_LINK, text[t_end:start]):
                start = t_start
        yield start, end, "DATE", 0.8, "date:multilingual"


_OLD_UNITS = (
    r"(?:y/o|y\.o\.|yo|yoa|yrs?[ \t\-]*old|years?[ \t\-]*old|months?[ \t\-]*old|weeks?[ \t\-]*old|"
    r"days?[ \t\-]*old|jährige[rn]?|jarige|vuotias|åring|åriga?|years?[ \t]+of[ \t]+age|jahre[ \t]+alt|"
    r"år[ \t]+gammel|år[ \t]+gammal|jaar[ \t]+oud|anni|ans|años|anos|lat|lata|jr|j\.|jährig|jarig|wk[ \t\-]*old|"
    r"wks?[ \t\-]*old|mo[ \t\-]*old|세|살|歳|岁|tuổi|yaşında|yaş|let|roků|éves|ani|godina|वर्ष|साल|वर्षीय)"
)
_YEAR_UNITS = r"(?:years?|yrs?|jahre|år|jaar|vuotta)"
_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred "
    # French, Spanish, Italian, Portuguese, German, Dutch, Nordic tens and units (compounds are matched whole below)
    "un une deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize vingt trente "
    "quarante cinquante soixante cent uno dos tres cuatro cinco seis siete ocho nueve diez veinte treinta "
    "cuarenta cincuenta sesenta setenta ochenta noventa cien um uma duas três quatro oito nove dez vinte trinta "
    "quarenta cinquenta sessenta oitenta due tre quattro sei sette otto dieci venti trenta quaranta cinquanta "
    "sessanta settanta ottanta novanta cento ein eins zwei drei vier fünf sechs sieben acht neun zehn zwanzig "
    "dreißig vierzig fünfzig sechzig siebzig achtzig neunzig een twee drie vijf zes zeven negen tien twintig "
    "dertig veertig vijftig zestig zeventig tachtig negentig en ett to tre fire fem seks sju åtte ni ti tjue tjugo "
    "tretti trettio førti fyrtio femti femtio seksti sextio sytti sjuttio åtti åttio nitti nittio "
    "dois cinco seis sete setenta noventa cem "
    # Korean native numbers, as ages are said: "여든다섯" (85), "스물셋" (23)
    "스물 서른 마흔 쉰 예순 일흔 여든 아흔 하나 둘 셋 넷 다섯 여섯 일곱 여덟 아홉 열 한 두 세 네"
).split()
_NW = r"(?:" + "|".join(sorted(set(_NUMBER_WORDS), key=len, reverse=True)) + r")+"  # "settantadue", "tjugofem"
_AGE_WORDS = (rf"{_NW}(?:[\- ]{_NW})*(?:[ \t]+(?:and|&|y|e|et|und|en|og|och)[ \t]+{_NW}(?:[\- ]{_NW})*)?")
# a CJK unit may have a particle after it: "45세로", "45歳の"
_AGE_OLD = re.compile(rf"(?i)(?:(?<![\w.,\-])|(?<=[満約约]))(?P<age>\d{{1,3}})[ \t]*-?[ \t]*{_OLD_UNITS}"
                      r"(?:(?<=[세살歳岁])|(?![\w]))")
_AGE_SEX = re.compile(
    r"(?<![\w.,\-])(?P<age>\d{1,3}(?:[ \t]?[Yy](?:rs?)?)?)[ \t]?/?[ \t]?[MFmf](?![\w])"
    r"(?=[ \t]*[,;)(:.]|[ \t]+(?:with|w/|c/o|pt|presents|patient)|[ \t]{2,}|[ \t]*$)"
    r"|(?<![\w])(?:[MF]|male|female|man|woman|boy|girl|homme|femme|mann|frau|varón|mujer|uomo|donna)[ \t]*[,/][ \t]*"
    r"(?P<age2>\d{1,3})(?![\w.,]\d|[\w])"
    # "(64)" or "(64 y)" right after a date of birth: the age it gives
    r"|(?<=\d)[ \t]*\([ \t]*(?P<age3>\d{1,3}(?:[ \t]*(?:y|yrs?|J\.?|a|ans|años|anni|år))?)[ \t]*\)"
)
_AGE_YEARS = re.compile(rf"(?i)(?<![\w.,\-])(?P<age>\d{{1,3}})[ \t]*{_YEAR_UNITS}(?![\w])")
_DURATION_BEFORE = re.compile(r"(?i)(?:for|over|past|last|next|within|after|since|in|during|every|pendant|depuis|"
                              r"durante|hace|per|für|seit|vor|i|om|sedan|ago|of|than|about|around|nearly|almost)"
                              r"[ \t]+$")
_AGE_CUE = re.compile(
    rf"(?i)(?:(?<![\w])|(?<=[\u3040-\u9fff가-힣]))"
    rf"(?:aged?|age[ \t]*[:=]|ages|alter|âge|âgée?|edad|età|leeftijd|ålder|alder|ikä|wiek|idade|yaş|"
    rf"lat|anni|années|jahre|år|I'm|I am|he's|she's|he is|she is|who is|turned|turns|בת|בן|approx\.?|~|"
    rf"उम्र|आयु|年齢|年龄|나이|อายุ|العمر|גיל|возраст|ηλικία|"
    # "my dad is 78", "her son just turned 6"
    rf"(?:my|his|her|our|their|the)[ \t]+(?:dad|father|mum|mom|mother|son|daughter|wife|husband|partner|grandma|"
    rf"grandpa|grandmother|grandfather|nan|gran|granny|brother|sister|child|kid|baby|boy|girl|aunt|uncle|stepson|"
    rf"stepdaughter|niece|nephew|patient|client|tenant)[ \t]+(?:is|was|just[ \t]+turned|turned|turns)(?:[ \t]+only)?|"
    # turning an age in other languages: "mormor fyller 80", "täyttää 85", "cumple 70", "wordt zestig", "今年70"
    rf"fyller|fylte|fyldte|fylder|täyttää|täytti|cumple|cumplirá|cumplió|wordt|werd|compie|compirà|faz|fará|"
    rf"completa|wird|fête|feiert|今年|올해|満)"
    rf"[ \t:]*(?:of[ \t]+)?(?P<age>\d{{1,3}}|{_AGE_WORDS}|[一二三四五六七八九十]{{1,4}})"
    r"(?![0-9A-Za-z_]|[-+.]\d|[-+])"
    r"(?![ \t]*(?:%|mg|kg|kilos?|lbs?|pounds|cm|mm|ft|foot|feet|inch|inches|stone|mmol|bpm|°|percent|times|"
    r"miles|km|minutes|hours|o'?clock|[ap]\.?m\b|uhr\b|h\b|stunden|minuten|min\b|euro|€|\$))"
)
# "2 Kinder (5 und 8 Jahre)", "two children aged 4 and 7": the first of two ages sharing their unit
_AGE_PAIR = re.compile(r"(?i)(?<![\w.,\-])(?P<age>\d{1,2})[ \t]*(?:und|and|y|et|e|en|og|och|&|,)[ \t]*\d{1,2}[ \t]*"
                       r"(?:Jahre|years?|yrs|ans|años|anni|jaar|år|lat|y/?o)(?![\w])")
_AGE_WORDS_UNIT = re.compile(
    rf"(?i)(?<![\w])(?P<age>{_AGE_WORDS})(?:[ \t\-]+(?:years?|yrs?|months?)[ \t\-]+old|[ \t]+(?:ans|años|anni|anos|"
    rf"jahre|jaar|år|lat|years))(?![\w])"
)
# a number right after a person's name is their age: "Priyanka Raghunathan, 34, 28/40", "Léa (6)", "Jordan is 12 and"
AFTER_NAME = re.compile(
    rf"(?i)^(?:[ \t]*\([^)\n]{{1,40}}\)(?=[ \t]*,))?"  # "Deepak Chaudhary (staff ID 448120), 39, porter"
    rf"(?:[ \t]*,[ \t]*|[ \t]*\([ \t]*(?:(?:son|daughter|child|kid|brother|sister|grandson|granddaughter|niece|"
    rf"nephew|fils|fille|hijo|hija|filho|filha|figlio|figlia|sohn|tochter|zoon|dochter)[ \t]*,[ \t]*)?"
    rf"|[ \t]+(?:is|was|ist|est|er|är|who is|aged?)[ \t]+)(?:~|approx\.?[ \t]*)?"
    rf"(?P<age>\d{{1,3}}(?:[ \t]+1/2|½)?|{_AGE_WORDS})(?:[ \t]*(?:y|yo|y/o|yrs?|J\.?|jr|m|f|M|F|years?|months?|mo))?"
    r"(?=[ \t]*(?:[,;)]|\.(?:\s|$)|$|and\b|und\b|et\b|y\b|\n))"
)


_DOB_BEFORE = re.compile(r"(?i)(?:dob|d\.o\.b\.?|born|birth|geb\.?|né|née|nacid[oa]|nato|nata|f[øö]dd?|syntynyt)"
                         r"[^\n]{0,30}\d$")


def age_after_name(text: str, end: int) -> tuple[int, int] | None:
    """The age right after a person's name that ends at `end`, if there is one."""
    m = AFTER_NAME.match(text[end:end + 96])
    if not m or (m.group("age").isdigit() and int(m.group("age")) > 120):
        return None
    return end + m.start("age"), end + m.end("age")


def ages(text: str) -> Iterator[Hit]:
    """Ages in `text`."""
    for m in _AGE_OLD.finditer(text):
        if int(m.group("age")) <= 125 and "ago" not in text[m.end():m.end() + 6].lower():
            yield m.start(), m.end(), "AGE", 0.85, "age:number"
    for m in _AGE_SEX.finditer(text):
        group = "age" if m.group("age") else "age2" if m.group("age2") else "age3"
        number = int(re.match(r"\d+", m.group(group)).group(0))
        if number <= 110 and (group != "age3" or _DOB_BEFORE.search(text[max(0, m.start() - 40):m.start()])):
            yield m.start(group), m.end(group) if group == "age3" else m.end(), "AGE", 0.6, "age:number-sex"
    for m in _AGE_YEARS.finditer(text):
        # "82 years" is an age unless it is a duration: "for 3 years", "10 years ago", "years of service"
        after = text[m.end():m.end() + 12].lower()
        if int(m.group("age")) > 125 or _DURATION_BEFORE.search(text[max(0, m.start() - 12):m.start()]) \
                or re.match(r"[ \t]*(?:ago|of[ \t]+(?!age)|in[ \t]|later|earlier|before|after|since)", after):
            continue
        yield m.start(), m.end(), "AGE", 0.6, "age:years"
    for pattern in (_AGE_CUE, _AGE_WORDS_UNIT, _AGE_PAIR):
        for m in pattern.finditer(text):
            yield m.start("age"), m.end("age"), "AGE", 0.8, "age:cue"
