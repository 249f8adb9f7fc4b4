"""Write ``support_tickets_ner.jsonl``: the project's own entity-extraction sample.

No installed package ships labelled NER data, so this script composes support-ticket and
invoice sentences from templates and entity lists (all invented for this demo) and tags them
in IOB2 with PERSON, ORG, PRODUCT, MONEY, DATE and LOC. It is deterministic: running it again
rewrites the same file. Run: ``python core/data/samples/make_ner_sample.py``.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

OUT = Path(__file__).with_name("support_tickets_ner.jsonl")
SENTENCES = 600
SEED = 7

PERSON = ["Maria Gonzalez", "Wei Chen", "Aisha Bello", "Tom O'Brien", "Priya Natarajan",
          "Lars Eriksson", "Fatima Al-Sayed", "John Smith", "Yuki Tanaka", "Olga Petrova",
          "Kwame Mensah", "Sofia Rossi", "Daniel Kim", "Emma Dubois", "Carlos Silva",
          "Hannah Becker", "Ravi Kumar", "Chloe Martin", "Mohammed Haddad", "Isabel Costa",
          "Maria", "Daniel", "Ms. Tanaka", "Mr. Mensah", "Dr. Petrova", "Ana Lima", "Jonas Weber"]
ORG = ["Northwind Traders", "Contoso", "Fabrikam", "Tailspin Toys", "Wingtip Logistics", "Litware",
       "Adatum Corporation", "Bluebird Bank", "Greenleaf Grocers", "Summit Health",
       "Riverside Dental Clinic", "Orbit Telecom", "Kestrel Airlines", "Maple Street Bakery",
       "Vertex Analytics", "Harbor Insurance", "Lumen Energy"]
PRODUCT = ["SmartHub 3", "CloudSync Business", "TaskFlow Premium", "Nimbus Backup", "AirPad Mini",
           "Vector 15", "PowerBank 20K", "StreamBox 4K", "FitBand 2", "Aurora headset", "Atlas Router",
           "LumaCam Pro", "Pulse Watch", "EasyPay Terminal", "Photon Monitor 27", "Pro Plan",
           "Starter Plan", "Team Edition"]
LOC = ["Berlin", "Austin", "Lagos", "Toronto", "São Paulo", "Manchester", "Lyon", "Osaka",
       "Nairobi", "Melbourne", "Denver", "Rotterdam", "Pune", "Seville"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
PAST = ["yesterday", "last Tuesday", "last week", "this morning", "last month", "Monday"]
FUTURE = ["tomorrow", "next Monday", "next week", "Friday", "the end of the month"]

TEMPLATES = [
    "Hi, this is {PERSON} from {ORG}. My {PRODUCT} stopped working on {DATE}.",
    "I was charged {MONEY} twice for {PRODUCT} on {DATE}, please refund one payment.",
    "Invoice {INV} from {ORG} for {MONEY} is due on {FDATE}.",
    "Please cancel my {PRODUCT} subscription before {FDATE}.",
    "{PERSON} promised a refund of {MONEY} but I have heard nothing since {DATE}.",
    "Our office in {LOC} has not received the {PRODUCT} we ordered on {DATE}.",
    "Can {PERSON} call me back about the {MONEY} credit on my {ORG} account?",
    "The {PRODUCT} firmware update from {DATE} broke the Wi-Fi connection.",
    "Forwarding this to {PERSON} in billing: {ORG} paid {MONEY} on {DATE}.",
    "Order of {N} units of {PRODUCT} shipped to {LOC}, total {MONEY}.",
    "Why did my bill go up from {MONEY} to {MONEY} in {MONTH}?",
    "Thanks {PERSON}, the {PRODUCT} replacement arrived in {LOC} on {DATE}.",
    "{ORG} would like a quote for {N} {PRODUCT} licences.",
    "My name is {PERSON} and I cannot log in to {PRODUCT} since {DATE}.",
    "Please send the receipt for {MONEY} to {PERSON} at {ORG}.",
    "The technician from {ORG} never showed up in {LOC} on {DATE}.",
    "Is the {PRODUCT} covered by warranty? I bought it on {DATE} for {MONEY}.",
    "Escalating: {PERSON} from {ORG} reports that {PRODUCT} crashes every morning.",
    "Payment of {MONEY} received from {ORG} on {DATE}, thank you.",
    "We are moving from {LOC} to {LOC} on {FDATE}; please update the delivery address.",
    "A late fee of {MONEY} was applied on {DATE} even though {PERSON} paid on time.",
    "Hello, I ordered a {PRODUCT} and a {PRODUCT} but only one arrived.",
    "The screen on my {PRODUCT} cracked after two weeks.",
    "{PERSON} here, please change the billing contact at {ORG} to {PERSON}.",
    "Credit note for {MONEY} issued to {ORG} on {DATE}.",
    "Our {ORG} team in {LOC} needs {N} more seats on {PRODUCT}.",
    "Please upgrade me to {PRODUCT} starting {FDATE}.",
    "Where is my refund? It has been pending since {DATE}.",
    "I spoke with {PERSON} on {DATE} and was told the fee of {MONEY} would be waived.",
    "Renewal quote: {PRODUCT} for {ORG}, {MONEY} per year, valid until {FDATE}.",
    "The {PRODUCT} keeps disconnecting, can someone from {ORG} support help?",
    "Could you resend invoice {INV}? The total should be {MONEY}, not {MONEY}.",
    "Delivery to {LOC} was scheduled for {DATE} but the tracking page still says pending.",
    "{ORG} has been a customer since {YEAR}; please apply the loyalty discount of {MONEY}.",
    "{PERSON} at the {LOC} branch of {ORG} asked for a demo of {PRODUCT}.",
    "Refund request: {MONEY} for the unused part of {PRODUCT}, cancelled on {DATE}.",
    "The {PRODUCT} I got from {ORG} in {LOC} does not turn on.",
    "Nothing happened when I clicked pay, and now my card shows {MONEY} pending.",
    "Thank you for the quick fix, {PERSON}!",
    "Please schedule the {PRODUCT} installation in {LOC} for {FDATE}.",
    "Hi team, {PERSON} left {ORG} on {DATE}; remove their access to {PRODUCT}.",
    "The password reset email never arrives.",
    "Our {PRODUCT} invoice for {MONTH} shows {MONEY} instead of the agreed {MONEY}.",
    "Can you confirm that {ORG} received our payment of {MONEY}?",
]


def money(rng: random.Random) -> str:
    amount = rng.choice([9.99, 15, 19.5, 49.99, 75.5, 120, 249, 300, 1249, 2400, 39, 5.75])
    text = f"{amount:,.2f}" if rng.random() < 0.6 else f"{amount:,.0f}"
    style = rng.randrange(4)
    return [f"${text}", f"€{text}", f"£{text}", f"EUR {text}"][style]


def date(rng: random.Random, relative: list[str] = PAST) -> str:
    day, month, year = rng.randint(1, 28), rng.choice(MONTHS), rng.choice([2023, 2024, 2025])
    return rng.choice([f"{month} {day}", f"{day} {month} {year}", f"{month} {day}, {year}",
                       f"{year}-{MONTHS.index(month) + 1:02d}-{day:02d}", rng.choice(relative)])


def tokenize(text: str) -> list[str]:
    """Words, numbers with their punctuation ($1,249.00, 2024-05-17), and other marks alone."""
    return re.findall(r"[$€£]?\d[\d,.\-/]*\d|[$€£]?\d|[\w]+(?:['’\-.][\w]+)*\.?(?<=Dr\.|Mr\.|Ms\.)|"
                      r"[\w]+(?:['’\-][\w]+)*|[^\w\s]", text)


def compose(rng: random.Random, template: str) -> tuple[list[str], list[str]]:
    tokens: list[str] = []
    tags: list[str] = []
    fill = {"PERSON": lambda: rng.choice(PERSON), "ORG": lambda: rng.choice(ORG),
            "PRODUCT": lambda: rng.choice(PRODUCT), "LOC": lambda: rng.choice(LOC),
            "MONEY": lambda: money(rng), "DATE": lambda: date(rng),
            "FDATE": lambda: date(rng, FUTURE),
            "MONTH": lambda: rng.choice(MONTHS), "YEAR": lambda: str(rng.choice(range(2015, 2024)))}
    for part in re.split(r"(\{[A-Z]+\})", template):
        slot = part[1:-1] if part.startswith("{") else None
        if slot in fill:
            words = tokenize(fill[slot]())
            kind = {"MONTH": "DATE", "YEAR": "DATE", "FDATE": "DATE"}.get(slot, slot)
            tokens += words
            tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
        else:
            if slot == "INV":
                part = f"INV-{rng.randint(1000, 9999)}"
            elif slot == "N":
                part = str(rng.choice([2, 3, 5, 10, 12, 25, 40]))
            words = tokenize(part)
            tokens += words
            tags += ["O"] * len(words)
    return tokens, tags


def main() -> None:
    rng = random.Random(SEED)
    seen: set[tuple[str, ...]] = set()
    lines = []
    while len(lines) < SENTENCES:
        tokens, tags = compose(rng, rng.choice(TEMPLATES))
        if tuple(tokens) in seen:
            continue
        seen.add(tuple(tokens))
        lines.append(json.dumps({"tokens": tokens, "tags": tags}, ensure_ascii=False))
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} sentences to {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
