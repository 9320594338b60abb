"""Domain dispatch for synthetic record generation, plus extraction of each record's raw PII strings."""

from simulations.finance import generate_finance
from simulations.healthcare import generate_healthcare

DOMAINS = ("healthcare", "finance")
SCHEMAS = {"healthcare": "healthcare.v1", "finance": "finance.v1"}

_SUBJECT = {"healthcare": "patient", "finance": "customer"}


def generate_records(domain: str, count: int, seed: int = 0) -> list[dict]:
    """Generate `count` deterministic records of `domain` ('healthcare' or 'finance') for `seed`."""
    if domain == "healthcare":
        return generate_healthcare(count, seed)
    if domain == "finance":
        return generate_finance(count, seed)
    raise ValueError(f"unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}")


def pii_values(record: dict, domain: str) -> set[str]:
    """Raw PII strings of a record (names, SSN, phone, email, street, DOB, MRN / account and card numbers)."""
    if domain not in _SUBJECT:
        raise ValueError(f"unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}")
    subject = record[_SUBJECT[domain]]
    values = {
        subject["first_name"],
        subject["last_name"],
        f"{subject['first_name']} {subject['last_name']}",
        subject["ssn"],
        subject["phone"],
        subject["email"],
        subject["address"]["street"],
        subject["dob"],
    }
    if domain == "healthcare":
        values.add(subject["mrn"])
    else:
        account = record["account"]
        values |= {account["account_number"], account["card_number"], account["routing_number"]}
    return {v for v in values if v}
