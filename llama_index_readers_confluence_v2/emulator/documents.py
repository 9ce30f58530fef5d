"""Real files of every kind an attachment can be, written in-process with no dependency.

PDF with a text layer (one or more pages, optionally padded to a size), a scanned PDF with no text
layer, an encrypted PDF, DOCX, XLSX, PPTX (minimal but valid OOXML packages), and a zip bomb
dressed as a DOCX. Text and data files (CSV, HTML, Markdown, plain text) are plain bytes.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zipfile
import zlib

CONTENT_TYPES = "[Content_Types].xml"
PACKAGE_RELS = "_rels/.rels"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOC = f"{REL}/officeDocument"


# ---- PDF ---------------------------------------------------------------------------------------


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _text_stream(lines: list[str]) -> bytes:
    ops = ["BT", "/F1 12 Tf", "72 720 Td"]
    for line in lines:
        ops += [f"({_pdf_escape(line)}) Tj", "0 -16 Td"]
    ops.append("ET")
    return "\n".join(ops).encode("latin-1", errors="replace")


def make_pdf(
    pages: list[list[str]],
    *,
    pad_to: int = 0,
    encrypted: bool = False,
    drawing_only: bool = False,
) -> bytes:
    """A PDF of `pages` (each a list of text lines), Helvetica; padded with an unused binary
    stream to `pad_to` bytes; `drawing_only` draws lines instead of text (a scan's lack of a text
    layer); `encrypted` adds a standard security handler whose password nobody knows."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for lines in pages:
        content = b"0 0 m 500 700 l S" if drawing_only else _text_stream(lines)
        page_number = len(objects) + 1
        kids.append(f"{page_number} 0 R")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {page_number + 1} 0 R "
            "/Resources << /Font << /F1 FONT 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>".encode()
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    font = len(objects)
    objects = [o.replace(b"FONT", str(font).encode()) for o in objects]
    trailer_extra = b""
    if encrypted:
        objects.append(
            b"<< /Filter /Standard /V 1 /R 2 /O <"
            + b"4f" * 32
            + b"> /U <"
            + b"55" * 32
            + b"> /P -44 >>"
        )
        trailer_extra = b" /Encrypt %d 0 R /ID [<%s><%s>]" % (
            len(objects),
            b"00" * 16,
            b"00" * 16,
        )
    if pad_to:
        filler = _noise(max(0, pad_to - 2000))
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(filler), filler))
    return _assemble_pdf(objects, trailer_extra)


def _assemble_pdf(objects: list[bytes], trailer_extra: bytes) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, trailer_extra, xref)
    )
    return out.getvalue()


@functools.lru_cache(maxsize=8)
def _noise(size: int) -> bytes:
    """Incompressible filler, deterministic (a PDF or DOCX of a realistic size)."""
    return random.Random(size).randbytes(size)


# ---- OOXML (DOCX, XLSX, PPTX) ----------------------------------------------------------------------


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _package(parts: dict[str, str | bytes], types: dict[str, str], main: str) -> bytes:
    overrides = "".join(
        f'<Override PartName="/{name}" ContentType="{kind}"/>' for name, kind in types.items()
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="bin" ContentType="application/octet-stream"/>'
        f"{overrides}</Types>"
    )
    rels = _relationships([(OFFICE_DOC, main)])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(CONTENT_TYPES, content_types)
        archive.writestr(PACKAGE_RELS, rels)
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def _relationships(targets: list[tuple[str, str]]) -> str:
    items = "".join(
        f'<Relationship Id="rId{n}" Type="{kind}" Target="{target}"/>'
        for n, (kind, target) in enumerate(targets, start=1)
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL}">{items}</Relationships>'


def make_docx(paragraphs: list[str], *, pad_to: int = 0) -> bytes:
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(f"<w:p><w:r><w:t>{_xml(p)}</w:t></w:r></w:p>" for p in paragraphs)
    document = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>'
    parts: dict[str, str | bytes] = {"word/document.xml": document}
    if pad_to:
        parts["word/media/padding.bin"] = _noise(pad_to)
    types = {
        "word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    }
    return _package(parts, types, "word/document.xml")


def make_xlsx(rows: list[list[str]]) -> bytes:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    cells = "".join(
        f'<row r="{r}">'
        + "".join(
            f'<c r="{chr(65 + c)}{r}" t="inlineStr"><is><t>{_xml(value)}</t></is></c>'
            for c, value in enumerate(row)
        )
        + "</row>"
        for r, row in enumerate(rows, start=1)
    )
    sheet = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{main}"><sheetData>{cells}</sheetData></worksheet>'
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{REL}">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    parts: dict[str, str | bytes] = {
        "xl/workbook.xml": workbook,
        "xl/_rels/workbook.xml.rels": _relationships(
            [(f"{REL}/worksheet", "worksheets/sheet1.xml")]
        ),
        "xl/worksheets/sheet1.xml": sheet,
    }
    types = {
        "xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "xl/worksheets/sheet1.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
    }
    return _package(parts, types, "xl/workbook.xml")


