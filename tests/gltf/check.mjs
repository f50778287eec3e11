// What a user's viewer does with a GLB: the Khronos validator's report, then
// three.js's GLTFLoader (with the meshopt decoder) loads it in Node, and the
// skinned mesh is measured in its bind pose and with one bone turned.
// Usage: node check.mjs FILE.glb [BONE]  → one JSON object on stdout.
import { readFile } from 'node:fs/promises';
import validator from 'gltf-validator';
import * as THREE from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { MeshoptDecoder } from 'three/examples/jsm/libs/meshopt_decoder.module.js';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';

// three's DRACOLoader decodes in Web Workers, which Node lacks: this stand-in
// gives GLTFLoader the same interface on Google's own decoder (the
// draco_decoder.js three ships), run in this thread.
const require = createRequire(import.meta.url);
// three's package is ESM, so its CommonJS decoder script is evaluated here.
const decoderPath = require.resolve('three/examples/jsm/libs/draco/draco_decoder.js');
const DracoDecoderModule = new Function(
  'require', '__filename', '__dirname',
  readFileSync(decoderPath, 'utf8') + '\nreturn DracoDecoderModule;',
)(require, decoderPath, dirname(decoderPath));
class NodeDracoLoader {
  preload() {
    this.module ??= DracoDecoderModule();
    return this;
  }
  async decodeDracoFile(buffer, callback, attributeIDs, attributeTypes, _colorSpace, onError) {
    try {
      const draco = await this.preload().module;
      const decoder = new draco.Decoder();
      const array = new Int8Array(buffer);
      const mesh = new draco.Mesh();
      const status = decoder.DecodeArrayToMesh(array, array.byteLength, mesh);
      if (!status.ok()) throw new Error('Draco: ' + status.error_msg());
      const geometry = new THREE.BufferGeometry();
      const count = mesh.num_points();
      for (const name in attributeIDs) {
        const TypedArray = globalThis[attributeTypes[name]];
        const attribute = decoder.GetAttributeByUniqueId(mesh, attributeIDs[name]);
        const items = attribute.num_components();
        const bytes = count * items * TypedArray.BYTES_PER_ELEMENT;
        const type = {
          Float32Array: draco.DT_FLOAT32, Int8Array: draco.DT_INT8, Int16Array: draco.DT_INT16,
          Int32Array: draco.DT_INT32, Uint8Array: draco.DT_UINT8, Uint16Array: draco.DT_UINT16,
          Uint32Array: draco.DT_UINT32,
        }[attributeTypes[name]];
        const ptr = draco._malloc(bytes);
        decoder.GetAttributeDataArrayForAllPoints(mesh, attribute, type, bytes, ptr);
        const data = new TypedArray(draco.HEAPF32.buffer, ptr, bytes / TypedArray.BYTES_PER_ELEMENT).slice();
        draco._free(ptr);
        geometry.setAttribute(name, new THREE.BufferAttribute(data, items));
      }
      const indices = mesh.num_faces() * 3;
      const ptr = draco._malloc(indices * 4);
      decoder.GetTrianglesUInt32Array(mesh, indices * 4, ptr);
      geometry.setIndex(new THREE.BufferAttribute(new Uint32Array(draco.HEAPF32.buffer, ptr, indices).slice(), 1));
      draco._free(ptr);
      draco.destroy(mesh);
      draco.destroy(decoder);
      callback(geometry);
    } catch (error) {
      onError(error);
    }
  }
}

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
loader.setDRACOLoader(new NodeDracoLoader());
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
