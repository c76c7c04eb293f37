#!/usr/bin/env python3
"""Writes tests/data/payloads/{valid,invalid}: OurVidz job payloads for test_job_contract and the
fuzz_job_parse corpus. Valid ones follow the field lists of OURVIDZ-CONTRACT.md §2 (queue-job
F-QJ-JUL 2025-07-21 and F-SEP 2025-09-01); invalid ones each get NAME.expect:
line 1 EINVAL|EFORMAT, line 2 the id the parser must report ('-' for EFORMAT), line 3 a substring
of the error message. Run from the repository root: python3 tests/data/gen_payloads.py"""
import copy, json, os, shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "payloads")
USER = "0b6f3c2e-5d1a-4e8f-9c47-1a2b3c4d5e6f"
NEG = ("blurry, low quality, worst quality, jpeg artifacts, bad anatomy, deformed, extra limbs, "
       "missing limbs, watermark, text, logo")
EXPECTED = {"sdxl_image_fast": 25, "sdxl_image_high": 40, "image_fast": 25, "image_high": 40,
            "video_fast": 135, "video_high": 180, "image7b_fast_enhanced": 85,
            "image7b_high_enhanced": 100, "video7b_fast_enhanced": 195, "video7b_high_enhanced": 240}


def jul_metadata(jtype, queue, prompt, sdxl, num_images, steps, cfg, content, ext):
    """queue-job F-QJ-JUL: client metadata (GenerationService.ts F-JUL26) + server fields."""
    m = {
        # client
        "prompt": prompt, "credits": 1 if sdxl else 3, "model_type": jtype, "is_sdxl": sdxl,
        "bucket": jtype, "queue": queue, "batch_count": num_images,
        "reference_image_url": None, "reference_strength": None, "reference_type": None,
        "start_reference_url": None, "end_reference_url": None,
        # server
        "model_variant": "lustify_sdxl" if sdxl else "wan_2_1_1_3b", "dual_worker_routing": True,
        "negative_prompt_supported": sdxl, "edge_function_version": "2.1.0",
        "prompt_length": len(prompt), "prompt_word_count": len(prompt.split()),
        "generation_timestamp": "2025-07-21T18:03:11.123Z",
        "expected_generation_time": EXPECTED[jtype], "sample_steps": steps,
        "sample_guide_scale": cfg, "sample_solver": "unipc", "sample_shift": 5.0,
        "num_images": num_images, "content_type": content, "file_extension": ext,
        "user_id": USER, "project_id": None, "video_id": None, "image_id": None, "character_id": None,
    }
    if sdxl:
        m["negative_prompt"] = NEG
    return m


def jul_payload(jid, jtype, prompt, num_images=1, seed=None, reference=None, video_id=None):
    sdxl = jtype.startswith("sdxl_")
    high = "high" in jtype
    video = jtype.startswith("video")
    queue = "sdxl_queue" if sdxl else "wan_queue"
    content = "video" if video else "image"
    ext = "mp4" if video else "png"
    enhanced = jtype.endswith("_enhanced")
    if sdxl:
        steps, cfg = (50, 7.5) if high else (25, 6.5)
        config = {"width": 1024, "height": 1024, "num_inference_steps": steps, "guidance_scale": cfg,
                  "scheduler": "unipc", "frame_num": 1, "enhance_prompt": False,
                  "expected_time": EXPECTED[jtype], "content_type": "image", "file_extension": "png",
                  "num_images": num_images, "compel_enabled": False, "compel_weights": ""}
    else:
        steps, cfg = (50, 7.5) if high else (25, 6.5)
        config = {"size": "480*832", "sample_steps": steps, "sample_guide_scale": cfg,
                  "sample_solver": "unipc", "sample_shift": 5.0, "frame_num": 83 if video else 1,
                  "enhance_prompt": enhanced, "expected_time": EXPECTED[jtype], "content_type": content,
                  "file_extension": ext, "num_images": num_images}
    if seed is not None:
        config["seed"] = seed
    meta = jul_metadata(jtype, queue, prompt, sdxl, num_images, steps, cfg, content, ext)
    if reference:
        meta["reference_image"] = True
        meta["reference_url"] = reference
        meta["reference_image_url"] = reference
        config["reference_image_url"] = reference
        config["reference_strength"] = 0.85
        config["reference_type"] = "character"
        meta["reference_strength"] = 0.85
        meta["reference_type"] = "character"
        if video:
            config["first_frame"] = reference
            config["last_frame"] = reference
            meta["start_reference_url"] = reference
            meta["end_reference_url"] = reference
    p = {"id": jid, "type": jtype, "prompt": prompt, "config": config, "user_id": USER,
         "created_at": "2025-07-21T18:03:11.123Z"}
    if sdxl:
        p["negative_prompt"] = NEG
        p["compel_enabled"] = False
        p["compel_weights"] = ""
    if video_id:
        p["video_id"] = video_id
    p["character_id"] = None
    p["model_variant"] = "lustify_sdxl" if sdxl else "wan_2_1_1_3b"
    p["bucket"] = jtype
    p["metadata"] = meta
    return p


