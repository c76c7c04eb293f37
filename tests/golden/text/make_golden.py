#!/usr/bin/env python3
"""Golden token ids for tests/test_tok_qwen.c and tests/test_tok_clip.c (recipe: README.md here).

Writes qwen_golden.jsonl.gz ({"s", "ids", "plain"}) from the HF `tokenizers` package on the real
Qwen tokenizer.json, and clip_golden.jsonl.gz ({"s", "ids", "hf"}) from open_clip's SimpleTokenizer
(ids) and transformers' CLIPTokenizer (hf) built from the same merges file. Deterministic (seeded).
Usage: make_golden.py SHARED_DATA_DIR OUT_DIR [--bench]
"""
import gzip, json, os, random, sys, time, types, importlib.util, tempfile

SEED = 20261127


def qwen_corpus():
    r = random.Random(SEED)
    out = []
    fixed = [
        "Hello world", "Hello, world!", "", " ", "  ", "\n", "\t", "a", "I'm here", "I'M HERE", "don't", "DON'T",
        "It's", "we'll", "they've", "you're", "she'd", "'S", "'s'", "ſ", "'ſ", "1234567890", "3.14159", "1,000,000",
        "hello   world", "hello\tworld", "line1\nline2", "line1\r\nline2", "trailing   ", "   leading", "a\n\n\nb",
        "  \n  \n", "!!!\n\n", "...\n", "x = 1\n\ty = 2\n", "def f(x):\n    return x * 2\n",
        "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
        "<|im_start|><|im_start|>", "<|im_start", "im_start|>", "<|IM_START|>", "<tool_call>{}</tool_call>",
        "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>", "text<|endoftext|>text", "<|vision_pad|><|image_pad|>",
        "你好，世界", "こんにちは世界", "안녕하세요 세계", "Привет, мир", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया",
        "สวัสดีชาวโลก", "Γειά σου Κόσμε", "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇯🇵🇺🇸", "e\u0301", "é", "A\u030a", "Å",
        "\u1100\u1161\u11a8", "ﬁ", "Ⅻ", "①②③", "٣٤٥", "१२३", "\u00a0", "\u3000", "\u2028", "\u0085", "a\u0085b",
        "\u200b", "\ufeffBOM", "\x00", "a\x00b", "\x1b[31mred\x1b[0m", "\x7f", "\ufffd", "\U0010ffff", "\U0001f600" * 20,
        "ａｂｃ１２３", "C++ && Python || Rust", "https://example.com/a?b=c&d=e#f", "user@example.com",
        "$100.00 (USD)", "50% off!!!", "#hashtag @mention", "snake_case_name camelCaseName", "a" * 300,
        " " * 100, "\n" * 50, "ab" * 200, "的" * 100, "1" * 60, "!?" * 40,
    ]
    out += fixed
    words_en = ("the quick brown fox jumps over lazy dog cinematic portrait of a woman standing in the rain at "
                "night neon lights reflecting on wet street camera slowly pans left golden hour soft light "
                "ultra detailed 4k film grain shallow depth of field").split()
    cjk = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明"
    scripts = ["Привет мир как дела", "Καλημέρα κόσμε", "مرحبا كيف حالك", "こんにちは元気ですか", "안녕하세요 반갑습니다",
               "Xin chào thế giới", "Ça va très bien, merci", "Größe Straße Übung", "¿Qué tal? ¡Muy bien!",
               "İstanbul'da ışık", "Łódź źdźbło", "ĀāĒēĪī", "हिन्दी भाषा", "தமிழ் மொழி", "ქართული ენა", "Հայերեն"]
    emoji = ["😀", "😂", "🥲", "👍", "👍🏻", "👍🏿", "👩‍💻", "👨‍👩‍👧", "🧑‍🤝‍🧑", "🏴‍☠️", "🐈‍⬛", "❤️‍🔥", "✨", "🔥", "🇫🇷",
             "☺️", "1️⃣", "©️", "🫠", "🤌🏼"]
    punct = list(".,;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`") + ["...", "--", "—", "–", "“", "”", "‘", "’", "«", "»", "…", "·"]
    ws = [" ", "  ", "\t", "\n", "\r\n", "\n\n", " \n", "\t\t", "   ", "\u00a0", "\u3000", "\r"]
    combining = ["\u0301", "\u0300", "\u0308", "\u0327", "\u0303", "\u030c", "\u0323", "\u20dd"]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<|fim_pad|>",
                "<|box_start|>", "<|file_sep|>", "<|repo_name|>"]
    code = ["int main(void) { return 0; }", "for (i = 0; i < n; i++) x[i] += y[i];", "import numpy as np",
            "SELECT * FROM users WHERE id = 42;", "const f = (a, b) => a ?? b;", "<div class=\"x\">hi</div>",
            "fn main() -> Result<(), Box<dyn Error>> {", "    if x:\n        pass\n", "#include <stdio.h>",
            "printf(\"%d\\n\", 0x1F);", "a == b != c <= d >= e", "ls -la | grep foo > /dev/null 2>&1"]
    gens = []

    def g_words():
        return " ".join(r.choice(words_en) for _ in range(r.randint(1, 30)))

    def g_case():
        w = g_words()
        return "".join(c.upper() if r.random() < 0.3 else c for c in w)

    def g_cjk():
        return "".join(r.choice(cjk) for _ in range(r.randint(1, 40)))

    def g_script():
        return " ".join(r.choice(scripts) for _ in range(r.randint(1, 4)))

    def g_emoji():
        return "".join(r.choice(emoji + [" ", "a", "好", "!"]) for _ in range(r.randint(1, 12)))

    def g_numbers():
        parts = [str(r.randint(0, 10 ** r.randint(1, 12))) for _ in range(r.randint(1, 5))]
        seps = [" ", ",", ".", "-", ":", "/", "x", " + ", "="]
        return "".join(p + r.choice(seps) for p in parts)

    def g_ws():
        return "".join(r.choice(ws + [r.choice(words_en)]) for _ in range(r.randint(1, 15)))

    def g_code():
        return "\n".join(r.choice(code) for _ in range(r.randint(1, 4))) + r.choice(["", "\n", "  ", "\n\n"])

    def g_special():
        return "".join(r.choice(specials + [g_words(), "\n", " ", "user\n", "assistant\n"]) for _ in range(r.randint(1, 6)))

    def g_combining():
        base = "aeiouAEIOUnczsy"
        return "".join(r.choice(base) + "".join(r.choice(combining) for _ in range(r.randint(0, 3)))
                       for _ in range(r.randint(1, 10)))

    def g_punct():
        return "".join(r.choice(punct + words_en[:5] + [" "]) for _ in range(r.randint(1, 20)))

    def g_mixed():
        fs = [g_words, g_cjk, g_script, g_emoji, g_numbers, g_ws, g_punct, g_combining]
        return "".join(r.choice(fs)() for _ in range(r.randint(2, 5)))

    def g_weird():
        cps = [r.choice([r.randint(0x20, 0x7e), r.randint(0xa0, 0x2fff), r.randint(0x3000, 0x9fff),
                         r.randint(0xac00, 0xd7a3), r.randint(0x1f300, 0x1faff), r.randint(0, 0x1f),
                         r.randint(0xe000, 0xf8ff), r.randint(0xfe00, 0xfffd)]) for _ in range(r.randint(1, 20))]
        return "".join(chr(c) for c in cps)

    gens = [(g_words, 300), (g_case, 100), (g_cjk, 150), (g_script, 150), (g_emoji, 150), (g_numbers, 150),
            (g_ws, 200), (g_code, 120), (g_special, 150), (g_combining, 150), (g_punct, 150), (g_mixed, 250),
            (g_weird, 200)]
    for fn, count in gens:
        for _ in range(count):
            out.append(fn())
    return out


