#!/usr/bin/env python3
"""Generate the small demo catalog that ships in ``service_pages/demo/``.

The product must run without ``../shared/``, so ``make run`` loads this sample
instead: ten agencies and ~300 services with
Mongolian titles, national and local, in the same CSV format as the real
catalog (so the same import code reads both). The life-event categories are
product data (``service_pages/data/categories.csv``, loaded by a migration);
this script writes them too so the two lists cannot drift. Deterministic: running it again
gives the same files.

    python scripts/make_demo_catalog.py
"""

import csv
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "service_pages" / "data"
OUT = ROOT / "service_pages" / "demo"

CATEGORIES = [
    ("civil-registration", "Иргэний бүртгэл", "Civil registration"),
    ("identity-documents", "Иргэний үнэмлэх, паспорт", "Identity documents"),
    ("social-welfare", "Нийгмийн халамж", "Social welfare"),
    ("pensions-insurance", "Тэтгэвэр, даатгал", "Pensions and insurance"),
    ("land-property", "Газар, үл хөдлөх хөрөнгө", "Land and property"),
    ("business-licensing", "Бизнес, тусгай зөвшөөрөл", "Business and licences"),
    ("tax", "Татвар", "Tax"),
    ("education", "Боловсрол", "Education"),
    ("health", "Эрүүл мэнд", "Health"),
    ("labour-employment", "Хөдөлмөр эрхлэлт", "Labour and employment"),
    ("transport-vehicles", "Тээвэр, тээврийн хэрэгсэл", "Transport and vehicles"),
    ("livestock-agriculture", "Мал аж ахуй, газар тариалан", "Livestock and agriculture"),
    ("environment-natural-resources", "Байгаль орчин", "Environment"),
    ("justice-police", "Хууль зүй, цагдаа", "Justice and police"),
]

AGENCIES = [
    ("ubeg", "Улсын бүртгэлийн ерөнхий газар", "General Authority for State Registration", "agency", ""),
    ("ndeg", "Нийгмийн даатгалын ерөнхий газар", "General Office of Social Insurance", "agency", ""),
    ("mta", "Татварын ерөнхий газар", "General Department of Taxation", "agency", ""),
    ("gazar", "Газар зохион байгуулалтын газар", "Agency for Land Administration", "agency", ""),
    ("halamj", "Хөдөлмөр, халамжийн үйлчилгээний ерөнхий газар", "General Office for Labour and Welfare", "agency", ""),
    ("police", "Цагдаагийн ерөнхий газар", "National Police Agency", "agency", ""),
    ("emy", "Эрүүл мэндийн яам", "Ministry of Health", "ministry", ""),
    ("edu", "Боловсролын яам", "Ministry of Education", "ministry", ""),
    ("road", "Зам, тээврийн хөгжлийн яам", "Ministry of Road and Transport", "ministry", ""),
    ("capital", "Нийслэлийн Засаг даргын тамгын газар", "Governor's Office of the Capital", "aimag_office", ""),
]

