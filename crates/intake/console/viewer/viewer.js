// The console's 3D viewer: an avatar's GLB (meshopt or Draco compressed)
// on a canvas, turned by dragging, one button per level of detail. Bundled
// with three.js by build.sh; loaded only on pages that show a model.
import * as THREE from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
import { DRACOLoader } from "three/examples/jsm/loaders/DRACOLoader.js";
import { MeshoptDecoder } from "three/examples/jsm/libs/meshopt_decoder.module.js";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";

export function show(figure, assets) {
  const canvas = figure.querySelector("canvas");
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0xe5e7eb);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x8a8a8a, 2.2));
  const sun = new THREE.DirectionalLight(0xffffff, 1.8);
  sun.position.set(1.5, 3, 2);
  scene.add(sun);
  const camera = new THREE.PerspectiveCamera(35, 1, 0.01, 100);
  const controls = new OrbitControls(camera, canvas);
  controls.enableDamping = false;

  const draco = new DRACOLoader();
  draco.setDecoderPath({ js: assets["draco_wasm_wrapper.js"], wasm: assets["draco_decoder.wasm"] });
  const loader = new GLTFLoader();
  loader.setDRACOLoader(draco);
  loader.setMeshoptDecoder(MeshoptDecoder);

  let model = null;
  const render = () => renderer.render(scene, camera);
  const resize = () => {
    const w = canvas.clientWidth || 480, h = canvas.clientHeight || 420;
    renderer.setSize(w, h, false);
    camera.aspect = w / h;
    camera.updateProjectionMatrix();
    render();
  };
  controls.addEventListener("change", render);
  window.addEventListener("resize", resize);

  const load = (url) => {
    figure.dataset.drawn = "false";
    loader.load(url, (gltf) => {
      if (model) scene.remove(model);
      model = gltf.scene;
      scene.add(model);
      const box = new THREE.Box3().setFromObject(model);
      const size = box.getSize(new THREE.Vector3());
      const centre = box.getCenter(new THREE.Vector3());
      const distance = Math.max(size.y, size.x) / (2 * Math.tan((camera.fov * Math.PI) / 360)) * 1.25;
      camera.position.set(centre.x, centre.y, centre.z + distance);
      camera.near = distance / 100;
      camera.far = distance * 10;
      controls.target.copy(centre);
      controls.update();
      resize();
      let triangles = 0;
      model.traverse((o) => {
        if (o.isMesh) triangles += (o.geometry.index ? o.geometry.index.count : o.geometry.attributes.position.count) / 3;
      });
      figure.dataset.triangles = String(triangles);
      figure.dataset.drawn = "true";
    }, undefined, (error) => {
      figure.dataset.error = String(error && error.message || error);
      console.error("3D viewer:", error);
    });
  };
  figure.querySelectorAll("button[data-lod]").forEach((button) => {
    button.addEventListener("click", () => {
      figure.querySelectorAll("button[data-lod]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      load(button.dataset.lod);
    });
  });
  load(figure.dataset.viewer);
}