def sep_payload(jid, jtype, prompt, num_images=1, seed=None, resolution=None, steps=None, cfg=None,
                i2i=None):
    """queue-job F-SEP: required fields + config {pipeline, num_images, num_inference_steps,
    guidance_scale, denoise_strength, resolution, seed} + legacy duplicates."""
    config = {"num_images": num_images}
    if steps is not None:
        config["num_inference_steps"] = steps
    if cfg is not None:
        config["guidance_scale"] = cfg
    if resolution:
        config["resolution"] = resolution
    config["seed"] = seed
    meta = {"nsfw_optimization": True, "reference_mode": "none", "exact_copy_mode": False,
            "model_type": jtype, "contentType": "nsfw"}
    if i2i:
        config["pipeline"] = "img2img"
        config["denoise_strength"] = 0.35
        meta.update({"denoise_strength": 0.35, "reference_strength": 0.65, "exact_copy_mode": False,
                     "reference_mode": "modify", "reference_image_url": i2i, "reference_type": "style"})
    quality = "high" if "high" in jtype else "fast"
    return {"id": jid, "type": jtype, "prompt": prompt, "user_id": USER,
            "negative_prompt": NEG if "sdxl" in jtype else "", "compel_enabled": False,
            "compel_weights": None, "config": config, "metadata": meta,
            "job_id": jid, "job_type": jtype, "quality": quality,
            "format": "mp4" if "video" in jtype else "png", "content_type": "nsfw"}


REF = "https://abcd.supabase.co/storage/v1/object/sign/reference_images/u/ref.png?token=x"
P = "a woman walking on a beach at sunset, golden hour"
valid = {}
types = ["sdxl_image_fast", "sdxl_image_high", "image_fast", "image_high", "video_fast", "video_high",
         "image7b_fast_enhanced", "image7b_high_enhanced", "video7b_fast_enhanced", "video7b_high_enhanced"]
for i, t in enumerate(types):
    valid[f"jul-{t}"] = jul_payload(f"7d1e5c3a-0000-4000-8000-0000000000{i:02d}", t, P)
valid["jul-sdxl_image_fast-6-seed"] = jul_payload("7d1e5c3a-0000-4000-8000-000000000100", "sdxl_image_fast", P,
                                                  num_images=6, seed=424242)
valid["jul-sdxl_image_high-3-ref"] = jul_payload("7d1e5c3a-0000-4000-8000-000000000101", "sdxl_image_high", P,
                                                 num_images=3, reference=REF)
valid["jul-video_fast-ref-videoid"] = jul_payload("7d1e5c3a-0000-4000-8000-000000000102", "video_fast", P,
                                                  reference=REF, video_id="9a8b7c6d-1111-4222-8333-944455556666")
valid["sep-sdxl_image_fast"] = sep_payload("5e9f0a1b-0000-4000-9000-000000000001", "sdxl_image_fast", P,
                                           num_images=3, steps=15, cfg=6.0, resolution="1024x1024", seed=None)
valid["sep-sdxl_image_high-seed"] = sep_payload("5e9f0a1b-0000-4000-9000-000000000002", "sdxl_image_high", P,
                                                num_images=6, steps=25, cfg=7.5, resolution="1024x576",
                                                seed=123456789)
valid["sep-sdxl_image_high-i2i"] = sep_payload("5e9f0a1b-0000-4000-9000-000000000003", "sdxl_image_high", P,
                                               num_images=1, steps=25, cfg=7.5, resolution="1024x1024",
                                               seed=77, i2i=REF)
