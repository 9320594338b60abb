"""Tables and machine-written fields pasted into free text: CSV, semicolon, pipe or tab separated rows under a
header line; XML elements, KEY=VALUE lines and JSON members.

A cell's meaning is in its column's header, not in its shape ("10442" is an employee number, "NGUYEN" a surname,
"Hargreaves, P" a name), so the header decides: a column headed by a name, id, date, phone, address, postal code
or email label makes every cell below it a span of that type, down to the first blank line or a row that does not
have the header's number of cells. Columns with other headers (department, amount, diagnosis) are left alone.

Yields `(start, end, entity, score, recognizer)` like the other recognizers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator

Hit = tuple[int, int, str, float, str]

# header words per entity (lower case, compared after removing "_", "-", "." and surrounding quotes)
_COLUMNS: dict[str, tuple[str, ...]] = {
    "PERSON": (
        "name", "full name", "surname", "last name", "lastname", "family name", "first name", "firstname", "given",
        "given name", "given names", "forename", "forenames", "middle name", "maiden name", "insured", "patient",
        "patient name", "customer", "customer name", "client", "client name", "employee", "employee name",
        "member name", "holder", "account holder", "cardholder", "beneficiary", "claimant", "applicant", "tenant",
        "guarantor", "contact", "contact name", "next of kin", "nok", "payee", "recipient", "signatory", "nom",
        "prénom", "prenom", "nom prénom", "nombre", "apellido", "apellidos", "nome", "cognome", "vorname",
        "nachname", "naam", "voornaam", "achternaam", "navn", "fornavn", "etternavn", "efternavn", "förnamn",
        "efternamn", "namn", "nimi", "etunimi", "sukunimi", "imię", "nazwisko", "nume", "prenume", "titular",
        "versicherter", "assuré", "asegurado", "mitarbeiter", "werknemer",
    ),
    "ID": (
        "id", "emp id", "empid", "emp no", "employee id", "employee no", "employee number", "staff id", "staff no",
        "member id", "member no", "patient id", "mrn", "hospital no", "nhs", "nhs no", "nhs number", "chi",
        "nino", "ni number", "ssn", "sin", "tfn", "bsn", "pesel", "dni", "nie", "nif", "cpf", "personnummer",
        "customer id", "customer no", "client id", "account id", "policy", "policy no", "policy number", "claim",
        "claim no", "claim ref", "ref", "reference", "case", "case no", "case id", "ticket", "passport",
        "passport no", "licence", "license", "licence no", "license no", "dl", "badge", "no", "nr", "number",
        "personalnummer", "matricule", "matricola", "kundennummer", "versicherungsnummer",
    ),
    "DATE": (
        "dob", "d.o.b", "date of birth", "birth date", "birthdate", "born", "date", "hire date", "start date",
        "admission", "admitted", "discharge", "dol", "date of loss", "doi", "visit", "visit date", "geburtsdatum",
        "date de naissance", "date d'adhésion", "fecha de nacimiento", "data di nascita", "geboortedatum",
        "födelsedatum", "fødselsdato", "syntymäaika", "data urodzenia",
    ),
    "PHONE": (
        "phone", "tel", "telephone", "mobile", "cell", "home tel", "work tel", "telefon", "téléphone", "teléfono",
        "telefono", "telefoon", "puhelin", "mobil", "handy", "portable", "contact no", "contact number",
    ),
    "EMAIL": ("email", "e mail", "mail", "courriel", "correo", "e post", "sähköposti"),
    "ADDRESS": (
        "address", "addr", "address1", "address2", "addr1", "addr2", "street", "street address", "city", "town",
        "suburb", "county", "adresse", "anschrift", "straße", "strasse", "ort", "wohnort", "ville", "dirección",
        "direccion", "ciudad", "indirizzo", "città", "adres", "plaats", "woonplaats", "osoite", "adress",
    ),
    "ZIP": ("zip", "zip code", "zipcode", "postcode", "post code", "postal code", "plz", "cp", "cap", "postnummer",
            "postinumero", "code postal", "código postal"),
}
_LABELS = {label: entity for entity, labels in _COLUMNS.items() for label in labels}
_DELIMITERS = (",", ";", "|", "\t")
_HEADER_CELL = re.compile(r"[^\W\d][\w '’./()-]{0,39}")


def _label(cell: str) -> str:
    return re.sub(r"[\s_\-.]+", " ", cell.strip().strip("\"'").lower()).strip()


def _cells(line: str, delimiter: str) -> list[tuple[int, int]] | None:
    """(start, end) of each cell's text in `line`, quotes excluded; None when the csv reader and the line disagree."""
    try:
        values = next(csv.reader([line], delimiter=delimiter, skipinitialspace=True))
    except (csv.Error, StopIteration):
        return None
    out, at = [], 0
    for value in values:
        found = line.find(value, at) if value else at
        if found < 0:
            return None
        out.append((found, found + len(value)))
        at = found + len(value)
    return out


