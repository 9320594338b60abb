# ruff: noqa: E501 -- the frame templates below are prose; their lines are kept as written
"""Independent PII evaluation texts built from Faker's non-US locale providers.

Every text is assembled from a hand-written frame (a template with `{key}` slots) whose slots are filled with
values from one Faker locale. Each slot yields segments `(entity or None, text)`; the text is the concatenation of
all segments and every span offset is recorded while the segments are appended -- nothing is searched for in the
finished text. Labels follow bench/privacy_data/LABELS.md.

    .venv/bin/python bench/privacy_data/faker_locales/generate.py [--seed 20261129] [--count 900] [--out PATH]

Output: JSON lines like markup.py writes: {"id", "source", "genre", "lang", "text", "spans"}; `lang` is the
Faker locale the values came from.

Template syntax (frames below):
    {key}            a value (see Ctx.make); `{key:upper}`, `{key:lower}`, `{key:cap}` change its case
    {g:a|b}          plain text chosen by the main person's gender (a = male, b = female); `{g2:...}` second person
    {r:a|b|c}        plain text chosen at random
    {loc:pt_BR=a;*=b}  plain text chosen by locale (`*` = default)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
import textwrap
import unicodedata
from collections import Counter
from importlib.metadata import version as pkg_version
from pathlib import Path

from faker import Faker

# fmt: off
ENTITIES = ("PERSON", "ADDRESS", "ZIP", "PHONE", "ID", "DATE", "AGE", "EMAIL", "CARD", "ACCOUNT", "IP", "URL")
SOURCE = "faker_locales"

# nb_NO is not a Faker locale (Faker ships Norwegian Bokmal as no_NO), so no_NO stands for it.
LOCALES = ["en_GB", "en_IE", "en_CA", "fr_CA", "en_AU", "en_IN", "hi_IN", "de_DE", "de_AT", "de_CH", "fr_FR",
           "fr_CH", "nl_NL", "nl_BE", "no_NO", "sv_SE", "da_DK", "fi_FI", "it_IT", "es_ES", "es_MX", "pt_PT",
           "pt_BR", "pl_PL", "cs_CZ", "tr_TR", "ja_JP", "zh_CN", "ko_KR"]
LANG = {loc: loc.split("_")[0] for loc in LOCALES}
P_LOCAL = 0.55          # share of texts in the locale's own language (for non-English locales)
NO_PII_EVERY = 20       # every 20th text carries no personal data (5 %)

# --------------------------------------------------------------------------------------------------------------
# Static tables (written for this generator)
# --------------------------------------------------------------------------------------------------------------

MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
    "no": "januar februar mars april mai juni juli august september oktober november desember",
    "sv": "januari februari mars april maj juni juli augusti september oktober november december",
    "da": "januar februar marts april maj juni juli august september oktober november december",
    "fi": "tammikuuta helmikuuta maaliskuuta huhtikuuta toukokuuta kesäkuuta heinäkuuta elokuuta syyskuuta "
          "lokakuuta marraskuuta joulukuuta",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "pt": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
    "pl": "stycznia lutego marca kwietnia maja czerwca lipca sierpnia września października listopada grudnia",
    "cs": "ledna února března dubna května června července srpna září října listopadu prosince",
    "tr": "Ocak Şubat Mart Nisan Mayıs Haziran Temmuz Ağustos Eylül Ekim Kasım Aralık",
    "hi": "जनवरी फ़रवरी मार्च अप्रैल मई जून जुलाई अगस्त सितंबर अक्टूबर नवंबर दिसंबर",
}
MONTHS = {k: v.split() for k, v in MONTHS.items()}
WEEKDAYS = {
    "en": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split(),
    "de": "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag".split(),
    "fr": "lundi mardi mercredi jeudi vendredi samedi dimanche".split(),
}
# long date "5 March 2024" per language ({d} day, {M} month name, {Y} year)
LONG = {"de": "{d}. {M} {Y}", "fr": "{d} {M} {Y}", "nl": "{d} {M} {Y}", "no": "{d}. {M} {Y}",
        "sv": "{d} {M} {Y}", "da": "{d}. {M} {Y}", "fi": "{d}. {M} {Y}", "it": "{d} {M} {Y}",
        "es": "{d} de {M} de {Y}", "pt": "{d} de {M} de {Y}", "pl": "{d} {M} {Y}", "cs": "{d}. {M} {Y}",
        "tr": "{d} {M} {Y}", "hi": "{d} {M} {Y}", "ja": "{Y}年{m}月{d}日", "zh": "{Y}年{m}月{d}日",
        "ko": "{Y}년 {m}월 {d}일"}
DAYMONTH = {"de": "{d}. {M}", "fr": "{d} {M}", "nl": "{d} {M}", "no": "{d}. {M}", "sv": "{d} {M}",
            "da": "{d}. {M}", "fi": "{d}. {M}", "it": "{d} {M}", "es": "{d} de {M}", "pt": "{d} de {M}",
            "pl": "{d} {M}", "cs": "{d}. {M}", "tr": "{d} {M}", "hi": "{d} {M}", "ja": "{m}月{d}日",
            "zh": "{m}月{d}日", "ko": "{m}월 {d}일"}
NUMERIC = {
    "en_GB": ["DD/MM/YYYY", "D/M/YYYY", "DD/MM/YY"], "en_IE": ["DD/MM/YYYY", "D/M/YYYY"],
    "en_AU": ["DD/MM/YYYY", "D/M/YYYY"], "en_IN": ["DD/MM/YYYY", "DD-MM-YYYY"], "hi_IN": ["DD/MM/YYYY", "DD-MM-YYYY"],
    "en_CA": ["YYYY-MM-DD", "MM/DD/YYYY", "DD/MM/YYYY"], "fr_CA": ["YYYY-MM-DD", "DD/MM/YYYY"],
    "de_DE": ["DD.MM.YYYY", "D.M.YYYY"], "de_AT": ["DD.MM.YYYY", "D.M.YYYY"], "de_CH": ["DD.MM.YYYY", "D.M.YYYY"],
    "fr_FR": ["DD/MM/YYYY"], "fr_CH": ["DD.MM.YYYY", "DD/MM/YYYY"], "nl_NL": ["DD-MM-YYYY", "D-M-YYYY"],
    "nl_BE": ["DD/MM/YYYY", "DD-MM-YYYY"], "no_NO": ["DD.MM.YYYY", "D.M.YYYY"], "sv_SE": ["YYYY-MM-DD"],
    "da_DK": ["DD.MM.YYYY", "DD-MM-YYYY", "D/M YYYY"], "fi_FI": ["D.M.YYYY", "DD.MM.YYYY"],
    "it_IT": ["DD/MM/YYYY", "D/M/YYYY"], "es_ES": ["DD/MM/YYYY", "D-M-YYYY"], "es_MX": ["DD/MM/YYYY"],
    "pt_PT": ["DD/MM/YYYY", "DD-MM-YYYY"], "pt_BR": ["DD/MM/YYYY"], "pl_PL": ["DD.MM.YYYY", "DD-MM-YYYY"],
    "cs_CZ": ["D. M. YYYY", "DD.MM.YYYY"], "tr_TR": ["DD.MM.YYYY", "DD/MM/YYYY"],
    "ja_JP": ["YYYY/MM/DD", "YYYY-MM-DD"], "zh_CN": ["YYYY-MM-DD", "YYYY/MM/DD", "YYYY.MM.DD"],
    "ko_KR": ["YYYY. M. D.", "YYYY-MM-DD", "YYYY.MM.DD"],
}
TITLES = {  # (male, female) courtesy titles; written before the name and never labelled
    "en": (["Mr", "Mr.", "Dr"], ["Mrs", "Ms", "Miss", "Dr", "Mrs."]),
    "de": (["Herr", "Herrn", "Dr."], ["Frau", "Dr."]),
    "fr": (["M.", "Monsieur"], ["Mme", "Madame"]),
    "nl": (["dhr.", "de heer"], ["mevr.", "mevrouw"]),
    "it": (["Sig.", "Dott."], ["Sig.ra", "Dott.ssa"]),
    "es": (["Sr.", "D."], ["Sra.", "Dña."]),
    "pt": (["Sr.", "Dr."], ["Sra.", "Dra."]),
    "pl": (["Pan"], ["Pani"]),
    "cs": (["pan"], ["paní"]),
    "hi": (["श्री"], ["श्रीमती"]),
}
DOCTOR = {"en": "Dr", "de": "Dr.", "fr": "Dr", "nl": "dr.", "it": "Dott.", "es": "Dr.", "pt": "Dr.", "pl": "dr",
          "cs": "MUDr.", "sv": "dr", "no": "dr.", "da": "dr.", "fi": "LL", "tr": "Dr.", "hi": "डॉ."}
COUNTRY = {  # (English, own language); never labelled
    "en_GB": ("United Kingdom", "UK"), "en_IE": ("Ireland", "Ireland"), "en_CA": ("Canada", "CANADA"),
    "fr_CA": ("Canada", "Canada"), "en_AU": ("Australia", "AUSTRALIA"), "en_IN": ("India", "India"),
    "hi_IN": ("India", "भारत"), "de_DE": ("Germany", "Deutschland"), "de_AT": ("Austria", "Österreich"),
    "de_CH": ("Switzerland", "Schweiz"), "fr_FR": ("France", "France"), "fr_CH": ("Switzerland", "Suisse"),
    "nl_NL": ("Netherlands", "Nederland"), "nl_BE": ("Belgium", "België"), "no_NO": ("Norway", "Norge"),
    "sv_SE": ("Sweden", "Sverige"), "da_DK": ("Denmark", "Danmark"), "fi_FI": ("Finland", "Suomi"),
    "it_IT": ("Italy", "Italia"), "es_ES": ("Spain", "España"), "es_MX": ("Mexico", "México"),
    "pt_PT": ("Portugal", "Portugal"), "pt_BR": ("Brazil", "Brasil"), "pl_PL": ("Poland", "Polska"),
    "cs_CZ": ("Czech Republic", "Česká republika"), "tr_TR": ("Turkey", "Türkiye"), "ja_JP": ("Japan", "日本"),
    "zh_CN": ("China", "中国"), "ko_KR": ("South Korea", "대한민국"),
}
CURRENCY = {  # amount formats ({a} = 1,234.56 style number, {c} = 1.234,56, {s} = 1 234,56, {i} = 1234)
    "en_GB": ["£{a}"], "en_IE": ["€{a}"], "en_CA": ["${a}", "CAD {a}"], "fr_CA": ["{s} $"], "en_AU": ["${a}", "A${a}"],
    "en_IN": ["₹{a}", "Rs. {a}"], "hi_IN": ["₹{a}", "{i} रुपये"], "de_DE": ["{c} €", "EUR {c}"], "de_AT": ["€ {c}"],
    "de_CH": ["CHF {a}"], "fr_FR": ["{s} €"], "fr_CH": ["{a} CHF"], "nl_NL": ["€ {c}"], "nl_BE": ["€ {c}"],
    "no_NO": ["{s} kr", "NOK {i}"], "sv_SE": ["{s} kr"], "da_DK": ["{c} kr.", "DKK {c}"], "fi_FI": ["{s} €"],
    "it_IT": ["€ {c}", "{c} euro"], "es_ES": ["{c} €"], "es_MX": ["${a} MXN"], "pt_PT": ["{c} €"],
    "pt_BR": ["R$ {c}"], "pl_PL": ["{s} zł"], "cs_CZ": ["{s} Kč"], "tr_TR": ["{c} TL", "₺{c}"],
    "ja_JP": ["{I}円", "¥{I}"], "zh_CN": ["¥{a}", "{i}元"], "ko_KR": ["{I}원", "₩{I}"],
}
DRUGS = ["amlodipine 5 mg od", "metformin 500 mg bd", "atorvastatin 20 mg nocte", "ramipril 2.5 mg od",
         "apixaban 5 mg bd", "co-amoxiclav 625 mg tds", "sertraline 50 mg od", "levothyroxine 75 micrograms",
         "furosemide 40 mg mane", "prednisolone 30 mg for 5 days", "insulin glargine 18 units at night",
         "bisoprolol 2.5 mg", "omeprazole 20 mg", "paracetamol 1 g qds prn", "morphine sulfate 10 mg/5 ml 2.5 ml prn"]
VITALS = ["BP 142/88, HR 96", "BP 118/76, HR 64", "T 38.4 °C, SpO2 93 %", "BP 165/95", "RR 22, SpO2 91% on air",
          "GCS 15/15, BP 130/80", "BMI 31.2, BP 138/84"]
HOSPITALS = ["St Luke's Hospital", "the Royal Infirmary", "Riverside Medical Centre", "the county hospital",
             "Northfield Clinic", "the university hospital"]
MAHALLE = ["Atatürk", "Cumhuriyet", "Fatih", "Bahçelievler", "Esentepe", "Yenişehir", "Kazımdirik", "Osmangazi",
           "Gazi", "İnönü", "Barbaros", "Mimar Sinan"]
TR_PLACES = [("İstanbul", "Kadıköy", "34"), ("İstanbul", "Üsküdar", "34"), ("İstanbul", "Beşiktaş", "34"),
             ("Ankara", "Çankaya", "06"), ("Ankara", "Keçiören", "06"), ("İzmir", "Bornova", "35"),
             ("İzmir", "Karşıyaka", "35"), ("Bursa", "Nilüfer", "16"), ("Antalya", "Muratpaşa", "07"),
             ("Eskişehir", "Tepebaşı", "26"), ("Konya", "Selçuklu", "42"), ("Trabzon", "Ortahisar", "61")]
POBOX = {  # PO box line per locale ({n} number)
    "en_GB": ["PO Box {n}", "P.O. Box {n}"], "en_IE": ["PO Box {n}"], "en_CA": ["PO Box {n} STN Main", "P.O. Box {n}"],
    "fr_CA": ["C.P. {n}", "Case postale {n}"], "en_AU": ["PO Box {n}", "GPO Box {n}"], "en_IN": ["Post Box No. {n}"],
    "hi_IN": ["पोस्ट बॉक्स {n}"], "de_DE": ["Postfach {n}"], "de_AT": ["Postfach {n}"], "de_CH": ["Postfach {n}"],
    "fr_FR": ["BP {n}", "Boîte postale {n}"], "fr_CH": ["Case postale {n}"], "nl_NL": ["Postbus {n}"],
    "nl_BE": ["Postbus {n}"], "no_NO": ["Postboks {n}"], "sv_SE": ["Box {n}"], "da_DK": ["Postboks {n}"],
    "fi_FI": ["PL {n}"], "it_IT": ["Casella Postale {n}"], "es_ES": ["Apartado de Correos {n}"],
    "es_MX": ["Apartado Postal {n}"], "pt_PT": ["Apartado {n}"], "pt_BR": ["Caixa Postal {n}"],
    "pl_PL": ["Skrytka pocztowa {n}"], "cs_CZ": ["P. O. Box {n}"], "tr_TR": ["PK {n}"], "ja_JP": ["私書箱第{n}号"],
    "zh_CN": ["邮政信箱{n}号"], "ko_KR": ["사서함 {n}호"],
}
ACCOUNT_WORD = {"de": "Kontonummer", "fr": "numéro de compte", "es": "número de cuenta", "it": "numero di conto",
                "pt": "número de conta", "nl": "rekeningnummer", "no": "kontonummer", "sv": "kontonummer",
                "da": "kontonummer", "fi": "tilinumero", "pl": "numer rachunku", "cs": "číslo účtu",
                "tr": "hesap numarası", "hi": "खाता संख्या", "ja": "口座番号", "zh": "银行账号", "ko": "계좌번호"}
ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def words_en(n: int) -> str:
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("-" + ONES[n % 10] if n % 10 else "")
    return "one hundred" + (" and " + words_en(n - 100) if n > 100 else "")


def fold_ascii(s: str) -> str:
    s = s.translate(str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae", "ß": "ss", "ł": "l", "Ł": "L",
                                   "ı": "i", "đ": "d", "þ": "th"}))
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if not unicodedata.combining(c))


def iban_from(country: str, bban: str) -> str:
    """A checksum-valid IBAN for `country` around a digit BBAN (ISO 13616 mod 97)."""
    num = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(num) % 97:02d}{bban}"


def group4(s: str) -> str:
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


_EXTRA: dict[str, Faker] = {}


def extra(loc: str, rng: random.Random) -> Faker:
    """A helper Faker of a sibling locale (for providers a locale lacks), reseeded from the text's rng."""
    if loc not in _EXTRA:
        _EXTRA[loc] = Faker(loc)
    _EXTRA[loc].seed_instance(rng.randrange(1 << 30))
    return _EXTRA[loc]