def make_pptx(slides: list[str]) -> bytes:
    p = "http://schemas.openxmlformats.org/presentationml/2006/main"
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    pml = "application/vnd.openxmlformats-officedocument.presentationml"
    parts: dict[str, str | bytes] = {}
    types = {"ppt/presentation.xml": f"{pml}.presentation.main+xml"}
    shape_tree = (
        '<p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>'
    )
    master = (
        f'<?xml version="1.0" encoding="UTF-8"?><p:sldMaster xmlns:p="{p}" xmlns:a="{a}" xmlns:r="{REL}">'
        f"<p:cSld><p:spTree>{shape_tree}</p:spTree></p:cSld>"
        '<p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2" '
        'accent3="accent3" accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" '
        'folHlink="folHlink"/><p:sldLayoutIdLst><p:sldLayoutId id="2147483649" r:id="rId1"/>'
        "</p:sldLayoutIdLst></p:sldMaster>"
    )
    layout = (
        f'<?xml version="1.0" encoding="UTF-8"?><p:sldLayout xmlns:p="{p}" xmlns:a="{a}" xmlns:r="{REL}">'
        f"<p:cSld><p:spTree>{shape_tree}</p:spTree></p:cSld></p:sldLayout>"
    )
    parts["ppt/slideMasters/slideMaster1.xml"] = master
    parts["ppt/slideMasters/_rels/slideMaster1.xml.rels"] = _relationships(
        [(f"{REL}/slideLayout", "../slideLayouts/slideLayout1.xml")]
    )
    parts["ppt/slideLayouts/slideLayout1.xml"] = layout
    parts["ppt/slideLayouts/_rels/slideLayout1.xml.rels"] = _relationships(
        [(f"{REL}/slideMaster", "../slideMasters/slideMaster1.xml")]
    )
    types["ppt/slideMasters/slideMaster1.xml"] = f"{pml}.slideMaster+xml"
    types["ppt/slideLayouts/slideLayout1.xml"] = f"{pml}.slideLayout+xml"
    slide_ids = []
    presentation_rels = [(f"{REL}/slideMaster", "slideMasters/slideMaster1.xml")]
    for number, text in enumerate(slides, start=1):
        shape = (
            '<p:sp><p:nvSpPr><p:cNvPr id="2" name="Text"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr>'
            '<p:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="9144000" cy="1000000"/></a:xfrm></p:spPr>'
            f"<p:txBody><a:bodyPr/><a:p><a:r><a:t>{_xml(text)}</a:t></a:r></a:p></p:txBody></p:sp>"
        )
        parts[f"ppt/slides/slide{number}.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><p:sld xmlns:p="{p}" xmlns:a="{a}" xmlns:r="{REL}">'
            f"<p:cSld><p:spTree>{shape_tree}{shape}</p:spTree></p:cSld></p:sld>"
        )
        parts[f"ppt/slides/_rels/slide{number}.xml.rels"] = _relationships(
            [(f"{REL}/slideLayout", "../slideLayouts/slideLayout1.xml")]
        )
        types[f"ppt/slides/slide{number}.xml"] = f"{pml}.slide+xml"
        presentation_rels.append((f"{REL}/slide", f"slides/slide{number}.xml"))
        slide_ids.append(f'<p:sldId id="{255 + number}" r:id="rId{number + 1}"/>')
    parts["ppt/presentation.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><p:presentation xmlns:p="{p}" xmlns:a="{a}" xmlns:r="{REL}">'
        '<p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rId1"/></p:sldMasterIdLst>'
        f"<p:sldIdLst>{''.join(slide_ids)}</p:sldIdLst>"
        '<p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>'
    )
    parts["ppt/_rels/presentation.xml.rels"] = _relationships(presentation_rels)
    return _package(parts, types, "ppt/presentation.xml")


@functools.lru_cache(maxsize=1)
def make_zip_bomb(expanded: int = 640 * 1024 * 1024) -> bytes:
    """A DOCX-looking zip whose one entry expands to `expanded` bytes of zeros (about 1 MB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1024 * 1024)
    deflated = b"".join(compressor.compress(chunk) for _ in range(expanded // len(chunk)))
    deflated += compressor.flush()
    crc = 0
    for _ in range(expanded // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    name = b"word/document.xml"
    sizes = (crc, len(deflated), expanded, len(name), 0)  # crc, packed, expanded, name, extra
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, *sizes) + name
    central = (
        struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, *sizes, 0, 0, 0, 0, 0)
        + name
    )
    end = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(deflated), 0
    )
    return local + deflated + central + end
