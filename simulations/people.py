"""Synthetic people carrying realistic US PII, generated deterministically from a seeded Faker and RNG."""

import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from faker import Faker

# Fixed "today" so that ages and dates never depend on the wall clock (byte-identical output per seed).
REFERENCE_DATE = date(2025, 6, 30)

_NON_ALPHA = re.compile(r"[^a-z]")


@dataclass(frozen=True)
class Person:
    """One synthetic individual with the identifying fields shared by every domain."""

    first_name: str
    last_name: str
    dob: str
    sex: str
    ssn: str
    phone: str
    email: str
    address: dict[str, str] = field(hash=False)

    @property
    def full_name(self) -> str:
        """First and last name separated by a space."""
        return f"{self.first_name} {self.last_name}"

    @property
    def honorific(self) -> str:
        """'Ms.' or 'Mr.' according to sex."""
        return "Ms." if self.sex == "F" else "Mr."

    def age_on(self, day: date) -> int:
        """Age in whole years on the given day."""
        born = date.fromisoformat(self.dob)
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    def address_line(self) -> str:
        """Single-line postal address, e.g. '12 Oak St, Springfield, IL 62704'."""
        a = self.address
        return f"{a['street']}, {a['city']}, {a['state']} {a['zip']}"

    def to_dict(self) -> dict:
        """Fresh JSON-ready dict of the shared fields (no shared mutable state between records)."""
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "dob": self.dob,
            "sex": self.sex,
            "ssn": self.ssn,
            "phone": self.phone,
            "email": self.email,
            "address": dict(self.address),
        }


def name_reference(person: Person, rng: random.Random) -> str:
    """Pick one of the ways a note might refer to a person (full, 'Ms. Last', first only, odd casing...)."""
    variants = (
        person.full_name,
        person.full_name,
        f"{person.honorific} {person.last_name}",
        person.first_name,
        person.full_name.lower(),
        person.full_name.upper(),
        f"{person.last_name}, {person.first_name}",
    )
    return rng.choice(variants)


def _email(first: str, last: str, rng: random.Random, fake: Faker, taken: set[str]) -> str:
    """Build a plausible, unique email address from a name."""
    f = _NON_ALPHA.sub("", first.lower()) or "user"
    la = _NON_ALPHA.sub("", last.lower()) or "mail"
    domain = fake.free_email_domain() if rng.random() < 0.8 else fake.domain_name()
    local = rng.choice(
        (
            f"{f}.{la}",
            f"{f[0]}{la}",
            f"{f}{la}{rng.randint(1, 99)}",
            f"{la}.{f}{rng.randint(50, 99)}",
            f"{f}_{la}",
        )
    )
    email = f"{local}@{domain}"
    while email in taken:
        email = f"{local}{rng.randint(100, 9999)}@{domain}"
    taken.add(email)
    return email


def make_people(
    n: int,
    rng: random.Random,
    fake: Faker,
    *,
    min_age: int = 18,
    max_age: int = 90,
    child_share: float = 0.0,
) -> list[Person]:
    """Generate n people with unique SSNs and emails; child_share of them are aged 1-17."""
    people: list[Person] = []
    ssns: set[str] = set()
    emails: set[str] = set()
    for _ in range(n):
        sex = "F" if rng.random() < 0.5 else "M"
        first = fake.first_name_female() if sex == "F" else fake.first_name_male()
        last = fake.last_name()
        age = rng.randint(1, 17) if rng.random() < child_share else rng.randint(min_age, max_age)
        dob = REFERENCE_DATE - timedelta(days=age * 365 + age // 4 + rng.randrange(1, 365))
        ssn = fake.ssn()
        while ssn in ssns:
            ssn = fake.ssn()
        ssns.add(ssn)
        address = {
            "street": fake.street_address(),
            "city": fake.city(),
            "state": fake.state_abbr(include_territories=False, include_freely_associated_states=False),
            "zip": fake.zipcode(),
        }
        people.append(
            Person(
                first_name=first,
                last_name=last,
                dob=dob.isoformat(),
                sex=sex,
                ssn=ssn,
                phone=fake.phone_number(),
                email=_email(first, last, rng, fake, emails),
                address=address,
            )
        )
    return people


def random_date(rng: random.Random, start: date, end: date) -> date:
    """Uniformly random date in [start, end]."""
    return start + timedelta(days=rng.randint(0, (end - start).days))


def pick_extras(extras: list[tuple[float, tuple[str, ...]]], slots: int, rng: random.Random) -> list[str]:
    """Draw optional note sentences by probability; the first group (contact details) wins a slot when drawn."""
    drawn = [(k, rng.choice(templates)) for k, (prob, templates) in enumerate(extras) if rng.random() < prob]
    lead = [s for k, s in drawn if k == 0]
    rest = [s for k, s in drawn if k != 0]
    rng.shuffle(rest)
    picked = (lead + rest)[: max(slots, 0)]
    rng.shuffle(picked)
    return picked