# --------------------------------------------------------------------------------------------------------------
# Frames: hand-written templates per genre and language
# --------------------------------------------------------------------------------------------------------------

FRAMES: list[tuple[str, str, str]] = []   # (genre, lang, template)
NO_PII: list[tuple[str, str, str]] = []


def F(genre: str, lang: str, text: str) -> None:
    FRAMES.append((genre, lang, textwrap.dedent(text).strip("\n")))


def N(genre: str, lang: str, text: str) -> None:
    NO_PII.append((genre, lang, textwrap.dedent(text).strip("\n")))


# ---- English: clinical -----------------------------------------------------------------------------------------
F("clinical", "en", """
    {r:Pt|Patient|PT}: {name} ({age_short}), DOB {dob}, MRN {mrn}.
    Seen in clinic {date}. Presenting with 3 days of productive cough, {vitals}. Started {drug}. Review in 2 weeks.
    NOK: {name2} ({g2:son|daughter}) tel {phone2}
""")
F("clinical", "en", """
    DISCHARGE SUMMARY
    Name: {name}
    Date of birth: {dob}
    Admitted: {date}   Discharged: {date2}
    Address:
    {addr}
    GP: {staff_t}
    Medication on discharge: {drug}; {drug2}.
    Follow-up at {hospital} outpatients in 6 weeks.
""")
F("clinical", "en", """
    {age_attr:cap} {g:man|woman} referred by {staff_t} with chest pain on exertion. {vitals}. Known to us under hospital number {mrn}. Lives alone at {addr1}; {g2:son|daughter} {first2} visits daily.
""")
F("clinical", "en", """
    Triage note {ts}: {name}, aged {age_w}, brought in by ambulance after a fall at home. Next of kin {name2}, mobile {mobile}. Allergies: penicillin. Paracetamol 1 g given.
""")
F("clinical", "en", """
    Ward round - Bay 4, bed 12
    {tlast}, {age_attr}, has CKD stage 3 (eGFR 41). {g2:Husband|Wife} {first2} asked to be called on {phone2} before any change of plan. Hold {drug} for 48 h.
""")
F("clinical", "en", """
    Clinic letter

    Re: {name}, DOB {dob}, {natid_l} {natid}
    {addr1}

    Dear {staff_t},
    I reviewed {tlast} in the memory clinic on {date}. {g:He|She} is {age} and lives with {g:his|her} {g2:son|daughter} {first2}. MMSE 22/30. Please add {name2} as next of kin ({phone2}).

    Yours sincerely,
    {staff}
""")
F("clinical", "en", """
    Repeat prescription request for {name} (DOB {dob}) - {drug} x 56 tabs. Patient asked us to text {mobile} when ready to collect. Last review {date}.
""")
F("clinical", "en", """
    Vaccination record
    Patient: {name:upper}
    {natid_l}: {natid}
    Dose 1: {date}
    Dose 2: {date2}
    Batch: {product}
    Administered by: {staff}
""")
F("clinical", "en", """
    {name} (previous surname {maiden}), {age}, attended with {g:his|her} {g2:brother|sister} {first2}. Older records are filed under {g:his previous|her maiden} name {maiden}. Preferred contact: {email}.
""")
F("clinical", "en", """
    Dental recall: {first} {last}, {age_short}. Last check-up {date}. Outstanding balance {amount}. Reminder sent to {email} and {mobile}.
""")
F("clinical", "en", """
    S: {age_attr} {g:male|female} c/o headache x3/7, worse in mornings.
    O: {vitals}. Neuro exam normal.
    A: ?migraine
    P: {drug}. Safety-net advice given to pt and {g2:husband|wife} {first2}.
    Seen {ts} by {staff_t}.
""")
F("clinical", "en", """
    Radiology request: {name}, MRN {mrn}, DOB {dob}. CT head non-contrast. Clinical info: fall on {date}, on apixaban 5 mg bd.
""")
F("clinical", "en", """
    Specimen received {ts} for patient {last:upper}, {first:upper} ({age_short}). HbA1c 58 mmol/mol, eGFR 54. Copy to {staff_t}.
""")
F("clinical", "en", """
    Safeguarding note: {first2} {last2}, {kid_age}, attended with {g:father|mother} {name}. School reports absences since {date}. Home address {addr1}. Social worker {staff} informed on {date2}.
""")
F("clinical", "en", """
    Physiotherapy booking: {name}, {age_attr}, referred after knee replacement on {date}. {g2:Husband|Wife} {name2}, {phone2}. Lives at:
    {addr}
    Stairs at home; codeine 30 mg prn.
""")

# ---- English: call transcripts -----------------------------------------------------------------------------------
F("call_transcript", "en", """
    Agent: Thank you for calling {company}, my name is {agent}. Who am I speaking with?
    Caller: Hi, it's {name}.
    Agent: Could you confirm your date of birth?
    Caller: {dob}.
    Agent: And the first line of your address?
    Caller: {street}.
    Agent: Thanks. What's the best number to call you back on?
    Caller: Call me on {mobile}.
""")
F("call_transcript", "en", """
    [{ts}] AGENT ({agent}): How can I help today?
    [{ts2}] CUSTOMER: I want to dispute a payment on my card, {card}.
    AGENT: Of course. Can I take your customer number?
    CUSTOMER: It's {customer}.
    AGENT: And the amount?
    CUSTOMER: {amount}, it went out on {date}.
""")
F("call_transcript", "en", """
    Operator: Claims line, {agent} speaking.
    {tlast}: Hello, I'm calling about claim {claim}.
    Operator: Can you give me the policy number as well?
    {tlast}: {policy}.
    Operator: And the registration of the vehicle?
    {tlast}: {plate}.
    Operator: Thank you, I'll send the forms to {email}.
""")
F("call_transcript", "en", """
    Call summary: caller said {g:he|she} was {name}, {g:mother's maiden name|maiden name} {maiden}, and gave passport no. {passport}. Wanted to change the registered number to {mobile}. Security questions failed; call flagged. Last online login from {ip}.
""")
F("call_transcript", "en", """
    {staff_t}: Good morning, can you tell me your full name and age?
    Patient: {name}, I'm {age}.
    {staff_t}: And you're still living at {addr1}?
    Patient: Yes, same place.
    {staff_t}: Any new medication since {date}?
    Patient: Just {drug}.
""")
F("call_transcript", "en", """
    Customer rang on {date} to move supply to a new address: {addr1}. Account {customer}. Tariff code E7-STD. Asked for final bill to go to {email}. Spoke to {agent}.
""")
F("call_transcript", "en", """
    00:00:03 BOT: Please say or enter your member number.
    00:00:09 CALLER: {member}
    00:00:12 BOT: Thank you. Please say your date of birth.
    00:00:17 CALLER: {dob}
    00:00:20 BOT: Transferring you to {agent}.
    00:01:02 {agent:upper}: Hi {first}, I see you called on {date2} about your claim.
""")
F("call_transcript", "en", """
    Rep: Can I get the name on the account?
    Cust: yeah it's {name:lower}
    Rep: and a contact number?
    Cust: {phone}, or my cell {mobile}
    Rep: and the {natid_l}?
    Cust: {natid}
""")
F("call_transcript", "en", """
    Voicemail {ts}: "Hi, this is {name} calling from {addr_nz}. My {g2:son|daughter} {first2} is {kid_age} and needs a repeat appointment. Please call me back on {phone_ext}. Thanks."
""")
F("call_transcript", "en", """
    Interpreter-assisted call ({agent} interpreting). Client {tname} confirmed date of birth {dob} and {natid_l} {natid}. Client reports landlord {name3} has not returned deposit of {amount}.
""")

# ---- English: emails with signature blocks -------------------------------------------------------------------------
F("email", "en", """
    Subject: Change of address

    Hi,

    Please update my details. My new address from {date} is:
    {addr}

    My customer number is {customer}.

    Thanks,
    {name}
    {mobile}
    {email}
""")
F("email", "en", """
    From: {email}
    Sent: {ts}
    Subject: Refund request

    Hello, I was charged {amount} twice for order of SKU {product}. The card used was {card}. Please refund to the same card.

    Kind regards,
    {first}
""")
F("email", "en", """
    Dear {first},

    Further to our conversation, I'm pleased to confirm your start date of {date}. On your first day please bring your passport ({passport}) and proof of address.

    Best wishes,
    {staff}
    HR Business Partner | {company}
    T: {phone_ext}
    E: {email2}
""")
F("email", "en", """
    Hi {staff_first},

    Forwarding {name}'s details for the referral: DOB {dob}, lives at {addr1}, {g:his|her} {natid_l} is {natid}. {g:He|She} prefers text messages on {mobile}.

    Regards,
    {agent}
""")
F("email", "en", """
    Subject: Tenancy - {addr_nz}

    Dear {tlast},

    Thank you for your application. The holding deposit of {amount} is due by {date}. Please confirm the lead tenant's mobile number and the guarantor's details ({name2}, DOB {dob2}).

    Regards,
    {agent}
    Lettings team, {company}
""")
F("email", "en", """
    On {ts}, {name} <{email}> wrote:
    > Can you send the invoice to my new address please?
    > {street}
    > {cityzip}

    Done - updated on our side. Invoice total {amount} (incl. VAT).
""")
F("email", "en", """
    Subject: My {g2:son|daughter}'s details

    Hello,
    My {g2:son|daughter} {name2} ({kid_age}) starts at your school in September. {g2:His|Her} student number from the old school is {student}. I'm {g2:his|her} {g:father|mother}, {name}; you can reach me at {email} or {phone}.

    Thanks!
""")
F("email", "en", """
    Hi all,
    Please welcome {name}, who joins the analytics team on {wdate}. {g:He|She} will sit on the 3rd floor. Employee ID {employee}; desk phone {phone_ext}.
    Cheers,
    {staff}
""")
F("email", "en", """
    -----Original Message-----
    From: {name2} <{email2}>
    Sent: {ts}
    To: {name}
    Subject: RE: bank details

    Hi {first}, the account is {acct_l} {acct}. Can you transfer {amount} by {dm}?
    {first2}
""")
F("email", "en", """
    Subject: Complaint ref {case}

    To whom it may concern,

    I, {name}, of {addr1}, wish to complain about the treatment of my {g2:father|mother} {name2} ({age2}) at {hospital} on {date}.

    Yours faithfully,
    {name}
    Tel. {phone}
""")