SD_SUBJECTS = ["a photo of a cat", "portrait of a young woman", "an astronaut riding a horse", "a castle on a hill",
               "cyberpunk city street", "a bowl of ramen", "old man with a beard", "a red sports car",
               "fantasy landscape with mountains", "a cozy cabin in the woods", "1girl, solo, long hair",
               "a dragon flying over the ocean", "still life with flowers", "a robot playing chess"]
SD_MODS = ["highly detailed", "8k", "4K UHD", "masterpiece", "best quality", "trending on artstation", "octane render",
           "by greg rutkowski", "sharp focus", "soft lighting", "cinematic lighting", "volumetric fog", "bokeh",
           "f/1.8", "35mm", "hdr", "ultra-realistic", "digital painting", "concept art", "studio ghibli style",
           "unreal engine 5", "dramatic", "golden hour", "RAW photo", "DSLR", "film grain", "nsfw", "sfw",
           "photorealistic", "intricate details", "depth of field", "wide-angle", "close-up", "full body shot"]


def clip_corpus():
    r = random.Random(SEED + 1)
    out = ["a photo of a cat", "", " ", "A PHOTO OF A CAT", "a photo of a cat.", "Hello world", "don't stop", "it's",
           "I'M", "1girl", "2024", "3.5mm", "&amp;", "&lt;3", "Tom &amp; Jerry", "&quot;quoted&quot;", "&#39;", "&#x27;",
           "caf\u00e9", "cafe\u0301", "na\u00efve", "\u201csmart quotes\u201d", "\u2018single\u2019", "ﬁne ﬂower",
           "ＦＵＬＬＷＩＤＴＨ", "日本語のプロンプト", "中文提示词", "한국어", "Ελληνικά", "русский текст", "emoji 😀🔥✨",
           "👨‍👩‍👧", "tab\tseparated", "new\nline", "multiple   spaces", "  padded  ", "(masterpiece)", "((best quality))",
           "[blurry]", "(cat:1.3)", "(dog:0.5), [[ugly]]", "a, b, c", "--no text", "#hashtag @user", "50% off",
           "a" * 200, "word " * 100, "x" * 77, "Straße", "İstanbul", "ÀÉÎÕÜ", "nbsp\u00a0here", "em—dash", "a…b",
           "© ® ™", "°C", "½ ¼", "x²", "north–south"]
    entities = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#039;", "&#x27;", "&apos;", "&nbsp;", "&copy;",
                "&reg;", "&hellip;", "&mdash;", "&ndash;", "&eacute;"]

    def prompt():
        parts = [r.choice(SD_SUBJECTS)] + r.sample(SD_MODS, r.randint(0, 10))
        r.shuffle(parts)
        sep = r.choice([", ", ",", " ", ". ", " | ", ",  "])
        return sep.join(parts)

    def emph():
        parts = []
        for p in prompt().split(", "):
            k = r.random()
            if k < 0.2:
                p = "(%s)" % p
            elif k < 0.3:
                p = "((%s))" % p
            elif k < 0.45:
                p = "(%s:%.1f)" % (p, r.uniform(0.3, 1.8))
            elif k < 0.55:
                p = "[%s]" % p
            parts.append(p)
        return ", ".join(parts)

    def caps():
        return "".join(c.upper() if r.random() < 0.4 else c for c in prompt())

    def ent():
        s = prompt().split(" ")
        for _ in range(r.randint(1, 3)):
            s.insert(r.randint(0, len(s)), r.choice(entities))
        return " ".join(s)

    def uni():
        extra = ["café", "naïve", "Ångström", "日本", "中国风", "東京の夜", "Москва", "αβγ", "🔥", "✨", "🌸", "→", "★",
                 "♥", "—", "…", "“quote”", "‘x’", "½", "™", "é", "ß", "ø"]
        s = prompt().split(" ")
        for _ in range(r.randint(1, 4)):
            s.insert(r.randint(0, len(s)), r.choice(extra))
        return " ".join(s)

    def punct():
        s = prompt()
        return "".join(c + (r.choice(["!", "?", ";", ":", "-", "/", "'", "\"", "...", " ", "  ", "\t", "\n"])
                            if r.random() < 0.1 else "") for c in s)

    def numbers():
        return prompt() + ", " + ", ".join("%d%s" % (r.randint(0, 99999), r.choice(["", "k", "px", "mm", "s", "th"]))
                                           for _ in range(r.randint(1, 4)))

    def long():
        return ", ".join(prompt() for _ in range(r.randint(3, 8)))

    for fn, count in [(prompt, 300), (emph, 200), (caps, 80), (ent, 120), (uni, 150), (punct, 120),
                      (numbers, 80), (long, 60)]:
        for _ in range(count):
            out.append(fn())
    return out


