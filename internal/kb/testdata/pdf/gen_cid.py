#!/usr/bin/env python3
"""Writes cid.pdf, the composite-font test PDF of internal/kb (parse_test.go).

Text in a Type0 font (Identity-H, a CIDFontType2 with CIDToGIDMap
/Identity) embedding a subset of DejaVu Sans, the way most PDFs written
today carry their text. The CIDFont has /DW 0 and a /W array in both of
its forms (a list of widths from a first CID, and one width for a range
of CIDs), so a glyph whose width is not read from /W has none. Glyph
positions come from the font's real advances. Like browsers' and office
suites' output, most lines place each glyph with its own Td or Tm, so
every glyph step is a position; each line is drawn differently:

  1. one Td per glyph, with space glyphs, under a flipped page matrix
     (1 0 0 -1 0 792 cm, as Chrome/Skia write);
  2. one Tm per glyph and no space glyphs: word gaps are only positions;
  3. TJ with kerning between glyphs and word gaps as offsets;
  4. whole strings in Tj at 1 Tf, scaled by the text and page matrices;
  5. spaced-out capitals (Tc), each placed with Td;
  6. a word split into two Tj placed with Td, and an "fi" ligature glyph;
  7. text turned 90 degrees, one Td per glyph;
  8. a line inside a form XObject drawn with Do.

The font is subset with fontTools (pip install fonttools) from
DejaVuSans.ttf (Debian: fonts-dejavu-core); DejaVu's licence allows
embedding it. Run from this directory: python3 gen_cid.py [path/to/DejaVuSans.ttf]
"""
import io
import sys
import zlib

from fontTools import subset
from fontTools.ttLib import TTFont

TTF = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LIGATURE = "\ufb01"  # ﬁ, mapped to "fi" by ToUnicode

LINES = [
    "Tidal Pools of the Northern Coast",
    "Anemones close when the tide goes out.",
    "Limpets return to the same scar on the rock.",
    "Periwinkles graze on thin layers of algae.",
    "SURVEY 2024: 1,350 SPECIMENS",
    "Barnacles " + LIGATURE + "lter plankton with their feet.",
    "Figure 2: rock pool zones",
    "Crabs shelter under loose stones at low tide.",
]

chars = sorted(set("".join(LINES)) - {" "}) + [" "]
opts = subset.Options()
opts.layout_features = []  # no GSUB/GPOS: the ligature is drawn as its own glyph
opts.name_IDs = ["*"]
opts.name_legacy = True
opts.notdef_outline = True
font = TTFont(TTF)
sub = subset.Subsetter(opts)
sub.populate(unicodes=[ord(c) for c in chars])
sub.subset(font)
buf = io.BytesIO()
font.save(buf)
fontfile = buf.getvalue()

upem = font["head"].unitsPerEm
cmap = font.getBestCmap()
order = font.getGlyphOrder()
gid = {c: order.index(cmap[ord(c)]) for c in chars}  # CID = GID (Identity)
width = {c: round(font["hmtx"][cmap[ord(c)]][0] * 1000 / upem) for c in chars}


def adv(c, size):
    return width[c] * size / 1000


def hexs(text):
    return "<" + "".join("%04X" % gid[c] for c in text) + ">"


def per_glyph_td(text, size):
    """One Td and Tj per glyph, spaces drawn (line 1, 7)."""
    out, step = [], 0.0
    for c in text:
        out.append("%.3f 0 Td %s Tj" % (step, hexs(c)))
        step = adv(c, size)
    return out


content = [
    "1 0 0 -1 0 792 cm",
    # 1
    "BT 1 0 0 -1 72 60 Tm /F1 18 Tf",
    *per_glyph_td(LINES[0], 18),
    "ET",
]
# 2: one Tm per glyph, no space glyphs.
x = 72.0
content.append("BT /F1 11 Tf")
for c in LINES[1]:
    if c != " ":
        content.append("1 0 0 -1 %.3f 100 Tm %s Tj" % (x, hexs(c)))
    x += adv(c, 11)
content.append("ET")
# 3: TJ, kerning inside words, word gaps as offsets (no space glyphs).
parts = []
for i, word in enumerate(LINES[2].split(" ")):
    if i:
        parts.append("-300")
    for j, c in enumerate(word):
        if j:
            parts.append(str((-1) ** j * 15))
        parts.append(hexs(c))
content += ["BT 1 0 0 -1 72 120 Tm /F1 11 Tf [" + " ".join(parts) + "] TJ ET"]
# 4: whole string at 1 Tf, scaled by Tm (22) and a halving cm.
content += ["q 0.5 0 0 0.5 0 0 cm BT 22 0 0 -22 144 280 Tm /F1 1 Tf " + hexs(LINES[3]) + " Tj ET Q"]
# 5: spaced-out capitals: 3 Tc (0.27 em), each glyph placed with Td.
content += ["BT 1 0 0 -1 72 160 Tm /F1 11 Tf 3 Tc"]
step = 0.0
for c in LINES[4]:
    content.append("%.3f 0 Td %s Tj" % (step, hexs(c)))
    step = adv(c, 11) + 3