# ---- English: KYC -----------------------------------------------------------------------------------------------
F("kyc", "en", """
    KYC check {date}: {name:upper}, born {dob}, {natid_l} {natid}. Passport {passport} verified against selfie. Proof of address: utility bill for {addr1}. Risk rating: low.
""")
F("kyc", "en", """
    Onboarding - customer {customer}
    Full name: {name}
    DOB: {dob}
    Nationality: {country}
    ID document: passport no. {passport}
    Residential address: {addr1}
    {acct_l}: {acct}
    PEP: no
""")
F("kyc", "en", """
    Video-ident session {ts}: applicant {name} showed national ID card; {natid_l} read as {natid}. Device IP {ip}. Applicant states {g:he|she} is {age}. Session agent: {agent}.
""")
F("kyc", "en", """
    EDD note: source of funds for {tname} explained as sale of property at {addr1}. Account {acct} receives salary from {company}. Next review due {date}.
""")
F("kyc", "en", """
    Sanctions screening hit on {name} - false positive. Listed person has different DOB. Customer DOB {dob}, {natid_l} {natid}, resident at {addr_nz}. Cleared by {staff} on {date}.
""")
F("kyc", "en", """
    Customer wants to add {g:his|her} {g2:son|daughter} as a joint account holder. Add {name2} (DOB {dob2}, email {email2}) as second holder on account {acct}. Guardian consent signed by {name} on {date}.
""")
F("kyc", "en", """
    address verification failed for {first} {last} - postcode {zip} does not match credit file. customer called from {phone}. driver's licence number {licence} accepted as secondary ID.
""")

# ---- English: disputes ----------------------------------------------------------------------------------------------
F("dispute", "en", """
    Dispute #{case}
    Cardholder: {name}
    Card: {card}
    Transaction: {amount} at {company} on {date}
    Reason: goods not received
    Contact: {email}
""")
F("dispute", "en", """
    Customer {customer} disputes a direct debit of {amount} taken on {date}. Account {acct}. Says the mandate was cancelled by phone on {date2} and {g:he|she} spoke with {agent}.
""")
F("dispute", "en", """
    chargeback raised {ts} for {first} {last} - card {card} - merchant {company} - amt {amount}. cust can be reached on {mobile} after 6pm
""")
F("dispute", "en", """
    Cardholder {tname} says the {amount} payment on {date} was made from IP {ip}, which {g:he|she} does not recognise. {g:He|She} was abroad in {city_plain} at the time. Card {card} blocked; replacement to {addr1}.
""")
F("dispute", "en", """
    Fraud case {case}: unauthorised transfer of {amount} from {acct} on {ts}. Victim: {name}, {age}. Beneficiary account named {name3}. Police informed.
""")

# ---- English: insurance claims -------------------------------------------------------------------------------------
F("insurance_claim", "en", """
    Claim {claim} - motor
    Policyholder: {name}
    Policy no.: {policy}
    Vehicle reg: {plate}
    Date of loss: {date}
    Third party: {name2}, tel {phone2}
    Description: rear-ended at traffic lights, estimated repair {amount}.
""")
F("insurance_claim", "en", """
    Home contents claim. Insured {tname} reports a burglary at {addr1} on {date}. Items: laptop (model {product}), jewellery. Excess {amount}. Crime reference {case}.
""")
F("insurance_claim", "en", """
    Travel claim submitted {ts} by {name} ({age_short}) for medical costs incurred in {city_plain}. Policy {policy}. Reimburse to {acct_l} {acct}.
""")
F("insurance_claim", "en", """
    Life policy {policy}: beneficiary change requested by {name}. Add {name2} (DOB {dob2}) as beneficiary; remove {name3}. Signed {date}.
""")
F("insurance_claim", "en", """
    Pet insurance claim {claim}: owner {first} {last}, member no. {member}. Vet fees {amount} for "Biscuit" (dog, 7 years) on {date}. Pay to sort code / account on file.
""")
F("insurance_claim", "en", """
    Claimant: {name}
    Policy: {policy}
    Incident date/time: {ts}
    Injured party: {name2}, {age2}
    Witness: {name3}, {phone}
    Claim handler: {staff}
""")

# ---- English: HR letters ---------------------------------------------------------------------------------------
F("hr_letter", "en", """
    PRIVATE & CONFIDENTIAL
    {tname}
    {addr}

    {date}

    Dear {tlast},

    Offer of employment

    We are pleased to offer you the position of Data Analyst at {company}, starting on {date2}, at an annual salary of {amount2}. Your employee number will be {employee}.

    Yours sincerely,

    {staff}
    Head of People
""")
F("hr_letter", "en", """
    Reference request: {name} was employed by us from {date} to {date2} as a warehouse operative (employee no. {employee}). Please confirm by return to {email2}.
""")
F("hr_letter", "en", """
    Invitation to disciplinary hearing - {name} (payroll {employee}). The hearing will take place on {ts}. You may bring a companion, for example {name2}.
""")
F("hr_letter", "en", """
    Fit note: {name}, {natid_l} {natid}, is not fit for work from {date} for 2 weeks because of back pain. Signed {staff_t}.
""")
F("hr_letter", "en", """
    Payroll change form
    Employee: {name}
    Employee ID: {employee}
    New {acct_l}: {acct}
    Effective from: {date}
    Home phone: {phone}
    Emergency contact: {name2} ({phone2})
""")
F("hr_letter", "en", """
    Dear {first},

    Following your request of {date}, we confirm your return to work on {date2} on reduced hours. Your line manager {staff} will meet you at 9:00. Your updated address ({addr1}) has been recorded.

    People Team, {company}
""")
F("hr_letter", "en", """
    Leaver notice: {name}, {age}, employee {employee}, last working day {date}. Forward P45/final payslip to:
    {addr}
""")

# ---- English: SMS ----------------------------------------------------------------------------------------------
F("sms", "en", """
    hey its {first:lower} - new number {mobile} save it x
""")
F("sms", "en", """
    {first2} pls pick up mum from {street} at 5, her bday is {dm} dont forget!!
""")
F("sms", "en", """
    Your appointment with {staff_t} is on {ts}. Reply Y to confirm or N to cancel. Ref {case}.
""")
F("sms", "en", """
    Hi {first}, your parcel to {addr1} is out for delivery today between 10:00 and 12:00. Driver: {agent}.
""")
F("sms", "en", """
    running late, {first2}'s number is {phone2} if u need them. back by 8
""")
F("sms", "en", """
    Your login from {ip} on {ts} was blocked. If this was you, ignore this message. Code 482913 expires in 10 min.
""")
F("sms", "en", """
    {name:upper} - PRESCRIPTION READY. COLLECT BY {dm}. ITEMS: 2. DOB ON FILE {dob}.
""")
F("sms", "en", """
    dad is {age} today!! party at {addr_nz} sat, ring {mobile} for the gate code
""")
F("sms", "en", """
    Reminder: {first}, your gym membership {member} renews on {date} ({amount}). Text STOP to opt out.
""")

# ---- English: chatbot --------------------------------------------------------------------------------------------
F("chatbot", "en", """
    User: my name is {name} and I was born on {dob}, can you tell me if my {natid_l} {natid} is still valid?
""")
F("chatbot", "en", """
    can u update my email to {email} pls, account no {customer}
""")
F("chatbot", "en", """
    Hi, I need to add {name2} as guardian for my {g:father|mother} {name}, who is {age}. How do I do that online?
""")
F("chatbot", "en", """
    How do I change my address from {addr1} to {addr1b}? I moved on {date}.
""")
F("chatbot", "en", """
    why was my card {card} declined at {company} on {date}?? i have {amount} in account {acct}
""")
F("chatbot", "en", """
    Bot: Please enter your policy number.
    User: {policy}
    Bot: Thanks. And your postcode?
    User: {zip}
    Bot: I found a policy for {tlast}. Is that you?
    User: yes
""")
F("chatbot", "en", """
    is it safe to take {drug} with ibuprofen? I'm {age} and have kidney problems
""")
F("chatbot", "en", """
    Q: I forgot my username. My name is {name}, my registered number is {mobile} and my date of birth is {dob}.
""")
F("chatbot", "en", """
    User: I want to check the status of my claim {claim}. I sent the photos from {email} on {dm}.
""")
F("chatbot", "en", """
    my driver's licence number is {licence} and plate is {plate} - can you tell me if the fine was paid? it's in my {g:wife's|husband's} name ({name2})
""")

F("chatbot", "en", """
    here's my linkedin {url} - can you change the name on my profile to {name}? I got married on {date}
""")

# ---- English: forms ----------------------------------------------------------------------------------------------
F("form", "en", """
    Surname: {last:upper}
    Forename(s): {first}
    Date of birth: {dob}
    Place of birth: {city_plain}
    Passport No.: {passport}
    Address: {addr_nz}
    Postcode: {zip}
""")
F("form", "en", """
    NAME.............. {name}
    AGE............... {age_n}
    PHONE............. {phone}
    EMAIL............. {email}
    SIGNED............ {date}
""")
F("form", "en", """
    first_name={first}; last_name={last}; dob={dob_iso}; ip={ip}; card={card}; status=PENDING; sku={product}
""")
F("form", "en", """
    Applicant | {name}
    DOB | {dob}
    {natid_l} | {natid}
    Mobile | {mobile}
    {acct_l} | {acct}
    Profile | {url}
""")
F("form", "en", """
    {customer},{last},{first},{dob_iso},{email},{phone}
""")
F("form", "en", """
    GUARDIAN CONSENT FORM
    Child's name: {name2}
    Age: {kid_age_n}
    Parent/guardian: {name}
    Relationship: {g:Father|Mother}
    Contact number: {phone}
    Date: {date}
""")
F("form", "en", """
    Emergency contact (next of kin): {name2}
    Relationship: {r:Spouse|Sibling|Friend|Partner}
    Tel: {phone2}
    Email: {email2}
""")
F("form", "en", """
    Driver details
    Name: {name}
    Driver's licence no.: {licence}
    Vehicle registration: {plate}
    Date of test: {date}
    Age: {age_n}
""")
F("form", "en", """
    Member: {member}
    Name: {tname}
    D.O.B.: {dob}
    Cell: {mobile}
    Tel (home): {phone}
    Maiden name: {maiden}
""")
F("form", "en", """
    PASSENGER: {last:upper}/{first:upper} {g:MR|MS}
    PASSPORT: {passport}
    DOB: {dob}
    CONTACT: {mobile}
    FLIGHT LX 318 SEAT 14C
""")
F("form", "en", """
    Ticket {ticket} - user {name} ({email}) locked out after 5 attempts from {ip}. Laptop asset tag {product}. Password reset done {ts} by {agent}.
""")
F("form", "en", """
    {ip} - - [{ts_log}] "POST /account/login HTTP/1.1" 302 512 "-" "Mozilla/5.0" user={email}
""")

# ---- English: address blocks -------------------------------------------------------------------------------------
F("address_block", "en", """
    {name}
    {addr}
    {country}
""")
F("address_block", "en", """
    Ship to:
    {tname}
    {addr}
    Tel: {phone}
""")
F("address_block", "en", """
    Please forward all post to:
    {name}
    {pobox}
""")
F("address_block", "en", """
    Please send the care package to my {g2:son|daughter}:
    {r:SPC|SGT|PFC|CPL|LT} {name2}
    {apo}
    Thanks, {first}
""")
F("address_block", "en", """
    Return address: {name}, {pobox1}
""")
F("address_block", "en", """
    I have moved. Old address: {addr1}. New address: {addr1b}. Effective {date}.
""")
F("address_block", "en", """
    Deliver to:
    {name:upper}
    {addr:upper}
    Mobile: {mobile}
""")
F("address_block", "en", """
    Forwarding address for {name} (deployed):
    {apo}
    Next of kin at home: {name2}, {phone2}
""")
F("address_block", "en", """
    CV
    {name:upper}
    {addr1} | {mobile} | {email}
    {url}
    Date of birth: {dob}
""")

# ---- English: misc -----------------------------------------------------------------------------------------------
F("hr_letter", "en", """
    Debt recovery notice. Debtor: {name}, DOB {dob}, last known address {addr1}. Amount outstanding {amount}. Case {case}. Contact attempts: {phone} (no answer).
""")
F("email", "en", """
    Follow me at {url} or drop me a line at {email} - {first}
""")
F("clinical", "en", """
    Consent: I, {name}, of {addr1}, consent to the procedure described above. Signed {date}. Witness: {name2}.
""")
F("email", "en", """
    Pension statement: {natid_l} {natid}. Payments of {amount} will be paid into account {acct} every 4 weeks from {date}. Questions? Write to us quoting reference {case}.
""")

