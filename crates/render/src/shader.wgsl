// Physically based metal/roughness shading (Cook-Torrance, GGX, Smith,
// Schlick), three directional lights with a soft shadow from the key light,
// hemisphere ambient, Khronos PBR Neutral tone mapping. Positions arrive in
// world space: item transforms are applied when the scene is built.

struct Globals {
    view_proj: mat4x4<f32>,
    light_view_proj: mat4x4<f32>,
    camera_pos: vec4<f32>,
    // xyz: direction towards the light; w unused.
    key_dir: vec4<f32>,
    key_colour: vec4<f32>,
    fill_dir: vec4<f32>,
    fill_colour: vec4<f32>,
    rim_dir: vec4<f32>,
    rim_colour: vec4<f32>,
    sky: vec4<f32>,
    ground_ambient: vec4<f32>,
    // x: ground height, y: fade radius, z/w: centre x/z.
    ground: vec4<f32>,
    // x: shadow map texel size, y: PCF taps, z: ground shadow softness (texels), w: ground shadow strength.
    shadow: vec4<f32>,
};

struct Draw {
    base_colour: vec4<f32>,
    // x: metallic, y: roughness, z: alpha cutoff (< 0: none), w: double sided.
    params: vec4<f32>,
    emissive: vec4<f32>,
};

@group(0) @binding(0) var<uniform> g: Globals;
@group(0) @binding(1) var shadow_map: texture_depth_2d;
@group(0) @binding(2) var shadow_sampler: sampler_comparison;

@group(1) @binding(0) var<uniform> d: Draw;
@group(1) @binding(1) var base_tex: texture_2d<f32>;
@group(1) @binding(2) var mr_tex: texture_2d<f32>;
@group(1) @binding(3) var tex_sampler: sampler;

struct VertexIn {
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) uv: vec2<f32>,
};

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) world: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) uv: vec2<f32>,
};

@vertex
fn vs_main(v: VertexIn) -> VertexOut {
    var out: VertexOut;
    out.clip = g.view_proj * vec4<f32>(v.position, 1.0);
    out.world = v.position;
    out.normal = v.normal;
    out.uv = v.uv;
    return out;
}

@vertex
fn vs_shadow(v: VertexIn) -> @builtin(position) vec4<f32> {
    return g.light_view_proj * vec4<f32>(v.position, 1.0);
}

const PI: f32 = 3.14159265;

// 32 points of a Poisson disc in the unit circle.
const POISSON = array<vec2<f32>, 32>(
    vec2(-0.975402, -0.0711386), vec2(-0.920347, -0.41142), vec2(-0.883908, 0.217872),
    vec2(-0.884518, 0.568041), vec2(-0.811945, 0.90521), vec2(-0.792474, -0.779962),
    vec2(-0.614856, 0.386578), vec2(-0.580859, -0.208777), vec2(-0.53795, 0.716666),
    vec2(-0.515427, 0.0899991), vec2(-0.454634, -0.707938), vec2(-0.420942, 0.991272),
    vec2(-0.261147, 0.588488), vec2(-0.211219, 0.114841), vec2(-0.146336, -0.259194),
    vec2(-0.139439, -0.888668), vec2(0.0116886, 0.326395), vec2(0.0380566, 0.625477),
    vec2(0.0625935, -0.50853), vec2(0.125584, 0.0469069), vec2(0.169469, -0.997253),
    vec2(0.320597, 0.291055), vec2(0.359172, -0.633717), vec2(0.435713, -0.250832),
    vec2(0.507797, -0.916562), vec2(0.545763, 0.730216), vec2(0.56859, 0.11655),
    vec2(0.743156, -0.505173), vec2(0.736442, -0.189734), vec2(0.843562, 0.357036),
    vec2(0.865413, 0.763726), vec2(0.872939, -0.927),
);

// Fraction of the key light reaching `world` (1 = lit), PCF over `radius` texels.
fn key_visibility(world: vec3<f32>, radius: f32, bias: f32) -> f32 {
    let p = g.light_view_proj * vec4<f32>(world, 1.0);
    let ndc = p.xyz / p.w;
    let uv = vec2<f32>(ndc.x * 0.5 + 0.5, 0.5 - ndc.y * 0.5);
    if (any(uv < vec2<f32>(0.0)) || any(uv > vec2<f32>(1.0)) || ndc.z > 1.0) {
        return 1.0;
    }
    let taps = i32(g.shadow.y);
    let r = radius * g.shadow.x;
    // Four taps at the rim of the kernel first: where they agree the point is
    // fully lit or fully in shadow (most of the frame), and the rest are
    // skipped. Only penumbrae pay for every tap.
    let ref_depth = ndc.z - bias;
    var rim = 0.0;
    rim += textureSampleCompareLevel(shadow_map, shadow_sampler, uv + vec2<f32>(-0.811945, 0.90521) * r, ref_depth);
    rim += textureSampleCompareLevel(shadow_map, shadow_sampler, uv + vec2<f32>(0.865413, 0.763726) * r, ref_depth);
    rim += textureSampleCompareLevel(shadow_map, shadow_sampler, uv + vec2<f32>(0.872939, -0.927) * r, ref_depth);
    rim += textureSampleCompareLevel(shadow_map, shadow_sampler, uv + vec2<f32>(-0.792474, -0.779962) * r, ref_depth);
    if (taps <= 4 || rim > 3.999 || rim < 0.001) {
        return rim * 0.25;
    }
    var lit = 0.0;
    for (var i = 0; i < taps; i = i + 1) {
        let offset = POISSON[i] * radius * g.shadow.x;
        lit += textureSampleCompareLevel(shadow_map, shadow_sampler, uv + offset, ndc.z - bias);
    }
    return lit / f32(taps);
}