content += ["0 Tc ET"]
# 6: "Barna" then "cles ..." at the end of "Barna"; the ligature glyph.
head, tail = LINES[5][:5], LINES[5][5:]
content += ["BT 1 0 0 -1 72 180 Tm /F1 11 Tf " + hexs(head) + " Tj ET",
            "BT 1 0 0 -1 %.3f 180 Tm /F1 11 Tf %s Tj ET" % (72 + sum(adv(c, 11) for c in head), hexs(tail))]
# 7: turned 90 degrees (reading upwards, in the right margin).
content += ["BT 0 -1 -1 0 560 400 Tm /F1 10 Tf", *per_glyph_td(LINES[6], 10), "ET"]
# 8: a form XObject.
content += ["q 1 0 0 1 72 220 cm /Fm1 Do Q"]
page = "\n".join(content).encode("latin-1")
form = ("BT 1 0 0 -1 0 0 Tm /F1 11 Tf " + " ".join(per_glyph_td(LINES[7], 11)) + " ET").encode("latin-1")

objects = []


def add(body):
    objects.append(body)
    return len(objects)


def stream(data, extra=b""):
    z = zlib.compress(data, 9)
    return b"<< /Length %d /Filter /FlateDecode %s>>\nstream\n" % (len(z), extra) + z + b"\nendstream"


# /W: consecutive CIDs with one width as "first last w", the rest as "first [w ...]".
cids = sorted((gid[c], width[c]) for c in chars)
w_parts, i = [], 0
while i < len(cids):
    j = i
    while j + 1 < len(cids) and cids[j + 1][0] == cids[j][0] + 1:
        j += 1
    run = cids[i:j + 1]
    k = 0
    while k < len(run):
        m = k
        while m + 1 < len(run) and run[m + 1][1] == run[k][1]:
            m += 1
        if m - k >= 2:
            w_parts.append("%d %d %d" % (run[k][0], run[m][0], run[k][1]))
        else:
            m = k
            while m + 1 < len(run) and not (m + 3 < len(run) and run[m + 1][1] == run[m + 2][1] == run[m + 3][1]):
                m += 1
            w_parts.append("%d [%s]" % (run[k][0], " ".join(str(w) for _, w in run[k:m + 1])))
        k = m + 1
    i = j + 1

tounicode = ["/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
             "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
             "1 begincodespacerange <0000> <FFFF> endcodespacerange",
             "%d beginbfchar" % len(chars)]
for c in chars:
    u = "0066 0069" if c == LIGATURE else "%04X" % ord(c)
    tounicode.append("<%04X> <%s>" % (gid[c], u.replace(" ", "")))
tounicode += ["endbfchar", "endcmap CMapName currentdict /CMap defineresource pop end end"]

head_t = font["head"]
scale = 1000 / upem
bbox = "[%d %d %d %d]" % tuple(round(v * scale) for v in (head_t.xMin, head_t.yMin, head_t.xMax, head_t.yMax))
catalog = add(None)
pages = add(None)
ff = add(stream(fontfile, b"/Length1 %d " % len(fontfile)))
desc = add(("<< /Type /FontDescriptor /FontName /AAAAAA+DejaVuSans /Flags 32 /FontBBox %s "
            "/ItalicAngle 0 /Ascent %d /Descent %d /CapHeight 729 /StemV 80 /FontFile2 %d 0 R >>"
            % (bbox, round(font["hhea"].ascent * scale), round(font["hhea"].descent * scale), ff)).encode())
cidfont = add(("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /AAAAAA+DejaVuSans "
               "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
               "/FontDescriptor %d 0 R /CIDToGIDMap /Identity /DW 0 /W [%s] >>" % (desc, " ".join(w_parts))).encode())
tu = add(stream("\n".join(tounicode).encode()))
f1 = add(("<< /Type /Font /Subtype /Type0 /BaseFont /AAAAAA+DejaVuSans /Encoding /Identity-H "
          "/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (cidfont, tu)).encode())
fm = add(stream(form, b"/Type /XObject /Subtype /Form /BBox [0 -20 500 20] /Resources << /Font << /F1 %d 0 R >> >> " % f1))
c1 = add(stream(page))
p1 = add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> "
         b"/XObject << /Fm1 %d 0 R >> >> /Contents %d 0 R >>" % (pages, f1, fm, c1))
objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages
objects[pages - 1] = b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % p1

out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
offsets = []
for n, body in enumerate(objects, 1):
    offsets.append(len(out))
    out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
for off in offsets:
    out += b"%010d 00000 n \n" % off
out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)

with open("cid.pdf", "wb") as f:
    f.write(out)