# ---- German ----------------------------------------------------------------------------------------------------
F("clinical", "de", """
    Aufnahmebefund {ts}
    {g:Patient|Patientin}: {name}, geb. {dob} ({age_short})
    {natid_l}: {natid}
    Hausarzt: {staff_t}
    Anamnese: seit 3 Tagen Fieber, Ibuprofen 400 mg b. Bed.
    Angehörige: {name2}, Tel. {phone2}
""")
F("email", "de", """
    Betreff: Adressänderung

    Sehr geehrte Damen und Herren,

    bitte ändern Sie meine Anschrift ab dem {date} auf:

    {addr}

    Meine Kundennummer lautet {customer}.

    Mit freundlichen Grüßen
    {name}
    Tel.: {phone}
    E-Mail: {email}
""")
F("call_transcript", "de", """
    Mitarbeiter ({agent}): Guten Tag, Sie sprechen mit {agent}. Wie ist Ihr Name?
    Anrufer: {name}.
    Mitarbeiter: Und Ihr Geburtsdatum?
    Anrufer: Der {dob}.
    Mitarbeiter: Unter welcher Nummer erreiche ich Sie?
    Anrufer: Am besten unter {mobile}.
""")
F("kyc", "de", """
    Legitimationsprüfung vom {date}
    Name: {last:upper}, {first}
    Geburtsdatum: {dob}
    Ausweisnummer: {passport}
    {acct_l}: {acct}
    Anschrift: {addr1}
    Ergebnis: bestanden
""")
F("hr_letter", "de", """
    {tname}
    {addr}

    {city_plain}, {date}

    Arbeitsvertrag - Personalnummer {employee}

    Sehr geehrte{g:r Herr| Frau} {last},

    wir freuen uns, Ihnen ab dem {date2} eine Stelle als Sachbearbeiter{g:|in} anzubieten. Das Bruttogehalt beträgt {amount2} jährlich.

    Mit freundlichen Grüßen
    {staff}
""")
F("sms", "de", """
    Hallo {first}, hier ist {first2}. Meine neue Nummer: {mobile}. LG
""")
F("insurance_claim", "de", """
    Schadenmeldung Nr. {claim}
    Versicherungsnehmer: {name}
    Versicherungsschein-Nr.: {policy}
    Kennzeichen: {plate}
    Schadentag: {date}
    Unfallgegner: {name2}, {addr1b}
""")
F("dispute", "de", """
    Reklamation vom {ts}: Kunde {name} ({customer}) bestreitet die Abbuchung über {amount} vom {date}. Karte {card}. Rückruf erbeten unter {phone}.
""")
F("chatbot", "de", """
    Hallo, ich bin {age} und möchte meine E-Mail-Adresse auf {email} ändern. Meine Vertragsnummer ist {policy}.
""")
F("form", "de", """
    Vorname: {first}
    Nachname: {last}
    Geburtsname: {maiden}
    Geburtsdatum: {dob}
    Straße, Hausnr.: {street}
    PLZ/Ort: {cityzip}
    Telefon: {phone}
""")
F("clinical", "de", """
    {g:Der|Die} {age_attr} {g:Patient|Patientin} {name} wurde am {date} mit Luftnot aufgenommen. {vitals}. Betreuer{g2:|in}: {name2}, erreichbar unter {phone2}.
""")

F("email", "de", """
    Betreff: Bewerbung als Pflegefachkraft

    Sehr geehrte Damen und Herren,

    anbei sende ich Ihnen meine Unterlagen. Ich bin {age} und ab dem {date} verfügbar. Meine Anschrift: {addr1}.

    Mit freundlichen Grüßen
    {name}
    {mobile} | {email}
    {url}
""")

# ---- French ----------------------------------------------------------------------------------------------------
F("clinical", "fr", """
    Compte rendu de consultation du {date}
    {tname}, {age}, né{g:|e} le {dob}.
    {natid_l} : {natid}
    Traitement : amlodipine 5 mg/j.
    Personne à prévenir : {name2} ({phone2}).
""")
F("email", "fr", """
    Objet : changement d'adresse

    Bonjour,

    Je vous informe de ma nouvelle adresse à compter du {date} :
    {addr}

    N° client : {customer}

    Cordialement,
    {name}
    {mobile}
""")
F("call_transcript", "fr", """
    Conseiller : Bonjour, {agent} à l'appareil. Puis-je avoir votre nom ?
    Client : {name}.
    Conseiller : Votre date de naissance ?
    Client : Le {dob}.
    Conseiller : Et un numéro où vous joindre ?
    Client : Appelez-moi au {mobile}.
""")
F("kyc", "fr", """
    Vérification d'identité - {date}
    Nom : {last:upper}
    Prénom : {first}
    Nom de naissance : {maiden}
    Né(e) le : {dob}
    Passeport n° : {passport}
    {acct_l} : {acct}
""")
F("insurance_claim", "fr", """
    Déclaration de sinistre n° {claim}
    Assuré : {tname}
    Contrat : {policy}
    Immatriculation : {plate}
    Date du sinistre : {date}
    Adresse : {addr1}
""")
F("sms", "fr", """
    Coucou {first} c'est {first2}, mon nouveau num c'est le {mobile} bisous
""")
F("hr_letter", "fr", """
    Objet : attestation employeur

    Nous certifions que {tname}, matricule {employee}, demeurant {addr1}, est employé{g:|e} dans notre société depuis le {date}.

    Fait pour servir et valoir ce que de droit.
    {staff}, DRH
""")
F("chatbot", "fr", """
    Bonjour, je voudrais ajouter {name2} comme tuteur légal sur le compte de {g:mon père|ma mère} {name}. Son {natid_l} est {natid}.
""")
F("dispute", "fr", """
    Contestation de paiement : {first} {last} conteste un prélèvement de {amount} du {date} sur la carte {card}. Contact : {email}.
""")
F("address_block", "fr", """
    {tname}
    {addr}
    {country}
""")

F("kyc", "fr", """
    Alerte sécurité {ts} : connexion inhabituelle depuis l'adresse IP {ip} sur le compte de {tname} ({email}). Dernière connexion connue : {date}. Le client a été rappelé au {phone}.
""")

# ---- Spanish ---------------------------------------------------------------------------------------------------
F("clinical", "es", """
    Nota de ingreso {ts}
    Paciente: {name}, {age}
    Fecha de nacimiento: {dob}
    {natid_l}: {natid}
    Acompañante: {name2} (tel. {phone2})
    Tratamiento: omeprazol 20 mg/24 h.
""")
F("email", "es", """
    Asunto: cambio de domicilio

    Buenos días:

    Les comunico mi nuevo domicilio desde el {date}:
    {addr}

    Número de cliente: {customer}

    Un saludo,
    {name}
    Tel. {mobile}
""")
F("call_transcript", "es", """
    Agente: Buenas tardes, le atiende {agent}. ¿Me dice su nombre completo?
    Cliente: {name}.
    Agente: ¿Y su {natid_l}?
    Cliente: {natid}.
    Agente: ¿Un teléfono de contacto?
    Cliente: Llámeme al {mobile}.
""")
F("sms", "es", """
    Hola {first}! soy {first2}, apunta mi número nuevo: {mobile}. Besos
""")
F("insurance_claim", "es", """
    Parte de siniestro {claim}
    Tomador: {name}
    Póliza: {policy}
    Matrícula: {plate}
    Fecha del accidente: {date}
    Domicilio: {addr1}
""")
F("kyc", "es", """
    Alta de cliente {date}: {name:upper}, nacido/a el {dob}, {natid_l} {natid}, {acct_l} {acct}. Domicilio: {addr1}. Correo: {email}.
""")
F("chatbot", "es", """
    hola, tengo {age} y quiero saber por qué me cobraron {amount} en la tarjeta {card} el {date}
""")

F("chatbot", "es", """
    Usuario: hola, soy {name}, mi perfil es {url} y no puedo entrar desde la IP {ip}. Mi correo es {email}
""")

# ---- Portuguese ------------------------------------------------------------------------------------------------
F("clinical", "pt", """
    {loc:pt_BR=Prontuário;*=Registo clínico} {date}
    {loc:pt_BR=Paciente;*=Utente}: {name} ({age})
    Data de nascimento: {dob}
    {natid_l}: {natid}
    {loc:pt_BR=Contato;*=Contacto} do familiar: {name2} - {phone2}
""")
F("email", "pt", """
    Assunto: alteração de {loc:pt_BR=endereço;*=morada}

    Boa tarde,

    A partir de {date} o meu novo {loc:pt_BR=endereço;*=endereço (morada)} é:
    {addr}

    Nº de cliente: {customer}

    {loc:pt_BR=Atenciosamente;*=Cumprimentos},
    {name}
    {mobile}
""")
F("call_transcript", "pt", """
    Atendente: Bom dia, fala {agent}. Pode confirmar o seu nome completo?
    Cliente: {name}.
    Atendente: E o {natid_l}?
    Cliente: {natid}.
    Atendente: Qual o melhor número para {loc:pt_BR=contato;*=contacto}?
    Cliente: {loc:pt_BR=Pode ligar no;*=Ligue-me para o} {mobile}.
""")
F("sms", "pt", """
    Oi {first}, é {first2}. Meu número novo é {mobile}. Bjs
""")
F("insurance_claim", "pt", """
    Participação de sinistro nº {claim}
    Segurado: {name}
    Apólice: {policy}
    {loc:pt_BR=Placa;*=Matrícula}: {plate}
    Data do sinistro: {date}
""")
F("form", "pt", """
    Nome completo: {name}
    Data de nascimento: {dob}
    {natid_l}: {natid}
    {acct_l}: {acct}
    E-mail: {email}
    Telefone: {phone}
""")

# ---- Italian ---------------------------------------------------------------------------------------------------
F("clinical", "it", """
    Verbale di pronto soccorso {ts}
    Paziente: {name}, {age}
    Nat{g:o|a} il {dob}
    {natid_l}: {natid}
    Familiare di riferimento: {name2}, cell. {phone2}
""")
F("email", "it", """
    Oggetto: cambio di indirizzo

    Gentili signori,

    dal {date} il mio nuovo indirizzo è:
    {addr}

    Codice cliente: {customer}

    Cordiali saluti,
    {name}
    Tel. {phone}
""")
F("call_transcript", "it", """
    Operatore: Buongiorno, sono {agent}. Mi può dire nome e cognome?
    Cliente: {name}.
    Operatore: Data di nascita?
    Cliente: {dob}.
    Operatore: Un recapito telefonico?
    Cliente: Mi chiami al {mobile}.
""")
F("sms", "it", """
    Ciao {first}, sono {first2}! Salva il mio nuovo numero {mobile}
""")
F("insurance_claim", "it", """
    Denuncia di sinistro n. {claim}
    Contraente: {name}
    Polizza: {policy}
    Targa: {plate}
    Data del sinistro: {date}
    Controparte: {name2}
""")

# ---- Dutch -----------------------------------------------------------------------------------------------------
F("clinical", "nl", """
    Opname {ts}
    Patiënt: {name} ({age})
    Geboortedatum: {dob}
    {natid_l}: {natid}
    Contactpersoon: {name2}, tel. {phone2}
""")
F("email", "nl", """
    Onderwerp: adreswijziging

    Geachte heer/mevrouw,

    Per {date} is mijn nieuwe adres:
    {addr}

    Klantnummer: {customer}

    Met vriendelijke groet,
    {name}
    {mobile}
""")
F("call_transcript", "nl", """
    Medewerker: Goedemiddag, u spreekt met {agent}. Mag ik uw naam?
    Beller: {name}.
    Medewerker: En uw geboortedatum?
    Beller: {dob}.
    Medewerker: Op welk nummer kan ik u terugbellen?
    Beller: Bel me op {mobile}.
""")
F("sms", "nl", """
    Hoi {first}, met {first2}. Dit is mijn nieuwe nummer: {mobile}. Groetjes
""")
F("insurance_claim", "nl", """
    Schadeformulier {claim}
    Verzekerde: {name}
    Polisnummer: {policy}
    Kenteken: {plate}
    Schadedatum: {date}
    {acct_l}: {acct}
""")

# ---- Norwegian, Swedish, Danish, Finnish -----------------------------------------------------------------------
F("clinical", "no", """
    Innleggelse {ts}
    Pasient: {name}, {age}
    {natid_l}: {natid}
    Pårørende: {name2}, tlf. {phone2}
""")
F("email", "no", """
    Emne: ny adresse

    Hei,

    Fra {date} har jeg ny adresse:
    {addr}

    Kundenummer: {customer}

    Med vennlig hilsen
    {name}
    {mobile}
""")
F("sms", "no", """
    Hei {first}! Det er {first2}, nytt nummer: {mobile}
""")
F("clinical", "sv", """
    Journalanteckning {ts}
    Patient: {name}, {age}
    {natid_l}: {natid}
    Anhörig: {name2}, tfn {phone2}
    Behandling: Alvedon 1 g vid behov.
""")
F("email", "sv", """
    Ämne: Adressändring

    Hej,

    Från och med {date} bor jag på:
    {addr}

    Kundnummer: {customer}

    Vänliga hälsningar
    {name}
    {mobile}
""")
F("call_transcript", "sv", """
    Handläggare: Hej, du pratar med {agent}. Vad heter du?
    Kund: {name}.
    Handläggare: Och ditt personnummer?
    Kund: {natid}.
    Handläggare: Vilket nummer når jag dig på?
    Kund: Ring mig på {mobile}.
""")
F("sms", "sv", """
    Hej {first}, det är {first2}! Nytt nummer: {mobile}
""")
F("clinical", "da", """
    Indlæggelse {ts}
    Patient: {name}, {age}
    {natid_l}: {natid}
    Pårørende: {name2}, tlf. {phone2}
""")
F("email", "da", """
    Emne: Adresseændring

    Hej,

    Fra den {date} er min nye adresse:
    {addr}

    Kundenummer: {customer}

    Med venlig hilsen
    {name}
    {mobile}
""")
F("sms", "da", """
    Hej {first}, det er {first2}. Mit nye nummer er {mobile}
""")
F("clinical", "fi", """
    Sairauskertomus {ts}
    Potilas: {name}, {age}
    {natid_l}: {natid}
    Omainen: {name2}, puh. {phone2}
""")
F("email", "fi", """
    Aihe: Osoitteenmuutos

    Hei,

    {date} alkaen uusi osoitteeni on:
    {addr}

    Asiakasnumero: {customer}

    Ystävällisin terveisin
    {name}
    {mobile}
""")
F("sms", "fi", """
    Moi {first}, täällä {first2}. Uusi numeroni on {mobile}
""")

