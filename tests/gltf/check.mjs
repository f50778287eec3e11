// What a user's viewer does with a GLB: the Khronos validator's report, then
// three.js's GLTFLoader (with the meshopt decoder) loads it in Node, and the
// skinned mesh is measured in its bind pose and with one bone turned.
// Usage: node check.mjs FILE.glb [BONE]  → one JSON object on stdout.
import { readFile } from 'node:fs/promises';
import validator from 'gltf-validator';
import * as THREE from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { MeshoptDecoder } from 'three/examples/jsm/libs/meshopt_decoder.module.js';

const [file, bone = 'upperarm_l'] = process.argv.slice(2);
const bytes = new Uint8Array(await readFile(file));
const report = await validator.validateBytes(bytes, { maxIssues: 50 });
const out = {
  validator: {
    errors: report.issues.numErrors,
    warnings: report.issues.numWarnings,
    messages: report.issues.messages
      .filter((m) => m.severity <= 1)
      .map((m) => `${m.code} ${m.pointer ?? ''}: ${m.message}`),
  },
};

const loader = new GLTFLoader();
loader.setMeshoptDecoder(MeshoptDecoder);
try {
  const gltf = await loader.parseAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), '');
  const scene = gltf.scene;
  scene.updateMatrixWorld(true);
  let skinned = null;
  scene.traverse((o) => {
    if (o.isSkinnedMesh && !skinned) skinned = o;
  });
  if (!skinned) throw new Error('no skinned mesh');
  const geometry = skinned.geometry;
  const box = () => {
    scene.updateMatrixWorld(true);
    skinned.skeleton.update();
    skinned.computeBoundingBox();
    const b = skinned.boundingBox;
    return { min: b.min.toArray(), max: b.max.toArray() };
  };
  const rest = box();
  const turned = skinned.skeleton.getBoneByName(bone);
  if (turned) turned.rotateZ(Math.PI / 3);
  const posed = box();
  out.three = {
    triangles: (geometry.index ? geometry.index.count : geometry.attributes.position.count) / 3,
    vertices: geometry.attributes.position.count,
    bones: skinned.skeleton.bones.length,
    bone_found: Boolean(turned),
    rest,
    posed,
  };
} catch (error) {
  out.three = { error: String(error && error.message ? error.message : error) };
}
process.stdout.write(JSON.stringify(out) + '\n');