# (title, English title, agency, category, fee, days, channels, documents)
NATIONAL = [
    ("Иргэний үнэмлэх олгох", "Issue a citizen ID card", "ubeg", "identity-documents", 3000, 3),
    ("Иргэний үнэмлэх сэргээлгэх", "Replace a lost citizen ID card", "ubeg", "identity-documents", 5000, 5),
    ("Гадаад паспорт олгох", "Issue a passport", "ubeg", "identity-documents", 50000, 10),
    ("Төрсний гэрчилгээ олгох", "Issue a birth certificate", "ubeg", "civil-registration", 0, 1),
    ("Гэрлэлт бүртгэх", "Register a marriage", "ubeg", "civil-registration", 2000, 1),
    ("Гэрлэлт цуцлалт бүртгэх", "Register a divorce", "ubeg", "civil-registration", 2000, 3),
    ("Нас барсны гэрчилгээ олгох", "Issue a death certificate", "ubeg", "civil-registration", 0, 1),
    ("Оршин суугаа хаягийн лавлагаа", "Reference on the registered address", "ubeg", "civil-registration", 0, 1),
    ("Эд хөрөнгийн эрхийн улсын бүртгэлийн лавлагаа", "Property rights register reference", "ubeg", "land-property", 1000, 1),
    ("Хуулийн этгээдийн улсын бүртгэлийн гэрчилгээ олгох", "Register a legal entity", "ubeg", "business-licensing", 15000, 3),
    ("Нийгмийн даатгалын шимтгэл төлөлтийн лавлагаа", "Social insurance contributions reference", "ndeg", "pensions-insurance", 0, 1),
    ("Өндөр насны тэтгэвэр тогтоолгох", "Claim an old-age pension", "ndeg", "pensions-insurance", 0, 14),
    ("Тахир дутуугийн тэтгэвэр тогтоолгох", "Claim a disability pension", "ndeg", "pensions-insurance", 0, 14),
    ("Жирэмсний болон амаржсаны тэтгэмж авах", "Claim maternity benefit", "ndeg", "pensions-insurance", 0, 7),
    ("Ажилгүйдлийн тэтгэмж авах", "Claim unemployment benefit", "ndeg", "labour-employment", 0, 7),
    ("Татвар төлөгчийн бүртгэлийн лавлагаа", "Taxpayer registration reference", "mta", "tax", 0, 1),
    ("Хувь хүний орлогын албан татварын буцаан олголт", "Personal income tax refund", "mta", "tax", 0, 30),
    ("Татварын өргүй тодорхойлолт", "Certificate of no tax arrears", "mta", "tax", 0, 2),
    ("Газар эзэмших эрхийн гэрчилгээ олгох", "Issue a land possession certificate", "gazar", "land-property", 10000, 30),
    ("Газар өмчлөх эрхийн гэрчилгээ олгох", "Issue a land ownership certificate", "gazar", "land-property", 10000, 30),
    ("Хүүхдийн мөнгө авах", "Claim the child allowance", "halamj", "social-welfare", 0, 7),
    ("Хүнсний эрхийн бичиг авах", "Claim food stamps", "halamj", "social-welfare", 0, 10),
    ("Ахмад настны хөнгөлөлт авах", "Claim a senior citizen discount", "halamj", "social-welfare", 0, 10),
    ("Хөгжлийн бэрхшээлтэй иргэний тэтгэмж авах", "Claim disability allowance", "halamj", "social-welfare", 0, 10),
    ("Ял шийтгэлгүй тодорхойлолт", "Certificate of no criminal record", "police", "justice-police", 0, 1),
    ("Жолооны үнэмлэх олгох", "Issue a driving licence", "police", "transport-vehicles", 20000, 5),
    ("Жолооны үнэмлэх сунгах", "Renew a driving licence", "police", "transport-vehicles", 10000, 3),
    ("Тээврийн хэрэгслийн улсын бүртгэл", "Register a vehicle", "road", "transport-vehicles", 25000, 3),
    ("Эрүүл мэндийн даатгалын лавлагаа", "Health insurance reference", "emy", "health", 0, 1),
    ("Эмнэлгийн магадлагаа авах", "Obtain a medical certificate", "emy", "health", 5000, 2),
    ("Боловсролын баримт бичгийн лавлагаа", "Reference on education documents", "edu", "education", 0, 2),
    ("Ерөнхий боловсролын сургуульд элсэх", "Enrol in a general school", "edu", "education", 0, 5),
    ("Цэцэрлэгт бүртгүүлэх", "Register a child for kindergarten", "edu", "education", 0, 5),
]

# Services every soum or district office offers (title, category, fee, days).
LOCAL = [
    ("Малын тооллогын лавлагаа", "livestock-agriculture", 0, 1),
    ("Гэр бүлийн байдлын тодорхойлолт", "civil-registration", 0, 1),
    ("Газар эзэмших өргөдөл", "land-property", 0, 30),
    ("Мод бэлтгэх зөвшөөрөл", "environment-natural-resources", 5000, 7),
    ("Ажил идэвхтэй хайгч иргэний бүртгэл", "labour-employment", 0, 3),
]

DOCUMENTS = [
    "Иргэний үнэмлэх",
    "Цээж зураг",
    "Өргөдөл",
    "Төлбөр төлсөн баримт",
    "Оршин суугаа хаягийн тодорхойлолт",
    "Төрсний гэрчилгээ",
    "Эмнэлгийн магадлагаа",
]

LAWS = [
    "Иргэний улсын бүртгэлийн тухай хууль",
    "Нийгмийн халамжийн тухай хууль",
    "Газрын тухай хууль",
    "Татварын ерөнхий хууль",
    "Төрийн үйлчилгээний тухай хууль",
]