# ---- Polish, Czech, Turkish ------------------------------------------------------------------------------------
F("clinical", "pl", """
    Karta informacyjna {date}
    Pacjent: {name}, {age}
    {natid_l}: {natid}
    Osoba do kontaktu: {name2}, tel. {phone2}
""")
F("email", "pl", """
    Temat: zmiana adresu

    Dzień dobry,

    od {date} mój nowy adres to:
    {addr}

    Numer klienta: {customer}

    Z poważaniem
    {name}
    {mobile}
""")
F("call_transcript", "pl", """
    Konsultant: Dzień dobry, z tej strony {agent}. Proszę podać imię i nazwisko.
    Klient: {name}.
    Konsultant: A {natid_l}?
    Klient: {natid}.
    Konsultant: Pod jakim numerem mogę oddzwonić?
    Klient: Proszę dzwonić na {mobile}.
""")
F("sms", "pl", """
    Cześć {first}, tu {first2}. Mój nowy numer: {mobile}
""")
F("clinical", "cs", """
    Příjmová zpráva {ts}
    Pacient: {name}, {age}
    {natid_l}: {natid}
    Kontaktní osoba: {name2}, tel. {phone2}
""")
F("email", "cs", """
    Předmět: Změna adresy

    Dobrý den,

    od {date} bydlím na adrese:
    {addr}

    Zákaznické číslo: {customer}

    S pozdravem
    {name}
    {mobile}
""")
F("sms", "cs", """
    Ahoj {first}, tady {first2}. Moje nové číslo je {mobile}
""")
F("clinical", "tr", """
    Hasta kaydı {ts}
    Hasta: {name}, {age}
    {natid_l}: {natid}
    Yakını: {name2}, tel: {phone2}
""")
F("email", "tr", """
    Konu: Adres değişikliği

    Merhaba,

    {date} itibarıyla yeni adresim:
    {addr}

    Müşteri numarası: {customer}

    Saygılarımla,
    {name}
    {mobile}
""")
F("sms", "tr", """
    Selam {first}, ben {first2}. Yeni numaram: {mobile}
""")

# ---- Japanese, Chinese, Korean, Hindi --------------------------------------------------------------------------
F("clinical", "ja", """
    診療記録 {ts}
    患者氏名：{name}（{age}）
    生年月日：{dob}
    住所：{addr1}
    緊急連絡先：{name2}（{g2:長男|長女}）{phone2}
    処方：ロキソプロフェン 60mg 1日3回
""")
F("email", "ja", """
    件名：住所変更のお願い

    {company} ご担当者様

    {date}より下記住所に転居いたしました。
    {addr}

    お客様番号：{customer}

    {name}
    電話：{mobile}
""")
F("call_transcript", "ja", """
    オペレーター（{agent}）：お電話ありがとうございます。お名前をお願いします。
    お客様：{name}です。
    オペレーター：ご連絡先のお電話番号をお願いします。
    お客様：{mobile}です。
""")
F("form", "ja", """
    氏名：{name}
    生年月日：{dob}
    {natid_l}：{natid}
    電話番号：{phone}
    メールアドレス：{email}
    住所：
    {addr}
""")
F("sms", "ja", """
    {tlast}、{first2}です。新しい番号は{mobile}です。よろしくお願いします。
""")
F("clinical", "zh", """
    入院记录 {ts}
    患者：{name}，{g:男|女}，{age}
    {natid_l}：{natid}
    住址：{addr1}
    联系人：{name2}（{g2:儿子|女儿}），电话 {phone2}
    医嘱：阿莫西林 0.5 g，每日三次
""")
F("email", "zh", """
    主题：地址变更

    您好，

    自{date}起，我的新地址为：
    {addr}

    客户编号：{customer}

    此致
    {name}
    手机：{mobile}
""")
F("call_transcript", "zh", """
    客服（{agent}）：您好，请问怎么称呼？
    客户：我叫{name}。
    客服：请提供您的{natid_l}。
    客户：{natid}。
    客服：方便留个电话吗？
    客户：打我手机{mobile}。
""")
F("sms", "zh", """
    {first}，我是{name2}，我换号了，新号码{mobile}，有事打这个。
""")
F("kyc", "zh", """
    开户核验 {date}
    姓名：{name}
    出生日期：{dob}
    {natid_l}：{natid}
    {acct_l}：{acct}
    联系电话：{mobile}
""")
F("clinical", "ko", """
    진료 기록 {ts}
    환자: {name} ({age})
    {natid_l}: {natid}
    주소: {addr1}
    보호자: {name2}, 연락처 {phone2}
""")
F("email", "ko", """
    제목: 주소 변경 요청

    안녕하세요.
    {date}부터 아래 주소로 이사했습니다.
    {addr}

    고객번호: {customer}

    {name} 드림
    휴대폰: {mobile}
""")
F("sms", "ko", """
    {tname}, {first2}입니다. 새 번호는 {mobile}입니다.
""")
F("call_transcript", "ko", """
    상담원({agent}): 안녕하세요, 성함 말씀해 주시겠어요?
    고객: {name}입니다.
    상담원: 생년월일 확인 부탁드립니다.
    고객: {dob}입니다.
    상담원: 연락 가능한 번호는요?
    고객: {mobile}로 연락 주세요.
""")
F("clinical", "hi", """
    रोगी का नाम: {name}
    आयु: {age}
    जन्म तिथि: {dob}
    {natid_l}: {natid}
    पता: {addr1}
    परिजन: {name2}, फ़ोन {phone2}
    दवा: पैरासिटामोल 500 mg दिन में दो बार
""")
F("sms", "hi", """
    नमस्ते {first} जी, मेरा नया नंबर {mobile} है, सेव कर लीजिए। - {first2}
""")
F("email", "hi", """
    विषय: पता परिवर्तन

    महोदय/महोदया,

    {date} से मेरा नया पता इस प्रकार है:
    {addr}

    ग्राहक संख्या: {customer}

    धन्यवाद,
    {name}
    मोबाइल: {mobile}
""")
F("kyc", "hi", """
    केवाईसी सत्यापन {date}
    नाम: {name}
    पिता/पति का नाम: {name2}
    जन्म तिथि: {dob}
    {natid_l}: {natid}
    {acct_l}: {acct}
    ईमेल: {email}
""")
F("call_transcript", "hi", """
    एजेंट: नमस्ते, {company} में आपका स्वागत है, मेरा नाम {agent} है। कृपया अपना पूरा नाम बताइए।
    ग्राहक: {name}।
    एजेंट: आपकी जन्म तिथि?
    ग्राहक: {dob}।
    एजेंट: आपसे किस नंबर पर संपर्क करें?
    ग्राहक: {mobile} पर कॉल कर दीजिए।
""")

# ---- texts without personal data (distractors only) ------------------------------------------------------------
N("clinical", "en", "Metformin 500 mg twice daily with meals; review HbA1c in 3 months. No change to ramipril 5 mg. BP 128/82.")
N("email", "en", "Invoice total {amount} incl. VAT 20%. Product code {product}. Payment due within 30 days of delivery.")
N("email", "en", "Reminder: the office will be closed next Tuesday. Please submit timesheets by Friday 5pm.")
N("form", "en", "Order of 12 units of SKU {product} from {company} confirmed; delivery window 3-5 working days.")
N("clinical", "en", "Obs: BP 128/82, HR 72, SpO2 98% on air. Continue amoxicillin 500 mg tds for 5 days, then stop.")
N("chatbot", "en", "Which plan includes 50 GB of data for under {amount} a month?")
N("sms", "en", "Your order is on its way. Estimated delivery: 2-3 working days. Ref code {product}.")
N("clinical", "de", "Bitte nehmen Sie Ibuprofen 400 mg höchstens dreimal täglich ein. Die Praxis ist nächsten Montag geschlossen.")
N("email", "fr", "Le devis s'élève à {amount} TTC. Référence produit {product}, livraison sous 10 jours ouvrés.")
N("clinical", "es", "Tome paracetamol 1 g cada 8 horas durante 3 días. Control de tensión en dos semanas.")
N("email", "ja", "次回の定例会議は来週火曜日です。資料番号{product}を参照してください。")
N("clinical", "zh", "请每日服用阿莫西林 500 mg，连续 7 天。如有不适请及时复诊。")
N("email", "it", "Il preventivo ammonta a {amount} IVA inclusa. Codice articolo {product}.")
N("sms", "nl", "Uw bestelling {product} wordt binnen 3 werkdagen bezorgd.")

# fmt: on


# --------------------------------------------------------------------------------------------------------------
# Per-locale value makers
# --------------------------------------------------------------------------------------------------------------