def open_clip_simple(merges_gz):
    import site
    path = None
    for d in site.getsitepackages():
        p = os.path.join(d, "open_clip", "tokenizer.py")
        if os.path.exists(p):
            path = p
    if "torch" not in sys.modules:  # pragma: stub
        class _Stub(types.ModuleType):
            def __getattr__(self, name):
                return object  # annotations such as torch.Tensor / torch.LongTensor only

        sys.modules["torch"] = _Stub("torch")
    spec = importlib.util.spec_from_file_location("oc_tokenizer", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    if isinstance(sys.modules.get("torch"), types.ModuleType) and sys.modules["torch"].__spec__ is None:
        del sys.modules["torch"]  # transformers probes for a real torch
    return mod.SimpleTokenizer(bpe_path=merges_gz)


def hf_clip(merges_gz, tmp):
    from transformers import CLIPTokenizer
    oc = open_clip_simple(merges_gz)
    vocab = {k: v for k, v in oc.encoder.items() if v < 49406}
    vocab["<|startoftext|>"] = 49406
    vocab["<|endoftext|>"] = 49407
    merges = gzip.open(merges_gz).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    with open(os.path.join(tmp, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    with open(os.path.join(tmp, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    return CLIPTokenizer(os.path.join(tmp, "vocab.json"), os.path.join(tmp, "merges.txt"))


def main():
    data, outdir = sys.argv[1], sys.argv[2]
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(data, "qwen", "tokenizer.json"))
    qc = qwen_corpus()
    # "plain": every added token's text encoded as ordinary text (OV_TOK_PLAIN_TEXT) =
    # normalizer + pre-tokenizer + BPE model of the same tokenizer, bypassing the added vocabulary.
    def plain(s):
        pieces = tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(s))
        return [t.id for p, _ in pieces for t in tok.model.tokenize(p)]
    with gzip.GzipFile(os.path.join(outdir, "qwen_golden.jsonl.gz"), "wb", mtime=0) as f:
        for s in qc:
            rec = {"s": s, "ids": tok.encode(s, add_special_tokens=False).ids}
            dec = tok.decode(rec["ids"], skip_special_tokens=False)
            if dec != s:
                rec["dec"] = dec  # NFC changed the text: decode(encode(s)) == NFC(s)
            if "<" in s:
                rec["plain"] = plain(s)
            f.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    print("qwen strings:", len(qc))
    if "--bench" in sys.argv:
        text = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_prompt.txt")).read()
        for name, batch in [("2KB prompt", [text]), ("corpus", qc)]:
            n_tok = sum(len(tok.encode(s, add_special_tokens=False).ids) for s in batch)
            reps, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < 2.0:
                for s in batch:
                    tok.encode(s, add_special_tokens=False)
                reps += 1
            dt = time.perf_counter() - t0
            print("hf tokenizers %s: %.0f tokens/s (%d reps, single-thread encode)" % (name, n_tok * reps / dt, reps))
    merges_gz = os.path.join(data, "clip", "bpe_simple_vocab_16e6.txt.gz")
    oc = open_clip_simple(merges_gz)
    with tempfile.TemporaryDirectory() as tmp:
        hf = hf_clip(merges_gz, tmp)
        cc = clip_corpus()
        same = 0
        with gzip.GzipFile(os.path.join(outdir, "clip_golden.jsonl.gz"), "wb", mtime=0) as f:
            for s in cc:
                ids = oc.encode(s)
                hids = hf.encode(s, add_special_tokens=False)
                same += ids == hids
                f.write((json.dumps({"s": s, "ids": ids, "hf": hids}, ensure_ascii=False) + "\n").encode("utf-8"))
    print("clip prompts:", len(cc), "open_clip == transformers on", same)


if __name__ == "__main__":
    main()