valid["sep-video_fast"] = sep_payload("5e9f0a1b-0000-4000-9000-000000000004", "video_fast", P, steps=25, cfg=6.5)
valid["sep-video_high"] = sep_payload("5e9f0a1b-0000-4000-9000-000000000005", "video_high", P, steps=50, cfg=7.5,
                                      seed=31337)
valid["sep-wan_video_fast"] = sep_payload("5e9f0a1b-0000-4000-9000-000000000006", "wan_video_fast", P)
valid["sep-wan_video_high"] = sep_payload("5e9f0a1b-0000-4000-9000-000000000007", "wan_video_high", P,
                                          resolution="1024x1024")

base = jul_payload("bad-base", "sdxl_image_fast", P)
wbase = jul_payload("bad-base", "video_fast", P)
iwbase = jul_payload("bad-base", "image_fast", P)
invalid = {}  # name -> (bytes, code, id, substring)


def put(name, obj, code, sub, jid=None):
    if isinstance(obj, (bytes, str)):
        data = obj.encode() if isinstance(obj, str) else obj
    else:
        data = json.dumps(obj).encode()
    invalid[name] = (data, code, jid if jid else ("-" if code == "EFORMAT" else name), sub)


def mut(name, fn, sub, b=base, code="EINVAL"):
    p = copy.deepcopy(b)
    p["id"] = name
    fn(p)
    put(name, p, code, sub)


def cfg(key, val):
    return lambda p: p["config"].__setitem__(key, val)


def top(key, val):
    return lambda p: p.__setitem__(key, val)


def drop(key):
    return lambda p: p.pop(key)


# Not even an id -> EFORMAT
put("fmt-not-json", "this is not json", "EFORMAT", "not JSON")
put("fmt-empty", "", "EFORMAT", "not JSON")
put("fmt-truncated", '{"id": "fmt-truncated", "type": "sdxl_image_fast", "prompt": "x"', "EFORMAT", "not JSON")
put("fmt-trailing-garbage", json.dumps(dict(base, id="x")) + " }{", "EFORMAT", "not JSON")
put("fmt-invalid-utf8", b'{"id": "fmt-invalid-utf8", "type": "sdxl_image_fast", "prompt": "caf\xff\xfe", '
    b'"user_id": "u1"}', "EFORMAT", "UTF-8")
put("fmt-overlong-utf8", b'{"id": "fmt-overlong-utf8", "type": "image_fast", "prompt": "\xc0\xaf\xc0\xaf", '
    b'"user_id": "u1"}', "EFORMAT", "UTF-8")
put("fmt-surrogate-utf8", b'{"id": "a", "type": "image_fast", "prompt": "\xed\xa0\x80", "user_id": "u1"}',
    "EFORMAT", "UTF-8")
put("fmt-top-array", json.dumps([base]), "EFORMAT", "not a JSON object")
put("fmt-top-string", '"sdxl_image_fast"', "EFORMAT", "not a JSON object")
put("fmt-top-number", "42", "EFORMAT", "not a JSON object")
put("fmt-no-id", {k: v for k, v in base.items() if k != "id"}, "EFORMAT", "id must be a string")
put("fmt-camelcase-jobid", {"jobId": "abc", "jobType": "video_fast", "prompt": P, "userId": USER},
    "EFORMAT", "id must be a string")
put("fmt-id-number", dict(base, id=12345), "EFORMAT", "id must be a string")
put("fmt-id-null", dict(base, id=None), "EFORMAT", "id must be a string")
put("fmt-id-object", dict(base, id={"uuid": "x"}), "EFORMAT", "id must be a string")
put("fmt-id-traversal", dict(base, id="../../etc/passwd"), "EFORMAT", "id must be 1 to 64")
put("fmt-id-slash", dict(base, id="abc/def"), "EFORMAT", "id must be 1 to 64")
put("fmt-id-empty", dict(base, id=""), "EFORMAT", "id must be 1 to 64")
put("fmt-id-too-long", dict(base, id="a" * 65), "EFORMAT", "id must be 1 to 64")
put("fmt-id-nul", dict(base, id="abc\u0000def"), "EFORMAT", "id must be 1 to 64")
put("fmt-id-unicode", dict(base, id="caf\u00e9"), "EFORMAT", "id must be 1 to 64")
put("fmt-number-overflow", '{"id": "fmt-number-overflow", "type": "sdxl_image_fast", "config": '
    '{"num_inference_steps": 1e400}}', "EFORMAT", "not JSON")
