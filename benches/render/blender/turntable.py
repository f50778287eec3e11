"""The Blender peer: the bench design (dress + hat) imported from glTF, lit
like atelier's studio rig, turned a full circle in N frames and rendered to
H.264 by Blender's own FFmpeg output, as a "Blender box" does.

usage: blender -b --factory-startup -P turntable.py -- CAMERA_JSON MODELS_DIR OUT_DIR ENGINE
ENGINE: EEVEE (needs OpenGL: run under xvfb-run with Mesa) or CYCLES (CPU,
16 samples, no denoiser: Debian's Blender has no OpenImageDenoise).
"""
import json
import math
import sys
import time

import bpy
import numpy
from mathutils import Vector

# Debian bookworm pairs Blender 3.4.1 with numpy 1.24, which removed the
# `np.bool` alias that Blender 3.4's glTF importer still uses: restore it.
if not hasattr(numpy, "bool"):
    numpy.bool = bool

start = time.time()
camera_json, models, out_dir, engine = sys.argv[sys.argv.index("--") + 1:]
cam = json.load(open(camera_json))


def to_blender(v):
    """glTF (x, y, z), +Y up -> Blender (x, -z, y), +Z up."""
    return Vector((v[0], -v[2], v[1]))


bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
bpy.ops.import_scene.gltf(filepath=f"{models}/dress.glb")
dress = list(bpy.context.selected_objects)
bpy.ops.import_scene.gltf(filepath=f"{models}/hat.glb")
for o in bpy.context.selected_objects:
    if o.parent is None:
        o.location = (0, 0, 1.42)
        o.scale = [s * 0.8 for s in o.scale]
meshes = [o for o in scene.objects if o.type == "MESH"]

target = to_blender(cam["target"])
spin = bpy.data.objects.new("spin", None)
scene.collection.objects.link(spin)
spin.location = (target.x, target.y, 0)
for o in scene.objects:
    if o.parent is None and o is not spin:
        o.parent = spin
        o.matrix_parent_inverse = spin.matrix_world.inverted()

frames = cam["frames"]
spin.rotation_euler = (0, 0, 0)
spin.keyframe_insert("rotation_euler", frame=1)
spin.rotation_euler = (0, 0, -2 * math.pi)
spin.keyframe_insert("rotation_euler", frame=frames + 1)
for fc in spin.animation_data.action.fcurves:
    for k in fc.keyframe_points:
        k.interpolation = "LINEAR"

cam_data = bpy.data.cameras.new("cam")
cam_data.sensor_fit = "VERTICAL"
cam_data.angle_y = math.radians(cam["fov_y_deg"])
cam_data.clip_start, cam_data.clip_end = cam["near"], cam["far"]
camera = bpy.data.objects.new("cam", cam_data)
scene.collection.objects.link(camera)
camera.location = to_blender(cam["eye"])
camera.rotation_euler = (target - camera.location).to_track_quat("-Z", "Y").to_euler()
scene.camera = camera


def sun(az, el, rgb, name):
    a, e = math.radians(az), math.radians(el)
    d = to_blender((math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)))
    data = bpy.data.lights.new(name, "SUN")
    m = max(rgb)
    data.color = [c / m for c in rgb]
    data.energy = m
    data.angle = math.radians(3)
    light = bpy.data.objects.new(name, data)
    scene.collection.objects.link(light)
    light.rotation_euler = (-d).to_track_quat("-Z", "Y").to_euler()


sun(35, 50, [2.6, 2.5, 2.35], "key")
sun(-55, 20, [0.75, 0.8, 0.9], "fill")
sun(165, 35, [1.6, 1.6, 1.6], "rim")
world = bpy.data.worlds.new("world")
world.color = (0.24, 0.24, 0.25)
scene.world = world

bpy.ops.mesh.primitive_plane_add(size=8, location=(target.x, target.y, cam["ground_y"]))
ground = bpy.context.active_object
white = bpy.data.materials.new("ground")
white.diffuse_color = (1, 1, 1, 1)
ground.data.materials.append(white)

scene.render.engine = "BLENDER_EEVEE" if engine == "EEVEE" else "CYCLES"
if engine == "EEVEE":
    scene.eevee.taa_render_samples = 4
    scene.eevee.use_soft_shadows = True
    scene.eevee.shadow_cascade_size = "2048"
else:
    scene.cycles.device = "CPU"
    scene.cycles.samples = 16
    scene.cycles.use_denoising = False
scene.view_settings.view_transform = "Standard"
scene.render.resolution_x, scene.render.resolution_y = cam["width"], cam["height"]
scene.render.resolution_percentage = 100
scene.frame_start, scene.frame_end = 1, frames
scene.render.fps = 24
scene.render.image_settings.file_format = "FFMPEG"
scene.render.ffmpeg.format = "MPEG4"
scene.render.ffmpeg.codec = "H264"
scene.render.ffmpeg.constant_rate_factor = "MEDIUM"
scene.render.ffmpeg.ffmpeg_preset = "GOOD"
out = f"{out_dir}/blender-{engine.lower()}-{cam['height']}p"
scene.render.filepath = out + "-"
setup = time.time() - start
bpy.ops.render.render(animation=True)
render = time.time() - start - setup
print("BENCH", json.dumps({"system": f"blender {bpy.app.version_string} {engine}",
                           "setup_s": setup, "render_and_encode_s": render}))
