"""Synthetic account statement periods (schema finance.v1) whose advisor notes are full of customer PII."""

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from faker import Faker

from simulations.people import Person, make_people, name_reference, pick_extras, random_date

PERIOD_START = date(2023, 1, 1)
PERIOD_END = date(2025, 6, 1)
ACCOUNT_TYPES = ("checking", "savings", "brokerage", "credit")
# Faker card types with 13-19 digit numbers (maestro's 12 digits would violate the schema); Visa weighted up.
CARD_TYPES = ("visa16", "visa16", "visa16", "mastercard", "mastercard", "amex", "discover", "jcb16", "visa13")

# merchant -> (category, min charge, max charge) in USD; positive amounts are money out of the account.
MERCHANTS: dict[str, tuple[str, float, float]] = {
    "Whole Foods Market": ("groceries", 18.0, 240.0),
    "Kroger": ("groceries", 12.0, 190.0),
    "Shell": ("fuel", 25.0, 90.0),
    "Chevron": ("fuel", 22.0, 85.0),
    "Amazon": ("online retail", 8.0, 650.0),
    "Target": ("general merchandise", 10.0, 320.0),
    "Costco Wholesale": ("warehouse club", 45.0, 780.0),
    "Delta Air Lines": ("travel", 129.0, 1450.0),
    "Marriott Hotels": ("travel", 149.0, 980.0),
    "Uber": ("transportation", 7.0, 68.0),
    "Starbucks": ("dining", 4.0, 28.0),
    "Chipotle Mexican Grill": ("dining", 9.0, 45.0),
    "Netflix": ("subscriptions", 15.49, 22.99),
    "Spotify": ("subscriptions", 10.99, 16.99),
    "CVS Pharmacy": ("pharmacy", 6.0, 140.0),
    "The Home Depot": ("home improvement", 15.0, 900.0),
    "Best Buy": ("electronics", 25.0, 1800.0),
    "Verizon Wireless": ("telecom", 55.0, 210.0),
    "Con Edison": ("utilities", 60.0, 320.0),
    "Apple Store": ("electronics", 29.0, 2400.0),
}

_INTROS = (
    "Spoke with {ref} by phone about the {acct_type} account {acct_ref}.",
    "{ref} visited the {branch} branch regarding the {acct_type} account {acct_ref}.",
    "Secure message received from {ref} concerning the {acct_type} account {acct_ref}.",
    "Annual review with {ref} ({age}, DOB {dob}) covering the {acct_type} account {acct_ref}.",
    "Client {ref} called in about account {acct_ref}.",
)
_CONTACT = (
    "Customer can be reached at {phone} or {email}.",
    "Confirmed contact details: {phone}, {email}.",
    "Best callback number is {phone}.",
    "Statements will be emailed to {email}.",
)
_SSN = ("Identity verified with SSN {ssn}.", "Verified SSN {ssn} before discussing the account.")
_ADDRESS = ("Updated mailing address to {address}.", "Mailing address on file: {address}.")
_CARD = (
    "Card number on file is {card}.",
    "Customer read back card {card} to confirm.",
)
_SIGN_OFF = ("Logged by {advisor}.", "Follow-up assigned to {advisor}.", "Advisor: {advisor}.")


@dataclass(frozen=True)
class _Customer:
    """A pool member: identity plus the stable account that appears in every one of their records."""

    person: Person
    customer_id: str
    account_number: str
    routing_number: str
    account_type: str
    opened: str
    card_number: str
    credit_limit: int
    advisor: str
    branch: str


def _group_card(card: str) -> str:
    """Card number grouped in blocks of four, e.g. '4111 1111 1111 1111'."""
    return " ".join(card[i : i + 4] for i in range(0, len(card), 4))


def _make_customers(n: int, rng: random.Random, fake: Faker, advisors: list[str]) -> list[_Customer]:
    """Build the customer pool with unique, stable account and card numbers."""
    people = make_people(n, rng, fake, min_age=21, max_age=85)
    accounts: set[str] = set()
    cards: set[str] = set()
    customers = []
    for person in people:
        account = ""
        while not account or account in accounts:
            length = rng.randint(8, 17)
            account = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(length - 1))
        accounts.add(account)
        card_type = rng.choice(CARD_TYPES)
        card = fake.credit_card_number(card_type=card_type)
        while card in cards:
            card = fake.credit_card_number(card_type=card_type)
        cards.add(card)
        adult = date.fromisoformat(person.dob) + timedelta(days=18 * 366)
        opened = random_date(rng, max(adult, date(1998, 1, 1)), PERIOD_START - timedelta(days=30))
        customers.append(
            _Customer(
                person=person,
                customer_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                account_number=account,
                routing_number=fake.aba(),
                account_type=rng.choice(ACCOUNT_TYPES),
                opened=opened.isoformat(),
                card_number=card,
                credit_limit=rng.choice((2_500, 5_000, 7_500, 10_000, 15_000, 25_000)),
                advisor=f"{fake.first_name()} {fake.last_name()}" if rng.random() < 0.3 else rng.choice(advisors),
                branch=fake.city(),
            )
        )
    return customers