class Ctx:
    """The values of one text: every slot is a list of (entity | None, text) segments, cached per key."""

    def __init__(self, loc: str, lang: str, fk: Faker, us: Faker, rng: random.Random):
        self.loc, self.lang, self.f, self.us, self.rng = loc, lang, fk, us, rng
        self.llang = LANG[loc]  # the locale's own language
        self.cache: dict[str, list] = {}
        self.today = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(0, 2700))
        self.name_case = rng.choices(["asis", "lower", "upper"], [86, 7, 7])[0]
        # Japanese / Chinese names in an English frame: romanized for the whole text in 45 % of the texts
        self.roman = lang == "en" and loc in ("ja_JP", "zh_CN") and rng.random() < 0.45
        self.p1 = self.person()
        g2 = rng.choice("mf")
        share = rng.random() < 0.5 and (g2 == self.p1["g"] or loc not in ("pl_PL", "cs_CZ"))
        self.p2 = self.person(g2, self.p1["last_raw"] if share else None)
        self.p3 = self.person()
        self.staff = self.person()
        self.agent = self.person()
        self.dob = self.today - dt.timedelta(days=rng.randrange(18 * 365, 96 * 365))
        self.dob2 = self.today - dt.timedelta(days=rng.randrange(18 * 365, 95 * 365))
        self.kid_dob = self.today - dt.timedelta(days=rng.randrange(1 * 365, 17 * 365))
        self.addr_main = None
        self.num_pat = None  # fixed numeric date pattern while a timestamp is built

    # ---- people ------------------------------------------------------------------------------------------------
    def person(self, g: str | None = None, last: str | None = None) -> dict:
        f, rng, loc = self.f, self.rng, self.loc
        g = g or rng.choice("mf")
        if self.roman:
            first = (
                f.first_romanized_name_male()
                if g == "m" and loc == "ja_JP"
                else (f.first_romanized_name_female() if loc == "ja_JP" else f.first_romanized_name())
            )
            last = f.last_romanized_name()
            return {"g": g, "first": first, "last": last, "last_raw": last, "full": f"{first} {last}", "roman": True}
        first = f.first_name_male() if g == "m" else f.first_name_female()
        if last is None:
            last = f.last_name_male() if g == "m" else f.last_name_female()
            if loc in ("es_ES", "es_MX") and rng.random() < 0.6:
                last = f"{last} {f.last_name()}"
            elif loc in ("pt_BR", "pt_PT") and rng.random() < 0.3:
                last = f"{f.last_name()} {last}"
        if loc == "ja_JP":
            full = f"{last}{rng.choice([' ', '　', ''])}{first}"
        elif loc in ("zh_CN", "ko_KR"):
            full = f"{last}{first}"
        else:
            full = f"{first} {last}"
            if self.lang == "en" and loc.startswith("en") and rng.random() < 0.1:
                full = f"{first} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}"
        return {"g": g, "first": first, "last": last, "last_raw": last, "full": full, "roman": False}

    def cased(self, s: str) -> str:
        return s.lower() if self.name_case == "lower" else s.upper() if self.name_case == "upper" else s

    def titled(self, p: dict, which: str) -> list:
        """Title + name (title unlabelled). which = 'full' or 'last'."""
        name = self.cased(p[which])
        lang, g = self.lang, p["g"]
        if lang == "ja":
            return [("PERSON", name), (None, self.rng.choice(["様", " 様", "さん"]))]
        if lang == "zh":
            return [("PERSON", name), (None, "先生" if g == "m" else "女士")]
        if lang == "ko":
            return [("PERSON", p["full"]), (None, self.rng.choice([" 님", "님", " 씨"]))]
        if lang == "tr":
            if which == "last":
                return [("PERSON", self.cased(p["first"])), (None, " Bey" if g == "m" else " Hanım")]
            return [(None, "Sayın "), ("PERSON", name)]
        if lang in ("no", "sv", "da", "fi"):
            return [("PERSON", name)]
        titles = TITLES.get(lang, TITLES["en"])[0 if g == "m" else 1]
        if "title" not in p:  # one title per person and text
            p["title"] = self.rng.choice(titles)
        return [(None, p["title"] + " "), ("PERSON", name)]

    def doctor(self, p: dict) -> list:
        if self.lang == "ja":
            return [("PERSON", p["last"]), (None, "医師")]
        if self.lang == "zh":
            return [("PERSON", p["last"]), (None, "医生")]
        if self.lang == "ko":
            return [("PERSON", p["full"]), (None, " 선생님")]
        if p.get("roman") or self.loc not in ("ja_JP", "zh_CN", "ko_KR"):
            return [(None, DOCTOR.get(self.lang, "Dr") + " "), ("PERSON", self.rng.choice([p["last"], p["full"]]))]
        return [(None, "Dr "), ("PERSON", p["full"])]  # CJK name in an English frame

    # ---- dates and ages -----------------------------------------------------------------------------------------
    def numeric(self, d: dt.date) -> str:
        pat = self.num_pat or self.rng.choice(NUMERIC[self.loc])
        out = pat.replace("YYYY", f"{d.year}").replace("YY", f"{d.year % 100:02d}")
        out = out.replace("MM", f"{d.month:02d}").replace("DD", f"{d.day:02d}")
        return re.sub(r"\bM\b", str(d.month), re.sub(r"\bD\b", str(d.day), out))

    def longdate(self, d: dt.date, lang: str) -> str:
        rng = self.rng
        if lang == "en":
            mon = MONTHS["en"][d.month - 1]
            suf = "th" if 11 <= d.day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10, "th")
            return rng.choice(
                [
                    f"{d.day} {mon} {d.year}",
                    f"{d.day}{suf} {mon} {d.year}",
                    f"{mon} {d.day}, {d.year}",
                    f"{mon} {d.day}{suf}, {d.year}",
                    f"{d.day} {mon[:3]} {d.year}",
                    f"{d.day:02d}-{mon[:3]}-{d.year}",
                ]
            )
        day = "1er" if lang == "fr" and d.day == 1 else str(d.day)
        return LONG[lang].format(d=day, M=MONTHS.get(lang, [""] * 12)[d.month - 1], Y=d.year, m=d.month)

    def date(self, d: dt.date) -> str:
        lang, r = self.lang, self.rng.random()
        if r < 0.12:
            return d.isoformat()
        if r < 0.55 or (lang == "en" and self.llang != "en" and r < 0.7):
            return self.numeric(d)
        return self.longdate(d, lang)

    def daymonth(self, d: dt.date) -> str:
        if self.lang == "en":
            mon = MONTHS["en"][d.month - 1]
            suf = "th" if 11 <= d.day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10, "th")
            return self.rng.choice(
                [f"{d.day} {mon}", f"{mon} {d.day}{suf}", f"{d.day}{suf} of {mon}", f"{mon} {d.day}"]
            )
        return DAYMONTH[self.lang].format(d=d.day, M=MONTHS.get(self.lang, [""] * 12)[d.month - 1], m=d.month)

    def stamp(self, d: dt.date, h: int, mi: int, s: int) -> str:
        """A date with its time; the style is chosen once per text so that `ts` and `ts2` match."""
        rng, lang = self.rng, self.lang
        t = f"{h:02d}:{mi:02d}"
        if "stamp!" not in self.cache:
            self.cache["stamp!"] = (rng.random(), rng.randrange(6), rng.choice(NUMERIC[self.loc]))
        r, choice, self.num_pat = self.cache["stamp!"]
        if lang == "ja" and r < 0.5:
            return f"{d.year}年{d.month}月{d.day}日 {h}時{mi:02d}分"
        if lang in ("zh", "ko") and r < 0.5:
            return f"{LONG[lang].format(Y=d.year, m=d.month, d=d.day)} {t}"
        if choice == 0:
            return f"{d.isoformat()} {t}"
        if choice == 1:
            return f"{d.isoformat()}T{t}:{s:02d}Z"
        if choice == 2:
            return f"{d.isoformat()} {t}:{s:02d}"
        if choice == 3 and lang == "en":
            return f"{self.numeric(d)} {(h - 1) % 12 + 1}:{mi:02d} {'AM' if h < 12 else 'PM'}"
        if choice == 4 and lang not in ("ja", "zh", "ko"):
            return f"{self.longdate(d, lang)} {t}"
        return f"{self.numeric(d)} {t}"

    def age_phrase(self, n: int, kind: str) -> list:
        """AGE spans include their unit (`82 yo`, `82 Jahre`); cue words such as `aged` stay outside."""
        rng, lang = self.rng, self.lang
        if lang == "en":
            if kind == "attr":
                return [
                    (
                        "AGE",
                        rng.choice([f"{n}-year-old", f"{words_en(n)}-year-old", f"{n} yo", f"{n}-yr-old", f"{n} y/o"]),
                    )
                ]
            if kind == "short":
                return [("AGE", rng.choice([f"{n}y", f"{n} yrs", f"{n} y/o", f"{n}yo", f"{n}", f"{n} years"]))]
            return [("AGE", rng.choice([f"{n}", f"{n} years old", words_en(n), f"{n} yo", f"{words_en(n)} years old"]))]
        if lang == "de":
            if kind == "attr":
                return [("AGE", f"{n}-jährige")]
            if kind == "short":
                return [("AGE", rng.choice([f"{n} J.", f"{n}J", f"{n} Jahre"]))]
            return [("AGE", rng.choice([f"{n} Jahre alt", f"{n} Jahre"]))]
        if lang == "pl":
            unit = "lata" if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14) else "lat"
            return [("AGE", f"{n} {unit}")]
        if lang == "cs":
            return [("AGE", f"{n} {'roky' if n in (2, 3, 4) else 'let'}")]
        if lang == "fi":
            return [("AGE", rng.choice([f"{n}-vuotias", f"{n} v"]))]
        if lang == "ko":
            return [(None, rng.choice(["", "만 "])), ("AGE", f"{n}세")]
        unit = {
            "fr": " ans",
            "es": " años",
            "it": " anni",
            "pt": " anos",
            "nl": " jaar",
            "no": " år",
            "sv": " år",
            "da": " år",
            "tr": " yaşında",
            "ja": "歳",
            "zh": "岁",
            "hi": " वर्ष",
        }[lang]
        return [("AGE", f"{n}{unit}")]

    def years(self, born: dt.date) -> int:
        t = self.today
        return t.year - born.year - ((t.month, t.day) < (born.month, born.day))

    # ---- contact -----------------------------------------------------------------------------------------------
    def phone(self, mobile: bool = False) -> str:
        f, rng = self.f, self.rng
        if self.loc == "en_IE":
            return rng.choice(
                [
                    f"+353 8{rng.choice('35679')} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
                    f"08{rng.choice('35679')} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
                    f"0{rng.choice(['1', '21', '61', '91'])} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
                ]
            )
        if mobile and hasattr(f, "cellphone_number"):
            return f.cellphone_number()
        return f.phone_number().strip()

    def username(self, p: dict) -> str:
        rng = self.rng
        a, b = fold_ascii(p["first"]).lower(), fold_ascii(p["last"]).lower().replace(" ", "")
        if not (a + b).isascii() or not re.fullmatch(r"[a-z\-']+", a + b):
            return self.f.user_name()
        a, b = re.sub(r"[^a-z]", "", a), re.sub(r"[^a-z]", "", b)
        return rng.choice(
            [
                f"{a}.{b}",
                f"{a}{b}",
                f"{a[0]}{b}",
                f"{a}_{b}{rng.randrange(10, 99)}",
                f"{b}.{a}",
                f"{a}{rng.randrange(60, 99)}",
            ]
        )

    def email(self, p: dict) -> str:
        if self.rng.random() < 0.3:
            return self.f.email()
        return f"{self.username(p)}@{self.f.free_email_domain()}"

    # ---- addresses ---------------------------------------------------------------------------------------------
    def address(self) -> dict:
        """An address as rows of segments: {"pre": rows before the street (JP/KR postal code), "street": street
        rows, "post": city / postal-code rows}. Rows are joined by newlines (block) or ', ' (inline)."""
        f, rng, loc = self.f, self.rng, self.loc
        A = lambda s: ("ADDRESS", re.sub(r"\s+", " ", s).strip().rstrip(","))  # noqa: E731
        Z = lambda s: ("ZIP", s.strip())  # noqa: E731
        street = (
            [[A(x)] for x in f.street_address().split("\n") if x.strip()]
            if loc not in ("tr_TR", "ja_JP", "zh_CN", "ko_KR", "es_MX")
            else []
        )
        pre: list = []
        if loc == "en_GB":
            post = [[A(f.city())], [Z(f.postcode())]]
        elif loc == "en_IE":
            post = [[A(f.city())]] + ([[A("Co. " + f.administrative_unit())]] if rng.random() < 0.6 else [])
            post.append([Z(f.postcode())])
        elif loc in ("en_CA", "fr_CA"):
            if rng.random() < 0.3 and not re.search(r"Apt|Suite", street[-1][0][1]):
                street.append([A(f.secondary_address())])
            if rng.random() < 0.5:  # "Town, QC  H2X 1Y4": town and province are separate parts
                town = [A(f.city()), (None, ", "), A(f.province_abbr())]
            else:  # "Town QC H2X 1Y4": one run
                town = [A(f"{f.city()} {f.province_abbr()}")]
            post = [town + [(None, rng.choice(["  ", " "])), Z(f.postcode())]]
        elif loc == "en_AU":
            post = [[A(f"{f.city()} {f.state_abbr()}"), (None, " "), Z(f.postcode())]]
        elif loc in ("en_IN", "hi_IN"):
            post = [[A(f.city()), (None, rng.choice([" - ", "-", " "])), Z(f.postcode())], [A(f.administrative_unit())]]
        elif loc == "es_MX":
            street = [[A(f"{f.street_name()} {f.building_number()}")]]
            if rng.random() < 0.4:
                street.append([A(f"Int. {rng.randrange(1, 40)}")])
            street.append([A(f"Col. {f.last_name()}")])
            post = [[Z(f.postcode()[:5]), (None, " "), A(f.city()), (None, ", "), A(f.state_abbr())]]
        elif loc == "pt_BR":
            street.append([A(f.bairro())])
            post = [[Z(f.postcode()), (None, " "), A(f.city()), (None, " - "), A(f.estado_sigla())]]
        elif loc == "it_IT":
            # postcode_city_province() gives a real CAP / town / province triple ("67012, San Giovanni (AQ)");
            # f.city() is avoided because Faker builds the it_IT city list from a set (order varies per process)
            cap, _, town = f.postcode_city_province().partition(", ")
            post = [[Z(cap), (None, " "), A(town)]]
        elif loc == "tr_TR":
            il, ilce, code = rng.choice(TR_PLACES)
            no = f"No:{rng.randrange(1, 120)}" + (f" D:{rng.randrange(1, 30)}" if rng.random() < 0.7 else "")
            street = [
                [A(f"{rng.choice(MAHALLE)} Mah.")],
                [A(f"{f.last_name()} {rng.choice(['Sokak', 'Sk.', 'Caddesi', 'Cad.'])} {no}")],
            ]
            post = [[Z(f"{code}{rng.randrange(0, 999):03d}"), (None, " "), A(f"{ilce}/{il}")]]
        elif loc == "ja_JP":
            pre = [[(None, "〒"), Z(f.zipcode())]]
            street = [[A(f"{f.prefecture()}{f.city()}{f.town()}{f.chome()}{f.ban()}{f.gou()}")]]
            if rng.random() < 0.6:
                street.append([A(f"{f.building_name()}{f.building_number()}")])
            post = []
        elif loc == "zh_CN":
            line = f"{f.province()}{f.city()}{f.district()}区{f.street_address()}"
            if rng.random() < 0.5:
                line += f"{rng.randrange(1, 30)}{rng.choice(['0', '1', '2'])}{rng.randrange(1, 9)}室"
            street = [[A(line)]]
            post = [[(None, "邮编："), Z(f.postcode())]]
        elif loc == "ko_KR":
            pre = [[(None, "("), Z(f.postcode()), (None, ")")]]
            street = [[A(f.road_address())]]
            if rng.random() < 0.6:
                street.append([A(f.address_detail())])
            post = []
        else:  # postal code before the town: de_*, fr_FR, fr_CH, nl_*, no, sv, da, fi, es_ES, pt_PT, pl, cs
            post = [[Z(f.postcode()), (None, " "), A(f.city())]]
        return {"pre": pre, "street": street, "post": post}

    @staticmethod
    def rows(a: dict) -> list[list]:
        return a["pre"] + a["street"] + a["post"]

    def join(self, rows: list[list], sep: str) -> list:
        out = []
        for i, row in enumerate(rows):
            if i:
                after_bracket = rows[i - 1][-1] == (None, ")")
                out.append((None, " " if after_bracket and sep != "\n" else sep))
            out.extend(row)
        return out

    def inline(self, rows: list[list]) -> list:
        return self.join(rows, " " if self.loc in ("ja_JP", "ko_KR", "zh_CN") else ", ")

    def pobox(self) -> list[list]:
        f, rng, loc = self.f, self.rng, self.loc
        n = str(rng.randrange(10, 9999))
        if loc == "de_DE" and len(n) == 4:
            n = f"{n[:2]} {n[2:]}"
        box = ("ADDRESS", rng.choice(POBOX[loc]).format(n=n))
        a = self.address()
        if loc == "ja_JP":
            return a["pre"] + [[("ADDRESS", f"{f.prefecture()}{f.city()}")], [box]]
        if loc == "ko_KR":
            return a["pre"] + [[("ADDRESS", f"{f.metropolitan_city()} {f.borough()}")], [box]]
        if loc == "zh_CN":
            return [[("ADDRESS", f"{f.province()}{f.city()}")], [box]] + a["post"]
        return a["pre"] + [[box]] + a["post"]

    def apo(self) -> list[list]:
        rng, us = self.rng, self.us
        kind = rng.randrange(3)
        state = rng.choice(["AE", "AP", "AA"])
        zipc = {
            "AE": f"09{rng.randrange(0, 999):03d}",
            "AP": f"96{rng.randrange(200, 699):03d}",
            "AA": f"340{rng.randrange(0, 99):02d}",
        }[state]
        if kind == 0:
            return [[("ADDRESS", us.military_apo())], [("ADDRESS", f"APO {state}"), (None, " "), ("ZIP", zipc)]]
        if kind == 1:
            return [[("ADDRESS", us.military_dpo())], [("ADDRESS", f"DPO {state}"), (None, " "), ("ZIP", zipc)]]
        return [
            [("ADDRESS", f"{us.military_ship()} {us.last_name()}")],
            [("ADDRESS", f"FPO {state}"), (None, " "), ("ZIP", zipc)],
        ]

    # ---- identifiers ---------------------------------------------------------------------------------------------
    def national_id(self) -> tuple[str, str, str]:
        """(English cue, own-language cue, value) from the locale's id providers (own formats where Faker has none)."""
        f, rng, loc = self.f, self.rng, self.loc
        d = self.dob
        if loc == "en_GB":
            if rng.random() < 0.5:
                return (
                    "National Insurance number",
                    "National Insurance number",
                    rng.choice([f.ssn(), f.ssn().replace(" ", "")]),
                )
            while True:
                digits = [rng.randrange(10) for _ in range(9)]
                chk = 11 - sum(x * w for x, w in zip(digits, range(10, 1, -1), strict=True)) % 11
                if chk != 10:
                    s = "".join(map(str, digits)) + str(chk % 11)
                    return "NHS number", "NHS number", rng.choice([f"{s[:3]} {s[3:6]} {s[6:]}", s])
        if loc == "en_IE":
            digits = [rng.randrange(10) for _ in range(7)]
            chk = "WABCDEFGHIJKLMNOPQRSTUV"[sum(x * w for x, w in zip(digits, range(8, 1, -1), strict=True)) % 23]
            return "PPS number", "PPSN", "".join(map(str, digits)) + chk
        if loc == "en_CA":
            return "SIN", "SIN", f.ssn()
        if loc == "fr_CA" and rng.random() < 0.5:  # fr_CA has no ssn provider: the Canadian SIN from en_CA
            return "SIN", "NAS", extra("en_CA", rng).ssn()
        if loc == "fr_CA":
            p = self.p1
            last = fold_ascii(p["last"]).upper().replace(" ", "")[:3].ljust(3, "X")
            mm = d.month + (50 if p["g"] == "f" else 0)
            return (
                "health card number",
                "numéro d'assurance maladie",
                f"{last}{fold_ascii(p['first'])[0].upper()} {d.year % 100:02d}{mm:02d} {d.day:02d}{rng.randrange(10, 99)}",
            )
        if loc == "en_AU":
            if rng.random() < 0.5:
                base = [rng.randrange(2, 7)] + [rng.randrange(10) for _ in range(7)]
                chk = sum(x * w for x, w in zip(base, (1, 3, 7, 9, 1, 3, 7, 9), strict=True)) % 10
                s = "".join(map(str, base)) + str(chk) + str(rng.randrange(1, 5))
                return (
                    "Medicare number",
                    "Medicare card number",
                    f"{s[:4]} {s[4:9]} {s[9]}" + (f"-{rng.randrange(1, 6)}" if rng.random() < 0.3 else ""),
                )
            s = "".join(str(rng.randrange(10)) for _ in range(9))
            return "TFN", "tax file number", f"{s[:3]} {s[3:6]} {s[6:]}"
        if loc in ("en_IN", "hi_IN"):
            ind = extra("en_IN", rng)  # hi_IN has no id provider: Aadhaar / PAN from en_IN
            if rng.random() < 0.6:
                a = ind.aadhaar_id()
                return (
                    "Aadhaar number",
                    "आधार संख्या" if loc == "hi_IN" else "Aadhaar no.",
                    rng.choice([a, f"{a[:4]} {a[4:8]} {a[8:]}"]),
                )
            return "PAN", "पैन नंबर" if loc == "hi_IN" else "PAN card", ind.pan()
        if loc == "de_DE":
            if rng.random() < 0.5:
                return "pension insurance number", "Rentenversicherungsnummer", f.rvnr()
            return "health insurance number", "Krankenversichertennummer", f.kvnr()
        if loc == "de_AT":
            s = f.ssn()
            return "social security number", "Sozialversicherungsnummer", rng.choice([s, f"{s[:4]} {s[4:]}"])
        if loc == "de_CH":
            return "AHV number", "AHV-Nummer", f.ssn()
        if loc == "fr_CH":
            return "AVS number", "numéro AVS", f.ssn()
        if loc == "fr_FR":
            s = f.ssn()
            spaced = f"{s[0]} {s[1:3]} {s[3:5]} {s[5:7]} {s[7:10]} {s[10:13]} {s[13:]}"
            return "social security number", "numéro de sécurité sociale", rng.choice([s, spaced])
        if loc == "nl_NL":
            return "BSN", "BSN", f.ssn()
        if loc == "nl_BE":
            s = f.ssn()
            return (
                "national register number",
                "rijksregisternummer",
                rng.choice([s, f"{s[:2]}.{s[2:4]}.{s[4:6]}-{s[6:9]}.{s[9:]}"]),
            )
        if loc == "no_NO":
            s = f.ssn()
            return "national identity number", "fødselsnummer", rng.choice([s, f"{s[:6]} {s[6:]}"])
        if loc == "sv_SE":
            return "personal identity number", "personnummer", f.ssn(long=rng.random() < 0.4)
        if loc == "da_DK":
            s = f"{d.day:02d}{d.month:02d}{d.year % 100:02d}-{rng.randrange(1000, 9999)}"
            return "CPR number", "CPR-nr.", s
        if loc == "fi_FI":
            return "personal identity code", "henkilötunnus", f.ssn()
        if loc == "it_IT":
            if rng.random() < 0.7:
                return "tax code", "codice fiscale", f.ssn()
            return "ID card number", "numero carta d'identità", f.cie()
        if loc == "es_ES":
            k = rng.randrange(3)
            if k == 0:
                return "DNI", "DNI", f.nif()
            if k == 1:
                return "NIE", "NIE", f.nie()
            return "social security number", "número de afiliación a la Seguridad Social", f.nuss()
        if loc == "es_MX":
            k = rng.randrange(3)
            if k == 0:
                return "CURP", "CURP", f.curp()
            if k == 1:
                return "RFC", "RFC", f.rfc()
            return "NSS", "número de seguridad social", f.ssn()
        if loc == "pt_PT":
            return "tax number (NIF)", "NIF", f.vat_id()[2:]
        if loc == "pt_BR":
            if rng.random() < 0.6:
                return "CPF", "CPF", rng.choice([f.cpf(), re.sub(r"\D", "", f.cpf())])
            return "RG", "RG", f.rg()
        if loc == "pl_PL":
            if rng.random() < 0.6:
                return "PESEL", "PESEL", f.pesel()
            return "ID card number", "numer dowodu osobistego", f.identity_card_number()
        if loc == "cs_CZ":
            return "birth number", "rodné číslo", f.birth_number()
        if loc == "tr_TR":
            return "TC identity number", "T.C. Kimlik No", f.ssn()
        if loc == "ja_JP":
            s = "".join(str(rng.randrange(10)) for _ in range(12))
            return "My Number", "マイナンバー", rng.choice([s, f"{s[:4]} {s[4:8]} {s[8:]}"])
        if loc == "zh_CN":
            return "resident ID number", "身份证号", f.ssn()
        if loc == "ko_KR":
            return "resident registration number", "주민등록번호", f.ssn()
        raise KeyError(loc)

    def licence(self) -> str:
        rng, p, d = self.rng, self.p1, self.dob
        if self.loc == "en_GB" and not p.get("roman"):
            sur = re.sub(r"[^A-Z]", "", fold_ascii(p["last"]).upper())[:5].ljust(5, "9")
            mm = d.month + (50 if p["g"] == "f" else 0)
            ini = fold_ascii(p["first"])[0].upper() + rng.choice("9ABDJMRS")
            return f"{sur}{str(d.year)[2]}{mm:02d}{d.day:02d}{d.year % 10}{ini}9{rng.choice('ABCDEFGHJK')}{rng.choice('ABCDEFGHJK')}"
        pats = ["?########", "??######?", "#########", "?##-###-###", "##?#####", "?#######"]
        pat = rng.choice(pats)
        return "".join(
            rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") if c == "?" else str(rng.randrange(10)) if c == "#" else c
            for c in pat
        )

    def code(self, pats: list[str]) -> str:
        rng = self.rng
        pat = rng.choice(pats).replace("YYYY", str(self.today.year))
        return "".join(
            rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") if c == "?" else str(rng.randrange(10)) if c == "#" else c
            for c in pat
        )

    # ---- money ---------------------------------------------------------------------------------------------------
    def account(self) -> tuple[str, list]:
        """(cue, segments) of a bank account in the locale's usual form."""
        f, rng, loc = self.f, self.rng, self.loc
        en = self.lang == "en"
        if loc == "en_GB" and rng.random() < 0.5:
            sc = f"{rng.randrange(10, 99)}-{rng.randrange(10, 99)}-{rng.randrange(10, 99)}"
            return "sort code / account", [
                ("ACCOUNT", sc),
                (None, " / "),
                ("ACCOUNT", f"{rng.randrange(10**7, 10**8)}"),
            ]
        if loc in ("en_CA", "fr_CA"):
            s = f"{rng.randrange(10000, 99999)}-{rng.choice(['001', '002', '003', '004', '006', '010', '815'])}-{rng.randrange(10**6, 10**7)}"
            return ("account number" if en else "numéro de compte"), [("ACCOUNT", s)]
        if loc == "en_AU":
            return "BSB / account", [
                ("ACCOUNT", f"{rng.randrange(10, 99)}{rng.randrange(0, 9)}-{rng.randrange(100, 999)}"),
                (None, " / "),
                ("ACCOUNT", f"{rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}"),
            ]
        if loc in ("en_IN", "hi_IN"):
            s = str(rng.randrange(10**10, 10**14))
            return ("account number" if en else "बैंक खाता संख्या" if loc == "hi_IN" else "account number"), [
                ("ACCOUNT", s)
            ]
        if loc == "es_MX":
            s = "".join(str(rng.randrange(10)) for _ in range(18))
            return "CLABE", [("ACCOUNT", rng.choice([s, f"{s[:3]} {s[3:6]} {s[6:17]} {s[17]}"]))]
        if loc == "ja_JP":
            s = f"{rng.randrange(10**6, 10**7)}"
            return ("account number" if en else "口座番号"), [("ACCOUNT", s)]
        if loc == "ko_KR":
            s = f"{rng.randrange(100, 999)}-{rng.randrange(10**5, 10**6)}-{rng.randrange(10**4, 10**5)}"
            return ("account number" if en else "계좌번호"), [("ACCOUNT", s)]
        if loc == "zh_CN":
            s = "6222" + "".join(str(rng.randrange(10)) for _ in range(15))
            return ("bank account" if en else "银行账号"), [("ACCOUNT", rng.choice([s, group4(s)]))]
        if loc == "sv_SE":
            iban = iban_from("SE", "".join(str(rng.randrange(10)) for _ in range(20)))
        else:
            iban = f.iban()
        if rng.random() < 0.15:
            return ("account number" if en else ACCOUNT_WORD[self.lang]), [
                ("ACCOUNT", f.bban() if loc != "sv_SE" else iban[4:])
            ]
        return "IBAN", [("ACCOUNT", rng.choice([iban, group4(iban)]))]

    def amount(self, big: bool = False) -> str:
        rng = self.rng
        v = rng.choice(
            [rng.randrange(5, 200) + rng.randrange(100) / 100, rng.randrange(200, 9000) + rng.randrange(100) / 100]
        )
        if big:  # a salary
            v = float(rng.randrange(24, 95) * 1000)
        a = f"{v:,.2f}"
        c = a.replace(",", "X").replace(".", ",").replace("X", ".")
        s = a.replace(",", " ").replace(".", ",")
        big = int(v * 100)
        return rng.choice(CURRENCY[self.loc]).format(a=a, c=c, s=s, i=str(int(v)), I=f"{big:,}")

    def card(self) -> str:
        s = self.f.credit_card_number()
        if self.rng.random() < 0.45:
            if len(s) == 15:
                return f"{s[:4]} {s[4:10]} {s[10:]}"
            return group4(s)
        return s

    def url(self, p: dict) -> str:
        u = self.username(p).replace("_", "-")
        rng = self.rng
        return rng.choice(
            [
                f"https://www.linkedin.com/in/{u.replace('.', '-')}",
                f"https://github.com/{u.replace('.', '')}",
                f"https://www.instagram.com/{u}/",
                f"https://{u.replace('.', '')}.wordpress.com",
                f"www.facebook.com/{u}",
                f"https://x.com/{u.replace('.', '_')}",
            ]
        )

    # ---- slots ---------------------------------------------------------------------------------------------------
    def value(self, key: str) -> list:
        if key not in self.cache:
            self.cache[key] = self.make(key)
        return self.cache[key]

    def main_address(self) -> list[list]:
        if self.addr_main is None:
            self.addr_main = self.address()
        return self.rows(self.addr_main)

    def make(self, key: str) -> list:
        f, rng = self.f, self.rng
        P = lambda s: [("PERSON", self.cased(s))]  # noqa: E731
        p1, p2, p3 = self.p1, self.p2, self.p3
        if key == "name":
            return P(p1["full"])
        if key == "first":
            return P(p1["first"])
        if key == "last":
            return P(p1["last"])
        if key == "tname":
            return self.titled(p1, "full")
        if key == "tlast":
            return self.titled(p1, "last")
        if key == "maiden":
            return P(f.last_name_female() if p1["g"] == "f" else f.last_name())
        if key == "name2":
            return P(p2["full"])
        if key == "first2":
            return P(p2["first"])
        if key == "last2":
            return P(p2["last"])
        if key == "name3":
            return P(p3["full"])
        if key == "staff":
            return [("PERSON", self.staff["full"])]
        if key == "staff_first":
            return [("PERSON", self.staff["first"])]
        if key == "staff_t":
            return self.doctor(self.staff)
        if key == "agent":
            return [("PERSON", self.agent["first"])]
        # ages
        n, n2 = self.years(self.dob), self.years(self.dob2)
        if key == "age":
            return self.age_phrase(n, "pred")
        if key == "age_attr":
            return self.age_phrase(n, "attr")
        if key == "age_short":
            return self.age_phrase(n, "short")
        if key == "age_n":
            return [("AGE", str(n))]
        if key == "age_w":
            return [("AGE", words_en(n))]
        if key == "age2":
            return self.age_phrase(n2, "pred")
        if key == "age2_n":
            return [("AGE", str(n2))]
        if key == "kid_age":
            return self.age_phrase(self.years(self.kid_dob), "pred")
        if key == "kid_age_n":
            return [("AGE", str(self.years(self.kid_dob)))]
        # dates
        if key == "dob":
            return [("DATE", self.date(self.dob))]
        if key == "dob2":
            return [("DATE", self.date(self.dob2))]
        if key == "dob_iso":
            return [("DATE", self.dob.isoformat())]
        if key == "date":
            return [("DATE", self.date(self.today))]
        if key == "date2":
            return [("DATE", self.date(self.today + dt.timedelta(days=rng.randrange(3, 90))))]
        if key == "dm":
            return [("DATE", self.daymonth(self.today + dt.timedelta(days=rng.randrange(1, 40))))]
        if key in ("ts", "ts2"):
            if "clock!" not in self.cache:
                self.cache["clock!"] = (rng.randrange(7, 21), rng.randrange(50), rng.randrange(60))
            h, mi, s = self.cache["clock!"]
            if key == "ts2":  # a moment after `ts`
                mi, s = mi + rng.randrange(1, 9), (s + rng.randrange(5, 50)) % 60
            out = [("DATE", self.stamp(self.today, h, mi, s))]
            self.num_pat = None
            return out
        if key == "ts_log":
            d = self.today
            return [
                (
                    "DATE",
                    f"{d.day:02d}/{MONTHS['en'][d.month - 1][:3]}/{d.year}:{rng.randrange(24):02d}:"
                    f"{rng.randrange(60):02d}:{rng.randrange(60):02d} +0{rng.randrange(0, 3)}00",
                )
            ]
        if key == "wdate":
            d = self.today
            if self.lang in WEEKDAYS:
                wd = WEEKDAYS[self.lang][d.weekday()]
                return [
                    (
                        "DATE",
                        f"{wd} {self.longdate(d, self.lang)}"
                        if self.lang == "en"
                        else f"{wd}, {self.longdate(d, self.lang)}",
                    )
                ]
            return [("DATE", self.date(d))]
        # contact
        if key == "phone":
            return [("PHONE", self.phone())]
        if key == "phone2":
            return [("PHONE", self.phone())]
        if key == "mobile":
            return [("PHONE", self.phone(mobile=True))]
        if key == "phone_ext":  # the extension is part of the PHONE span
            return [
                ("PHONE", self.phone() + rng.choice([" ext. ", " ext ", " x", " Ext. "]) + str(rng.randrange(10, 9999)))
            ]
        if key == "email":
            return [("EMAIL", self.email(p1))]
        if key == "email2":
            return [("EMAIL", self.email(p2 if rng.random() < 0.5 else self.staff))]
        if key == "url":
            return [("URL", self.url(p1))]
        if key == "ip":
            return [("IP", f.ipv4_public() if rng.random() < 0.85 else f.ipv6())]
        # addresses
        if key == "addr":
            return self.join(self.main_address(), "\n")
        if key == "addr1":
            return self.inline(self.main_address())
        if key == "addr_nz":  # the address without its postal code
            rows = []
            for r in self.main_address():
                r = [seg for seg in r if seg[0] != "ZIP"]
                while r and r[0][0] is None:
                    r = r[1:]
                while r and r[-1][0] is None:
                    r = r[:-1]
                if r:
                    rows.append(r)
            return self.inline(rows)
        if key == "zip":
            return [seg for r in self.main_address() for seg in r if seg[0] == "ZIP"][:1]
        if key == "street":
            self.main_address()
            return [seg for r in self.addr_main["street"] for seg in r if seg[0] == "ADDRESS"][:1]
        if key == "cityzip":
            rows = [r for r in self.main_address() if any(seg[0] == "ZIP" for seg in r)]
            return [seg for seg in rows[0] if seg[1] not in ("〒", "(", ")", "邮编：")] if rows else []
        if key == "addr1b":
            return self.inline(self.rows(self.address()))
        if key == "pobox":
            return self.join(self.pobox(), "\n")
        if key == "pobox1":
            return self.inline(self.pobox())
        if key == "apo":
            return self.join(self.apo(), "\n")
        # identifiers
        if key in ("natid", "natid_l"):
            if "natid!" not in self.cache:
                self.cache["natid!"] = self.national_id()
            en_l, loc_l, v = self.cache["natid!"]
            return [("ID", v)] if key == "natid" else [(None, en_l if self.lang == "en" else loc_l)]
        if key == "passport":
            return [("ID", f.passport_number())]
        if key == "licence":
            return [("ID", self.licence())]
        if key == "plate":
            return [("ID", f.license_plate())]
        if key == "mrn":
            return [("ID", self.code(["#######", "MRN#######", "H######", "K###-####", "RX#####?"]))]
        if key == "claim":
            return [("ID", self.code(["CLM-YYYY-######", "??########", "SCH-#######", "C/YYYY/#####"]))]
        if key == "policy":
            return [("ID", self.code(["POL########", "???/######/##", "??-#######", "#########"]))]
        if key == "member":
            return [("ID", self.code(["M#########", "#### #### ####", "MB-######"]))]
        if key == "customer":
            return [("ID", self.code(["########", "C-######", "KD#######", "####-####-##"]))]
        if key == "employee":
            return [("ID", self.code(["E#####", "######", "EMP-####", "P####?"]))]
        if key == "student":
            return [("ID", self.code(["########", "s#######", "STU-YYYY-####"]))]
        if key == "case":
            return [("ID", self.code(["YYYY/#####", "CASE-######", "#######", "CR/YYYY/####"]))]
        if key == "ticket":
            return [("ID", self.code(["INC#######", "REQ-######"]))]
        if key in ("acct", "acct_l"):
            if "acct!" not in self.cache:
                self.cache["acct!"] = self.account()
            cue, segs = self.cache["acct!"]
            return segs if key == "acct" else [(None, cue)]
        if key == "card":
            return [("CARD", self.card())]
        # plain values (never labelled)
        if key == "amount":
            return [(None, self.amount())]
        if key == "amount2":
            return [(None, self.amount(big=True))]
        if key in ("drug", "drug2"):
            return [(None, rng.choice(DRUGS))]
        if key == "vitals":
            return [(None, rng.choice(VITALS))]
        if key == "product":
            return [(None, self.code(["??-####", "?##-###-?", "####-###", "??####?"]))]
        if key == "company":
            return [(None, f.company())]
        if key == "hospital":
            return [(None, rng.choice(HOSPITALS))]
        if key == "city_plain":
            if self.loc == "it_IT":  # see address(): it_IT f.city() is not reproducible across processes
                return [(None, f.postcode_city_province().partition(", ")[2].split(" (")[0])]
            return [(None, f.city())]
        if key == "country":
            return [(None, COUNTRY[self.loc][0 if self.lang == "en" else 1])]
        raise KeyError(f"unknown slot {key!r}")

    def expand(self, spec: str) -> list:
        kind, _, rest = spec.partition(":")
        if kind in ("g", "g2"):
            a, b = rest.split("|")
            return [(None, a if (self.p1 if kind == "g" else self.p2)["g"] == "m" else b)]
        if kind == "r":
            return [(None, self.rng.choice(rest.split("|")))]
        if kind == "loc":
            opts = dict(o.split("=", 1) for o in rest.split(";"))
            return [(None, opts.get(self.loc, opts["*"]))]
        segs = self.value(kind)
        if rest == "upper":
            return [(e, s.upper()) for e, s in segs]
        if rest == "lower":
            return [(e, s.lower()) for e, s in segs]
        if rest == "cap":
            return [(e, s[:1].upper() + s[1:]) for e, s in segs]
        if rest:
            raise KeyError(f"unknown modifier {rest!r}")
        return segs