HEADER = [
    "code", "title_mn", "title_en", "agency_code", "category", "summary_mn", "description_mn",
    "required_documents", "fee_mnt", "processing_days", "channels", "stages", "stage_agencies",
    "legal_basis", "aimag_code", "soum_code", "xyp_code", "keywords_mn",
]


def read_places():
    aimags = {row["code"]: row for row in csv.DictReader((DATA / "aimags.csv").open(encoding="utf-8"))}
    soums = list(csv.DictReader((DATA / "soums.csv").open(encoding="utf-8")))
    return aimags, soums


# The ХУР operations of the demo's references (invented codes in the catalog's WS###### style):
# single-stage services whose title says "лавлагаа" get one, so the demo has instant references
# (service_pages.catalog.is_instant_reference). Local livestock references get none: they are
# counted by the soum, not read from a national register.
XYP_CODES = {
    "Оршин суугаа хаягийн лавлагаа": "WS100103",
    "Эд хөрөнгийн эрхийн улсын бүртгэлийн лавлагаа": "WS100201",
    "Нийгмийн даатгалын шимтгэл төлөлтийн лавлагаа": "WS100501",
    "Татвар төлөгчийн бүртгэлийн лавлагаа": "WS100601",
    "Эрүүл мэндийн даатгалын лавлагаа": "WS100701",
    "Боловсролын баримт бичгийн лавлагаа": "WS100801",
}


def service_row(rng, number, title, title_en, agency, category, fee, days, aimag_code="", soum_code=""):
    agency_name = dict((a[0], a[1]) for a in AGENCIES)[agency]
    channels = ["online", "operator"] if rng.random() < 0.8 else ["in_person"]
    if rng.random() < 0.3 and "in_person" not in channels:
        channels.append("in_person")
    stages = 1 if rng.random() < 0.85 else 2
    stage_agencies = [agency] if stages == 1 else [agency, rng.choice([a[0] for a in AGENCIES if a[0] != agency])]
    documents = rng.sample(DOCUMENTS, rng.randint(1, 4))
    words = [w for w in title.lower().split() if len(w) > 3][:2]
    return [
        f"DEMO-{number:05d}", title, title_en, agency, category,
        f"{title} үйлчилгээг {agency_name} үзүүлнэ.",
        f"Иргэн энэхүү үйлчилгээг цахимаар эсвэл сумын төрийн үйлчилгээний операторт хандан авна. "
        f"Бүрдүүлэх баримтыг хүлээн авснаас хойш {days} хоногт шийдвэрлэнэ.",
        " | ".join(documents), fee, days, " | ".join(channels), stages, " | ".join(stage_agencies),
        rng.choice(LAWS), aimag_code, soum_code, XYP_CODES.get(title, "") if stages == 1 else "", " | ".join(words),
    ]


def main():
    rng = random.Random(10000)
    aimags, soums = read_places()
    OUT.mkdir(parents=True, exist_ok=True)

    with (DATA / "categories.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["slug", "name_mn", "name_en"])
        writer.writerows(CATEGORIES)

    with (OUT / "agencies.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "name_mn", "name_en", "kind", "parent_code", "endpoint_path"])
        for code, name_mn, name_en, kind, parent in AGENCIES:
            writer.writerow([code, name_mn, name_en, kind, parent, f"/agencies/{code}/submissions"])

    rows = []
    for title, title_en, agency, category, fee, days in NATIONAL:
        rows.append(service_row(rng, len(rows) + 1, title, title_en, agency, category, fee, days))
    # Local services: every local service type in a deterministic sample of soums and districts.
    for soum in rng.sample(soums, 54):
        aimag = aimags[soum["aimag_code"]]
        if soum["kind"] == "district":
            place = f"Улаанбаатар, {soum['name_mn']} дүүрэг"
        else:
            place = f"{aimag['name_mn']} аймаг, {soum['name_mn']} сум"
        for title, category, fee, days in LOCAL:
            rows.append(
                service_row(
                    rng, len(rows) + 1, f"{title} — {place}", "", "capital" if soum["kind"] == "district" else "halamj",
                    category, fee, days, soum["aimag_code"], soum["code"],
                )
            )

    with (OUT / "services.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    print(f"wrote {len(rows)} services and {len(AGENCIES)} agencies to {OUT}, {len(CATEGORIES)} categories to {DATA}")


if __name__ == "__main__":
    main()