fn ggx(n_h: f32, a: f32) -> f32 {
    let a2 = a * a;
    let t = n_h * n_h * (a2 - 1.0) + 1.0;
    return a2 / (PI * t * t);
}

fn smith(n_v: f32, n_l: f32, a: f32) -> f32 {
    let k = a * 0.5;
    return (n_v / (n_v * (1.0 - k) + k)) * (n_l / (n_l * (1.0 - k) + k));
}

fn light(n: vec3<f32>, v: vec3<f32>, l: vec3<f32>, colour: vec3<f32>, albedo: vec3<f32>,
         f0: vec3<f32>, metallic: f32, a: f32) -> vec3<f32> {
    let n_l = max(dot(n, l), 0.0);
    if (n_l <= 0.0) {
        return vec3<f32>(0.0);
    }
    let h = normalize(v + l);
    let n_v = max(dot(n, v), 1e-4);
    let f = f0 + (vec3<f32>(1.0) - f0) * pow(1.0 - max(dot(h, v), 0.0), 5.0);
    let spec = ggx(max(dot(n, h), 0.0), a) * smith(n_v, n_l, a) * f / (4.0 * n_v * n_l + 1e-4);
    let kd = (vec3<f32>(1.0) - f) * (1.0 - metallic);
    return (kd * albedo / PI + spec) * colour * n_l;
}

fn tone_map(c: vec3<f32>) -> vec3<f32> {
    // Khronos PBR Neutral: keeps base colours true up to ~0.8, rolls off highlights.
    let start = 0.76;
    let desaturation = 0.15;
    let x = min(c.r, min(c.g, c.b));
    let offset = select(0.04, x - 6.25 * x * x, x < 0.08);
    var col = c - offset;
    let peak = max(col.r, max(col.g, col.b));
    if (peak < start) {
        return col;
    }
    let dd = 1.0 - start;
    let new_peak = 1.0 - dd * dd / (peak + dd - start);
    col = col * (new_peak / peak);
    let gg = 1.0 - 1.0 / (desaturation * (peak - new_peak) + 1.0);
    return mix(col, vec3<f32>(new_peak), gg);
}

@fragment
fn fs_main(in: VertexOut, @builtin(front_facing) front: bool) -> @location(0) vec4<f32> {
    let base = d.base_colour * textureSample(base_tex, tex_sampler, in.uv);
    if (d.params.z >= 0.0 && base.a < d.params.z) {
        discard;
    }
    let mr = textureSample(mr_tex, tex_sampler, in.uv);
    let metallic = clamp(d.params.x * mr.b, 0.0, 1.0);
    let roughness = clamp(d.params.y * mr.g, 0.04, 1.0);
    let a = roughness * roughness;

    var n = normalize(in.normal);
    if (!front) {
        n = -n;
    }
    let v = normalize(g.camera_pos.xyz - in.world);
    let albedo = base.rgb;
    let f0 = mix(vec3<f32>(0.04), albedo, metallic);

    let texel_bias = 0.0015;
    let visible = key_visibility(in.world, 1.5, texel_bias);
    var colour = light(n, v, g.key_dir.xyz, g.key_colour.rgb, albedo, f0, metallic, a) * visible;
    colour += light(n, v, g.fill_dir.xyz, g.fill_colour.rgb, albedo, f0, metallic, a);
    colour += light(n, v, g.rim_dir.xyz, g.rim_colour.rgb, albedo, f0, metallic, a);

    // Hemisphere ambient: diffuse by the normal, specular by the reflection.
    let up = n.y * 0.5 + 0.5;
    let diffuse_env = mix(g.ground_ambient.rgb, g.sky.rgb, up);
    let r = reflect(-v, n);
    let spec_env = mix(g.ground_ambient.rgb, g.sky.rgb, smoothstep(-0.3, 0.3, r.y));
    let n_v = max(dot(n, v), 1e-4);
    let fr = f0 + (max(vec3<f32>(1.0 - roughness), f0) - f0) * pow(1.0 - n_v, 5.0);
    colour += diffuse_env * albedo * (1.0 - metallic) + spec_env * fr * (1.0 - 0.7 * a);
    colour += d.emissive.rgb;
    return vec4<f32>(tone_map(colour), base.a);
}

// The ground: a shadow catcher. It draws nothing but the key light's soft
// shadow, as black with coverage in alpha, so it darkens a solid background
// and stays transparent on a transparent one.
struct GroundOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) world: vec3<f32>,
};

@vertex
fn vs_ground(@builtin(vertex_index) i: u32) -> GroundOut {
    let corners = array<vec2<f32>, 6>(
        vec2(-1.0, -1.0), vec2(1.0, -1.0), vec2(1.0, 1.0),
        vec2(-1.0, -1.0), vec2(1.0, 1.0), vec2(-1.0, 1.0),
    );
    let c = corners[i] * g.ground.y;
    let world = vec3<f32>(g.ground.z + c.x, g.ground.x, g.ground.w + c.y);
    var out: GroundOut;
    out.clip = g.view_proj * vec4<f32>(world, 1.0);
    out.world = world;
    return out;
}

@fragment
fn fs_ground(in: GroundOut) -> @location(0) vec4<f32> {
    let lit = key_visibility(in.world, g.shadow.z, 0.002);
    let dist = length(in.world.xz - g.ground.zw) / g.ground.y;
    let fade = 1.0 - smoothstep(0.35, 1.0, dist);
    let alpha = (1.0 - lit) * g.shadow.w * fade;
    return vec4<f32>(0.0, 0.0, 0.0, alpha);
}
