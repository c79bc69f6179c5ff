"""The PDF of an issued document (fpdf2), with its verification code and a QR code (segno).

fpdf2 is pure Python and embeds a subset of a TrueType font, so Mongolian Cyrillic (ө, ү) prints
from the DejaVu Sans shipped in ``documents/fonts/`` (Bitstream Vera licence, beside the fonts)
whatever the server has installed. The QR code holds the absolute ``/verify/<code>`` URL; the
same URL and the code are printed as text for anyone without a phone.

An agency's own result PDF is kept as the agency made it, with one verification page of Tumen
appended (:func:`append_verification_page`, pypdf).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from .content import DocumentContent

logging.getLogger("fontTools").setLevel(logging.WARNING)  # its subsetter logs every glyph at INFO
FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
# Agencies' PDFs appended to: bigger or longer ones are refused before they are parsed.
MAX_AGENCY_PDF_BYTES = 5 * 1024 * 1024
MAX_AGENCY_PDF_PAGES = 50


class InvalidPdf(ValueError):
    """An agency's PDF that cannot be read (or is too big); the message is safe to show."""


@dataclass(frozen=True)
class Stamp:
    """What every document prints besides its content: who issued it, to whom, and how to check it."""

    agency_mn: str
    agency_en: str
    service_title: str
    holder_name: str
    holder_register_number: str
    issued_at: str  # already formatted, e.g. "2025-12-02 14:05"
    verification_code: str
    verify_url: str
    operator_line: str = ""  # "Issued at the Батцэнгэл soum office by operator ..." when an operator did


def _lines(pdf: FPDF, w: float, h: float, text: str, **kwargs) -> None:
    """``multi_cell``, but a text that fits on one line is written as one ``cell``: fpdf2's line
    breaking measures the text again for every character, which was most of a document's time."""
    width = w or (pdf.w - pdf.r_margin - pdf.x)
    if "\n" not in text and pdf.get_string_width(text) <= width - 2 * pdf.c_margin:
        pdf.cell(width, h, text, **kwargs)
    else:
        pdf.multi_cell(w, h, text, **kwargs)