def _transactions(prefix: str, start: date, rng: random.Random) -> list[dict]:
    """Two to six charges within one statement month, sorted by date."""
    days = sorted(rng.randint(0, 27) for _ in range(rng.randint(2, 6)))
    txs = []
    for k, day in enumerate(days):
        merchant = rng.choice(list(MERCHANTS))
        category, low, high = MERCHANTS[merchant]
        amount = rng.randint(round(low * 100), round(high * 100)) / 100
        if rng.random() < 0.08:  # occasional refund: money back into the account
            amount = -amount
        txs.append(
            {
                "transaction_id": f"{prefix}-tx{k + 1}",
                "date": (start + timedelta(days=day)).isoformat(),
                "amount": amount,
                "currency": "USD",
                "merchant": merchant,
                "category": category,
            }
        )
    return txs


def _events(c: _Customer, txs: list[dict], ctx: dict[str, str], rng: random.Random) -> list[str]:
    """One or two meaningful advisor actions, grounded in the record's own transactions."""
    charges = [t for t in txs if t["amount"] > 0] or txs
    disputed = rng.choice(charges)
    suspicious = rng.choice(charges)
    first = ctx["first"]
    options = [
        f"Customer disputed a ${abs(disputed['amount']):,.2f} charge at {disputed['merchant']} dated "
        f"{disputed['date']}; provisional credit issued.",
        f"Card ending {c.card_number[-4:]} flagged for possible fraud after an unrecognized "
        f"${abs(suspicious['amount']):,.2f} purchase at {suspicious['merchant']}; card blocked and "
        "replacement ordered.",
        f"Recommended moving savings into a high-yield account paying {rng.choice(('4.10', '4.35', '4.50'))}% APY.",
        f"{first} mentioned upcoming travel to {rng.choice(('Mexico', 'Japan', 'Italy', 'Canada', 'Portugal'))}; "
        f"travel notice placed on the card ending {c.card_number[-4:]}.",
    ]
    if c.account_type == "credit":
        options += [
            f"{first} requested a credit limit increase from ${c.credit_limit:,} to ${c.credit_limit * 2:,}; "
            "sent to underwriting for review.",
            "Customer requested a credit limit increase; declined due to recent late payments.",
        ]
    if c.account_type == "brokerage":
        options.append("Discussed rebalancing the brokerage portfolio toward low-cost index funds before year end.")
        options.append("Customer asked to roll over a former employer's 401(k) into an IRA; paperwork sent.")
    if c.account_type == "checking":
        fee = rng.choice((15, 29, 35))
        options.append(f"{first} asked about a ${fee}.00 overdraft fee, which was waived as a courtesy.")
    if c.account_type in ("checking", "savings"):
        options.append(
            f"Set up direct deposit using routing number {c.routing_number} and account {c.account_number}."
        )
        options.append(f"Set up recurring transfers of ${rng.choice((100, 250, 500, 1000)):,} per month into savings.")
    return rng.sample(options, k=rng.randint(1, 2))


def _note(c: _Customer, txs: list[dict], ctx: dict[str, str], rng: random.Random) -> str:
    """Compose a 2-5 sentence advisor note embedding PII and the substance of the interaction."""
    sentences = [rng.choice(_INTROS).format(**ctx)] + _events(c, txs, ctx, rng)
    extras = [
        (0.75, _CONTACT),
        (0.3, _SSN),
        (0.3, _ADDRESS),
        (0.3, _CARD),
        (0.4, _SIGN_OFF),
    ]
    sentences += [s.format(**ctx) for s in pick_extras(extras, 5 - len(sentences), rng)]
    return " ".join(sentences)


def generate_finance(count: int, seed: int = 0) -> list[dict]:
    """Generate `count` deterministic finance.v1 records (one statement period each) for the given seed."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    rng = random.Random(f"finance-{seed}")
    fake = Faker("en_US")
    fake.seed_instance(f"finance-{seed}")
    advisors = [f"{fake.first_name()} {fake.last_name()}" for _ in range(max(3, count // 40))]
    customers = _make_customers(max(3, count // 3), rng, fake, advisors)
    records = []
    for i in range(count):
        c = rng.choice(customers)
        person = c.person
        month = random_date(rng, PERIOD_START, PERIOD_END).replace(day=1)
        txs = _transactions(f"fn-{seed}-{i:06d}", month, rng)
        full_acct = rng.random() < 0.4
        acct_ref = c.account_number if full_acct else f"ending in {c.account_number[-4:]}"
        ctx = {
            "ref": name_reference(person, rng),
            "first": person.first_name,
            "age": f"age {person.age_on(month)}",
            "dob": person.dob,
            "acct_type": c.account_type,
            "acct_ref": acct_ref,
            "branch": c.branch,
            "phone": person.phone,
            "email": person.email,
            "ssn": person.ssn,
            "address": person.address_line(),
            "card": _group_card(c.card_number) if rng.random() < 0.5 else c.card_number,
            "advisor": c.advisor,
        }
        customer = {"customer_id": c.customer_id, **person.to_dict()}
        del customer["sex"]
        records.append(
            {
                "record_id": f"fn-{seed}-{i:06d}",
                "customer": customer,
                "account": {
                    "account_number": c.account_number,
                    "routing_number": c.routing_number,
                    "account_type": c.account_type,
                    "opened": c.opened,
                    "card_number": c.card_number,
                },
                "transactions": txs,
                "note": _note(c, txs, ctx, rng),
            }
        )
    return records