# --------------------------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------------------------

SLOT = re.compile(r"\{([^{}]+)\}")


def render(template: str, ctx: Ctx) -> tuple[str, list[dict]]:
    """Fill the template piece by piece; each span's offsets are taken while its piece is appended."""
    parts, spans, pos, last = [], [], 0, 0

    def add(entity, piece):
        nonlocal pos
        if not piece:
            return
        if entity:
            if piece != piece.strip():
                raise ValueError(f"span with outer whitespace: {piece!r}")
            spans.append({"start": pos, "end": pos + len(piece), "entity": entity, "text": piece})
        parts.append(piece)
        pos += len(piece)

    for m in SLOT.finditer(template):
        add(None, template[last : m.start()])
        for entity, piece in ctx.expand(m.group(1)):
            add(entity, piece)
        last = m.end()
    add(None, template[last:])
    return "".join(parts), spans


def validate(item: dict) -> None:
    text, prev_end = item["text"], -1
    for sp in item["spans"]:
        assert sp["entity"] in ENTITIES, sp
        assert text[sp["start"] : sp["end"]] == sp["text"], (item["id"], sp)
        assert sp["text"].strip() == sp["text"] and sp["text"], (item["id"], sp)
        assert sp["start"] >= prev_end, (item["id"], "overlap", sp)
        prev_end = sp["end"]