def qr_png(url: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()


def _new_pdf() -> FPDF:
    """An empty A4 document with the fonts loaded. Each document loads its own copy: fpdf2 subsets
    the loaded font in place when it writes the file, so a font object is never shared."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.add_font(FONT, "", str(FONTS / "DejaVuSans-mn.ttf"))
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 16, 18)
    pdf.set_creator("Tumen")
    return pdf


def _verification_block(pdf: FPDF, stamp: Stamp) -> None:
    if pdf.get_y() > 230:
        pdf.add_page()
    pdf.ln(6)
    top = pdf.get_y()
    pdf.set_draw_color(120, 120, 120)
    pdf.rect(pdf.l_margin, top, pdf.epw, 46)
    pdf.image(io.BytesIO(qr_png(stamp.verify_url)), x=pdf.l_margin + 3, y=top + 3, w=40, h=40, alt_text=stamp.verify_url)
    pdf.set_xy(pdf.l_margin + 48, top + 4)
    width = pdf.epw - 51
    pdf.set_font(FONT, "", 9)
    _lines(pdf, width, 5, "Баталгаажуулах код / Verification code:", align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 16)
    _lines(pdf, width, 8, stamp.verification_code, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    _lines(pdf, 
        width, 4.5,
        "Энэ баримтын жинхэнэ эсэхийг QR кодыг уншуулж эсвэл дараах хаягаар шалгана / "
        "Check this document by scanning the QR code or at:",
        align="L", new_x=XPos.LEFT, new_y=YPos.NEXT,
    )  # fmt: skip
    pdf.set_font(FONT, "", 9)
    _lines(pdf, width, 5, stamp.verify_url, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_y(top + 48)


def _header(pdf: FPDF, stamp: Stamp) -> None:
    pdf.set_font(FONT, "", 12)
    _lines(pdf, 0, 6, stamp.agency_mn, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if stamp.agency_en:
        pdf.set_font(FONT, "", 9)
        _lines(pdf, 0, 5, stamp.agency_en, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(40, 60, 120)
    pdf.line(pdf.l_margin, pdf.get_y() + 2, pdf.l_margin + pdf.epw, pdf.get_y() + 2)
    pdf.ln(6)


def _pair(pdf: FPDF, label: str, value: str) -> None:
    top = pdf.get_y()
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(80, 80, 80)
    _lines(pdf, 58, 5, label, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    below_label = pdf.get_y()
    pdf.set_xy(pdf.l_margin + 60, top)
    pdf.set_font(FONT, "", 10.5)
    pdf.set_text_color(0, 0, 0)
    _lines(pdf, 0, 5, value, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), below_label) + 1)


def render_document(content: DocumentContent, stamp: Stamp) -> bytes:
    """The PDF of an instant reference or of a result document given as data rows."""
    pdf = _new_pdf()
    pdf.set_title(content.title_mn)
    pdf.set_subject(stamp.service_title)
    pdf.add_page()
    _header(pdf, stamp)
    pdf.set_font(FONT, "", 15)
    _lines(pdf, 0, 8, content.title_mn, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if content.title_en:
        pdf.set_font(FONT, "", 10)
        _lines(pdf, 0, 5, content.title_en, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    _pair(pdf, "Үйлчилгээ / Service", stamp.service_title)
    _pair(pdf, "Эзэмшигч / Holder", stamp.holder_name or "—")
    _pair(pdf, "Регистрийн дугаар / Register number", stamp.holder_register_number)
    _pair(pdf, "Олгосон огноо / Date of issue", stamp.issued_at)
    if content.valid_until:
        _pair(pdf, "Хүчинтэй хугацаа / Valid until", content.valid_until.isoformat())
    pdf.ln(4)
    pdf.set_draw_color(160, 160, 160)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.ln(2)
    for row in content.rows:
        _pair(pdf, f"{row.label_mn} / {row.label_en}" if row.label_en else row.label_mn, row.value)
        pdf.ln(1)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    if stamp.operator_line:
        pdf.ln(3)
        pdf.set_font(FONT, "", 8.5)
        _lines(pdf, 0, 4.5, stamp.operator_line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _verification_block(pdf, stamp)
    return bytes(pdf.output())


def verification_page(stamp: Stamp, title_mn: str, title_en: str = "") -> bytes:
    """One page that names the document and carries its verification code (for agencies' PDFs)."""
    pdf = _new_pdf()
    pdf.set_title(title_mn)
    pdf.add_page()
    _header(pdf, stamp)
    pdf.set_font(FONT, "", 14)
    _lines(pdf, 0, 8, title_mn, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if title_en:
        pdf.set_font(FONT, "", 10)
        _lines(pdf, 0, 5, title_en, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    _pair(pdf, "Үйлчилгээ / Service", stamp.service_title)
    _pair(pdf, "Эзэмшигч / Holder", stamp.holder_name or "—")
    _pair(pdf, "Регистрийн дугаар / Register number", stamp.holder_register_number)
    _pair(pdf, "Олгосон огноо / Date of issue", stamp.issued_at)
    pdf.set_font(FONT, "", 9)
    pdf.ln(2)
    _lines(pdf, 
        0, 4.5,
        "Өмнөх хуудсууд нь байгууллагын гаргасан баримт. / The pages before this one are the agency's document.",
        align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT,
    )  # fmt: skip
    _verification_block(pdf, stamp)
    return bytes(pdf.output())


def append_verification_page(agency_pdf: bytes, stamp: Stamp, title_mn: str, title_en: str = "") -> bytes:
    """The agency's PDF with Tumen's verification page at the end; :class:`InvalidPdf` if unreadable."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PyPdfError

    if len(agency_pdf) > MAX_AGENCY_PDF_BYTES:
        raise InvalidPdf(f"the PDF is larger than {MAX_AGENCY_PDF_BYTES // (1024 * 1024)} MB")
    if not agency_pdf.startswith(b"%PDF-"):
        raise InvalidPdf("the file is not a PDF")
    try:
        reader = PdfReader(io.BytesIO(agency_pdf), strict=False)
        if reader.is_encrypted:
            raise InvalidPdf("the PDF is encrypted")
        if len(reader.pages) > MAX_AGENCY_PDF_PAGES:
            raise InvalidPdf(f"the PDF has more than {MAX_AGENCY_PDF_PAGES} pages")
        writer = PdfWriter()
        writer.append(reader)
        writer.append(PdfReader(io.BytesIO(verification_page(stamp, title_mn, title_en))))
        buffer = io.BytesIO()
        writer.write(buffer)
    except InvalidPdf:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OSError):
        raise InvalidPdf("the PDF cannot be read") from None
    return buffer.getvalue()
