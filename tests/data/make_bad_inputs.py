"""Regenerate the malformed and EXIF-carrying test inputs in tests/data/bad/.

Run from the repository root: `python3 tests/data/make_bad_inputs.py`
(needs `pip install pillow piexif`). The outputs are committed, so the tests
never need Python.
"""
import io
import os
import random
import struct
import zlib

import piexif
from PIL import Image

OUT = "tests/data/bad"
os.makedirs(OUT, exist_ok=True)
kafka = open("samples/franz-kafka.jpg", "rb").read()


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


# Zero bytes.
write("empty.jpg", b"")

# A real JPEG cut off in the middle of its scan data.
write("truncated.jpg", kafka[: len(kafka) * 6 // 10])


# A valid PNG header claiming 50,000 x 50,000 pixels with almost no data: a
# decompression bomb as far as any decoder that trusts the header goes.
def chunk(kind, body):
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))


ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
idat = zlib.compress(b"\0" * 1024)
write("bomb.png", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
      + chunk(b"IEND", b""))

# A real GIF.
buf = io.BytesIO()
Image.new("RGB", (16, 16), (200, 30, 30)).save(buf, format="GIF")
write("animation.gif", buf.getvalue())

# Random bytes with a .jpg name.
rng = random.Random(7)
write("random.jpg", bytes(rng.getrandbits(8) for _ in range(4096)))

# The Kafka portrait with camera EXIF, GPS coordinates and orientation 6
# (rotate 90 degrees clockwise to display).
exif = piexif.dump({
    "0th": {
        piexif.ImageIFD.Make: b"AtelierCam",
        piexif.ImageIFD.Model: b"Model 7",
        piexif.ImageIFD.Orientation: 6,
        piexif.ImageIFD.Artist: b"Someone Private",
    },
    "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:05:17 10:42:00"},
    "GPS": {
        piexif.GPSIFD.GPSLatitudeRef: b"N",
        piexif.GPSIFD.GPSLatitude: ((50, 1), (5, 1), (2400, 100)),
        piexif.GPSIFD.GPSLongitudeRef: b"E",
        piexif.GPSIFD.GPSLongitude: ((14, 1), (25, 1), (1200, 100)),
    },
})
out = io.BytesIO()
piexif.insert(exif, kafka, out)
write("gps-orientation6.jpg", out.getvalue())