# Readable id -> EINVAL naming the field
mut("bad-missing-type", drop("type"), "type must be a string")
mut("bad-type-number", top("type", 3), "type must be a string")
mut("bad-type-null", top("type", None), "type must be a string")
mut("bad-type-unknown", top("type", "sdxl_image_ultra"), "is not a known job type")
mut("bad-type-chat", top("type", "chat"), "is not a known job type")
mut("bad-missing-prompt", drop("prompt"), "prompt must be a string")
mut("bad-prompt-number", top("prompt", 7), "prompt must be a string")
mut("bad-prompt-object", top("prompt", {"text": "hello"}), "prompt must be a string")
mut("bad-prompt-empty", top("prompt", ""), "prompt must not be empty")
mut("bad-prompt-blank", top("prompt", "  \n\t "), "prompt must not be empty")
mut("bad-prompt-over-cap", top("prompt", "x" * 9000), "prompt is 9000 bytes, over the cap of 8192")
mut("bad-prompt-nul", top("prompt", "hello\u0000world"), "prompt must not contain NUL")
mut("bad-missing-user-id", drop("user_id"), "user_id must be a string")
mut("bad-user-id-number", top("user_id", 17), "user_id must be a string")
mut("bad-user-id-traversal", top("user_id", "../other-user"), "user_id must be a string of 1 to 64")
mut("bad-video-id-slash", top("video_id", "a/b"), "video_id must be 1 to 64")
mut("bad-image-id-number", top("image_id", 5), "image_id must be 1 to 64")
mut("bad-config-array", top("config", [1, 2, 3]), "config must be an object")
mut("bad-config-string", top("config", "fast"), "config must be an object")
mut("bad-metadata-string", top("metadata", "{}"), "metadata must be an object")
mut("bad-num-images-4", cfg("num_images", 4), "config.num_images must be 1, 3 or 6 (got 4)")
mut("bad-num-images-0", cfg("num_images", 0), "config.num_images must be 1, 3 or 6 (got 0)")
mut("bad-num-images-string", cfg("num_images", "6"), "config.num_images must be 1, 3 or 6 (got \"6\")")
mut("bad-num-images-array", cfg("num_images", [1, 3]), "config.num_images must be 1, 3 or 6 (got an array)")
mut("bad-num-images-wan", cfg("num_images", 2), "config.num_images must be 1, 3 or 6 (got 2)", b=wbase)
mut("bad-steps-zero", cfg("num_inference_steps", 0), "config.num_inference_steps must be an integer from 1 to 150 (got 0)")
mut("bad-steps-negative", cfg("num_inference_steps", -5), "config.num_inference_steps must be an integer from 1 to 150")
mut("bad-steps-over-cap", cfg("num_inference_steps", 500), "config.num_inference_steps must be an integer from 1 to 150 (got 500)")
mut("bad-steps-fraction", cfg("num_inference_steps", 12.5), "config.num_inference_steps must be an integer")
mut("bad-steps-nested", cfg("num_inference_steps", {"a": {"b": [1, {"c": None}]}}), "config.num_inference_steps must be an integer")
mut("bad-wan-steps-zero", cfg("sample_steps", 0), "config.sample_steps must be an integer from 1 to 150", b=wbase)
mut("bad-cfg-zero", cfg("guidance_scale", 0), "config.guidance_scale must be a number from 1 to 30 (got 0)")
mut("bad-cfg-absurd", cfg("guidance_scale", 100), "config.guidance_scale must be a number from 1 to 30")
mut("bad-cfg-string", cfg("guidance_scale", "high"), "config.guidance_scale must be a number")
mut("bad-wan-cfg", cfg("sample_guide_scale", -1), "config.sample_guide_scale must be a number", b=wbase)
mut("bad-resolution-not-16", cfg("resolution", "1000x1000"), "config.resolution must be a multiple of 32 from 64 to 2048 (got 1000)")
mut("bad-resolution-over-cap", cfg("resolution", "1024x4096"), "config.resolution must be a multiple of 32 from 64 to 2048 (got 4096)")
mut("bad-resolution-word", cfg("resolution", "big"), "config.resolution must be \"WIDTHxHEIGHT\"")
mut("bad-resolution-negative", cfg("resolution", "-1024x1024"), "config.resolution must be \"WIDTHxHEIGHT\"")
mut("bad-width-not-16", cfg("width", 1000), "config.width must be a multiple of 32 from 64 to 2048 (got 1000)")
mut("bad-height-tiny", cfg("height", 16), "config.height must be a multiple of 32 from 64 to 2048 (got 16)")
mut("bad-wan-size-not-16", cfg("size", "480*830"), "config.size must be a multiple of 16 from 64 to 2048 (got 830)", b=wbase)
mut("bad-wan-size-format", cfg("size", "480 by 832"), "config.size must be \"WIDTHxHEIGHT\"", b=wbase)
mut("bad-frames-80", cfg("frame_num", 80), "config.frame_num must be 4n+1 from 5 to 161 for video types (got 80)", b=wbase)
mut("bad-frames-82", cfg("frame_num", 82), "config.frame_num must be 4n+1", b=wbase)
mut("bad-frames-over-cap", cfg("frame_num", 321), "config.frame_num must be 4n+1 from 5 to 161 for video types (got 321)", b=wbase)
mut("bad-frames-one-video", cfg("frame_num", 1), "config.frame_num must be 4n+1", b=wbase)
mut("bad-frames-string", cfg("frame_num", "81"), "config.frame_num must be 4n+1", b=wbase)
mut("bad-frames-image-83", cfg("frame_num", 83), "config.frame_num must be 1 for image types (got 83)", b=iwbase)
mut("bad-seed-word", cfg("seed", "abc"), "config.seed must be an integer")
mut("bad-seed-fraction", cfg("seed", 1.5), "config.seed must be an integer")
mut("bad-seed-negative", cfg("seed", -7), "config.seed must be an integer")
mut("bad-seed-bool", cfg("seed", True), "config.seed must be an integer")
mut("bad-seed-object", cfg("seed", {"value": 1}), "config.seed must be an integer")
mut("bad-seed-huge", cfg("seed", 1e30), "config.seed must be an integer")
mut("bad-seed-hex-string", cfg("seed", "0x1F"), "config.seed must be an integer")
mut("bad-scheduler-ddim", cfg("scheduler", "ddim"), "config.scheduler must be euler, euler_a, dpmpp_2m or dpmpp_2m_karras (got \"ddim\")")
mut("bad-scheduler-number", cfg("scheduler", 3), "config.scheduler must be a string")
mut("bad-wan-solver", cfg("sample_solver", "euler"), "config.sample_solver must be unipc or dpm++", b=wbase)
mut("bad-wan-shift-zero", cfg("sample_shift", 0), "config.sample_shift must be a number above 0", b=wbase)
mut("bad-compel-enabled-string", top("compel_enabled", "yes"), "compel_enabled must be true or false")
mut("bad-negative-prompt-number", top("negative_prompt", 123), "negative_prompt must be a string")
mut("bad-negative-prompt-over-cap", top("negative_prompt", "n" * 8193), "negative_prompt is 8193 bytes")
mut("bad-enhance-prompt-string", cfg("enhance_prompt", "true"), "config.enhance_prompt must be true or false")
mut("bad-reference-url-file", cfg("reference_image_url", "file:///etc/passwd"), "config.reference_image_url must be an http(s) URL")
mut("bad-reference-strength", cfg("reference_strength", 2), "config.reference_strength must be a number from 0 to 1")
mut("bad-alias-steps", lambda p: (p.__setitem__("type", "wan_video_fast"), p["config"].__setitem__("num_inference_steps", 0)),
    "config.num_inference_steps must be an integer from 1 to 150", b=sep_payload("x", "wan_video_fast", P))

if os.path.isdir(ROOT):
    shutil.rmtree(ROOT)
os.makedirs(os.path.join(ROOT, "valid"))
os.makedirs(os.path.join(ROOT, "invalid"))
for name, p in valid.items():
    with open(os.path.join(ROOT, "valid", name + ".json"), "w") as f:
        json.dump(p, f, indent=2)
        f.write("\n")
for name, (data, code, jid, sub) in invalid.items():
    with open(os.path.join(ROOT, "invalid", name + ".json"), "wb") as f:
        f.write(data)
    with open(os.path.join(ROOT, "invalid", name + ".expect"), "w") as f:
        f.write(f"{code}\n{jid}\n{sub}\n")
print(len(valid), "valid,", len(invalid), "invalid")