FRAME_LANGS: Counter = Counter()  # language of the frames used by the last generate() run
FRAMES_USED: set = set()


def generate(seed: int, count: int) -> list[dict]:
    fakers = {loc: Faker(loc) for loc in LOCALES}
    us = Faker("en_US")
    pick = random.Random(seed)
    used: Counter = Counter()
    items = []
    for i in range(count):
        loc = LOCALES[i % len(LOCALES)]
        own = LANG[loc]
        rng = random.Random(f"{seed}-{i}")
        fk = fakers[loc]
        fk.seed_instance(seed * 100003 + i)
        us.seed_instance(seed * 100003 + i)
        if i % NO_PII_EVERY == 7:
            pool = [fr for fr in NO_PII if fr[1] in ("en", own)]
        else:
            lang = own if own != "en" and pick.random() < P_LOCAL and any(fr[1] == own for fr in FRAMES) else "en"
            pool = [fr for fr in FRAMES if fr[1] == lang]
        low = min(used[fr] for fr in pool)
        genre, lang, template = pick.choice([fr for fr in pool if used[fr] == low])
        used[(genre, lang, template)] += 1
        FRAME_LANGS[lang] += 1
        FRAMES_USED.add(template)
        ctx = Ctx(loc, lang, fk, us, rng)
        text, spans = render(template, ctx)
        item = {"id": f"{SOURCE}-{i + 1}", "source": SOURCE, "genre": genre, "lang": loc, "text": text, "spans": spans}
        validate(item)
        items.append(item)
    return items


def report(items: list[dict]) -> str:
    ent = Counter(sp["entity"] for it in items for sp in it["spans"])
    loc = Counter(it["lang"] for it in items)
    gen = Counter(it["genre"] for it in items)
    own = sum(n for lg, n in FRAME_LANGS.items() if lg != "en")
    lines = [
        f"texts: {len(items)}   spans: {sum(ent.values())}   without PII: {sum(1 for it in items if not it['spans'])}",
        f"frames: {len(FRAMES)} with PII + {len(NO_PII)} without "
        f"({sum(1 for fr in FRAMES if fr[1] != 'en')} in a language other than English)",
        f"frames used: {len(FRAMES_USED)}; texts in the locale's own language (not English): "
        f"{own} ({100 * own / len(items):.0f} %); by language: "
        + ", ".join(f"{lg} {n}" for lg, n in sorted(FRAME_LANGS.items())),
        "entities: " + ", ".join(f"{e} {ent[e]}" for e in ENTITIES),
        "genres: " + ", ".join(f"{g} {n}" for g, n in sorted(gen.items())),
        "locales: " + ", ".join(f"{lc} {loc[lc]}" for lc in LOCALES),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--count", type=int, default=900)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("texts.jsonl"))
    args = parser.parse_args()
    items = generate(args.seed, args.count)
    missing = [e for e in ENTITIES if not any(sp["entity"] == e for it in items for sp in it["spans"])]
    with args.out.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"Faker {pkg_version('faker')}, seed {args.seed} -> {args.out}", file=sys.stderr)
    print(report(items))
    if missing:
        print(f"WARNING: no span of {', '.join(missing)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
