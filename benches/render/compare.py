"""Mean per-pixel difference of two raw RGBA frames of one size (0-255 per
channel, RGB only), and the share of pixels that differ by more than 32 in
any channel. Standard library only.

usage: python3 compare.py A.rgba B.rgba
"""
import sys

a = open(sys.argv[1], "rb").read()
b = open(sys.argv[2], "rb").read()
assert len(a) == len(b), "frames of different sizes"
total = 0
far = 0
pixels = len(a) // 4
for i in range(0, len(a), 4):
    d = (abs(a[i] - b[i]), abs(a[i + 1] - b[i + 1]), abs(a[i + 2] - b[i + 2]))
    total += sum(d)
    if max(d) > 32:
        far += 1
print(f'{{"mean_abs_diff": {total / (pixels * 3):.2f}, "pixels_over_32": {far / pixels:.4f}}}')
