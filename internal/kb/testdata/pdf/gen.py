#!/usr/bin/env python3
"""Writes sample.pdf, the test PDF of internal/kb (parse_test.go).

Only the standard library: the PDF syntax is written by hand. Two pages in
a page tree with an intermediate Pages node; page 1 has an uncompressed
content stream, page 2 a FlateDecode one; text is drawn with Tj, TJ (with
kerning) and ' operators, in two fonts, with one line split into two
pieces on the same baseline. The cross-reference table is computed.

Run from this directory: python3 gen.py
"""
import zlib


def esc(s):
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


page1 = "\n".join([
    "BT /F1 18 Tf 72 720 Td (" + esc("Skerry Point Lighthouse") + ") Tj ET",
    "BT /F2 11 Tf 72 690 Td 14 TL",
    "(" + esc("The lighthouse was lit in 1851 and its lamp burned whale oil.") + ") Tj",
    "(" + esc("In 1904 the keepers switched to paraffin (kerosene).") + ") '",
    "T* [(" + esc("The tower is 38 metres tall") + ") -250 (" + esc("and painted in red and white bands.") + ")] TJ",
    "ET",
    "BT /F2 11 Tf 72 600 Td (" + esc("Left part of a line,") + ") Tj ET",
    "BT /F2 11 Tf 300 600 Td (" + esc("right part of the same line.") + ") Tj ET",
]).encode("latin-1")

page2 = "\n".join([
    "BT /F1 18 Tf 72 720 Td (" + esc("Honey Bees") + ") Tj ET",
    "BT /F2 11 Tf 72 690 Td 14 TL",
    "(" + esc("A colony keeps one queen; workers forage within three kilometres.") + ") Tj",
    "(" + esc("They tell each other where flowers are with a waggle dance.") + ") '",
    "ET",
]).encode("latin-1")

objects = []  # bodies of objects 1..n


def add(body):
    objects.append(body)
    return len(objects)


catalog = add(None)
pages = add(None)
inner = add(None)
f1 = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
f2 = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman /Encoding /WinAnsiEncoding >>")
c1 = add(b"<< /Length %d >>\nstream\n" % len(page1) + page1 + b"\nendstream")
z2 = zlib.compress(page2)
c2 = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(z2) + z2 + b"\nendstream")
res = b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >>" % (f1, f2)
p1 = add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] %s /Contents %d 0 R >>" % (pages, res, c1))
p2 = add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] %s /Contents %d 0 R >>" % (inner, res, c2))
objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages
objects[pages - 1] = b"<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count 2 >>" % (p1, inner)
objects[inner - 1] = b"<< /Type /Pages /Parent %d 0 R /Kids [%d 0 R] /Count 1 >>" % (pages, p2)

out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
offsets = []
for i, body in enumerate(objects, 1):
    offsets.append(len(out))
    out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
for off in offsets:
    out += b"%010d 00000 n \n" % off
out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)

with open("sample.pdf", "wb") as f:
    f.write(out)
