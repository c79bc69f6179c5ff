"""Valid, varied answers to the shipped general application form, shared by the bench scripts.

Each call gives a different citizen (register number with a real birth date, name, mobile
number, place), so that the rows a benchmark writes are not all alike.
"""

from __future__ import annotations

import random

REGISTER_LETTERS = "АБВГДЕЖЗИКЛМНОӨПРСТУҮФХЦЧШЭЮЯ"
GIVEN_NAMES = ["Бат-Эрдэнэ", "Болд", "Ганбаатар", "Сарнай", "Оюунчимэг", "Энхжаргал", "Төмөр", "Мөнхбат", "Цэцэг", "Дорж"]
FAMILY_NAMES = ["Дорж", "Батаа", "Сүхбаатар", "Ганхуяг", "Пүрэв", "Нямаа", "Очир", "Баатар", "Цогт", "Лхагва"]
MOBILE_PREFIXES = ["99", "88", "95", "91", "80", "94", "85", "86"]


def answers(index: int, rng: random.Random, places, label: str = "Benchmark request") -> dict:
    """Answers for submission number ``index``; ``places`` is a list of (aimag code, soum code)."""
    year = rng.randint(1950, 2005)
    month = rng.randint(1, 12)
    register = (
        rng.choice(REGISTER_LETTERS) + rng.choice(REGISTER_LETTERS)
        + f"{year % 100:02d}{month + (20 if year >= 2000 else 0):02d}{rng.randint(1, 28):02d}{rng.randint(0, 99):02d}"
    )  # fmt: skip
    aimag, soum = rng.choice(places)
    return {
        "register_number": register,
        "last_name": rng.choice(FAMILY_NAMES),
        "first_name": rng.choice(GIVEN_NAMES),
        "phone": rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 999999):06d}",
        "email": f"bench{index}@example.mn",
        "address": {"aimag": aimag, "soum": soum, "bag": ""},
        "request": f"Хүсэлт #{index}: үйлчилгээ авахыг хүсэж байна. {label} {index}.",
        "consent": True,
    }