def find(text: str) -> Iterator[Hit]:
    """Cells of header-labelled PII columns of the tables in `text`."""
    if not any(d in text for d in _DELIMITERS) or "\n" not in text:
        return
    lines = text.split("\n")
    offsets = [0]
    for line in lines[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    i = 0
    while i < len(lines) - 1:
        header = lines[i]
        found = None
        for delimiter in _DELIMITERS:
            if header.count(delimiter) < 2:
                continue
            cells = [c.strip().strip("\"'") for c in header.split(delimiter)]
            if not all(_HEADER_CELL.fullmatch(c) for c in cells if c):
                continue
            kinds = [_LABELS.get(_label(c)) for c in cells]
            if any(kinds):
                found = (delimiter, kinds)
                break
        if found is None:
            i += 1
            continue
        delimiter, kinds = found
        j = i + 1
        while j < len(lines) and lines[j].strip():
            cells = _cells(lines[j], delimiter)
            if cells is None or len(cells) != len(kinds):
                break
            for (start, end), kind in zip(cells, kinds, strict=True):
                value = lines[j][start:end].strip()
                if kind and value and any(c.isalnum() for c in value):
                    lead = len(lines[j][start:end]) - len(lines[j][start:end].lstrip())
                    yield offsets[j] + start + lead, offsets[j] + start + lead + len(value), kind, 0.8, "table:column"
            j += 1
        i = j


# "<surname>Featherstonehaugh</surname>", "MAILING_NAME=DOUCETTE LEO J", '"forename": "Aoife"'
_XML = re.compile(r"<(?P<key>[A-Za-z][\w.\-]{0,30})(?:[ \t][^>]{0,80})?>(?P<value>[^<>\n]{1,120})</(?P=key)>")
_KEY_VALUE = re.compile(r"(?m)^[ \t]*(?P<key>[A-Za-z][\w.\-]{0,40})[ \t]*=[ \t]*(?P<value>[^\n]{1,120}?)[ \t]*$")
_JSON = re.compile(r"[\"'](?P<key>[A-Za-z][\w.\- ]{0,40})[\"'][ \t]*:[ \t]*[\"'](?P<value>[^\"'\n]{1,120})[\"']")
_MORE = {"line": "ADDRESS", "line1": "ADDRESS", "line2": "ADDRESS", "tel": "PHONE", "pc": "ZIP", "prov": "ADDRESS",
         "state": "ADDRESS", "province": "ADDRESS", "given": "PERSON", "fname": "PERSON", "lname": "PERSON"}


def _key_entity(key: str) -> str | None:
    """The entity a field's key names: the whole key, or its last part ("MAILING_NAME" -> name, "home_tel")."""
    whole = _label(key)
    if whole in _LABELS or whole in _MORE:
        return _LABELS.get(whole) or _MORE[whole]
    last = _label(re.split(r"[_.\-]", key)[-1])
    return _LABELS.get(last) or _MORE.get(last)


def fields(text: str) -> Iterator[Hit]:
    """Values of XML elements, KEY=VALUE lines and JSON members whose key names a kind of PII."""
    for pattern, name in ((_XML, "xml"), (_KEY_VALUE, "key-value"), (_JSON, "json")):
        for m in pattern.finditer(text):
            entity = _key_entity(m.group("key"))
            value = m.group("value").strip()
            if entity and value and any(c.isalnum() for c in value) and value.lower() not in ("null", "none", "n/a"):
                start = m.start("value") + len(m.group("value")) - len(m.group("value").lstrip())
                yield start, start + len(value), entity, 0.8, f"field:{name}"
