/* ourvidz-qwen one-shot mode: generate, enhance, tokenize and detokenize from the command line. */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/error.h"
#include "common/tensor/backend.h"
#include "common/text/tok_qwen.h"
#include "common/text/utf8.h"
#include "ipc/message.h"
#include "workers/qwen/chat_template.h"
#include "workers/qwen/enhance.h"
#include "workers/qwen/qwen.h"
#include "workers/qwen/qwen_bin.h"

/* Exit codes of the one-shot mode. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

#define CLI_PROMPT_MAX (OV_ENHANCE_PROMPT_MAX_BYTES * 4) /* --prompt-file / stdin cap */
#define CLI_IDS_MAX (1u << 20)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ourvidz-qwen --model PATH --prompt TEXT [options]     print the completion\n"
            "       ourvidz-qwen --model PATH --enhance video|image --prompt TEXT [--json]\n"
            "       ourvidz-qwen --model PATH --tokenize TEXT             token ids as a JSON array\n"
            "       ourvidz-qwen --model PATH --detokenize IDS            text of ids ([1,2] or 1,2)\n"
            "       ourvidz-qwen --worker --name NAME (--ipc-fd N | --socket PATH) [--config PATH] [--model "
            "PATH]\n"
            "                    (service mode, normally started by ourvidz-supervisor)\n"
            "\n"
            "  --model PATH            Qwen2/2.5 HF folder (config.json, *.safetensors, tokenizer.json) or "
            ".gguf\n"
            "  --prompt TEXT           the prompt; '-' reads standard input\n"
            "  --prompt-file PATH      read the prompt from a file\n"
            "  --system TEXT           chat: the system turn (default: Qwen's own); base: text put before\n"
            "  --template auto|chat|base  prompt form (auto: chat when the model has a chat template)\n"
            "  --max-tokens N          new tokens (default 256; --enhance: enhance.conf, 512)\n"
            "  --temperature T         0 = greedy (default 0.7)\n"
            "  --top-p P               nucleus sampling (default 0.8; 1 = off)\n"
            "  --top-k K               top-k sampling (default 20; 0 = off)\n"
            "  --repetition-penalty R  HF semantics (default 1.05; 1 = off)\n"
            "  --seed S                sampling seed (default 0: runs repeat exactly)\n"
            "  --deadline-ms N         stop generating after N ms\n"
            "  --enhance video|image   rewrite the prompt with the enhancement instructions\n"
            "                          (config/enhance/, or $OURVIDZ_ENHANCE_DIR); --system replaces them\n"
            "  --json                  with --enhance: the result and its metadata as JSON\n"
            "  --backend auto|cpu|cuda compute backend (default $OURVIDZ_BACKEND or auto)\n"
            "  --ctx N                 KV cache size in tokens (default min(model, 8192))\n"
            "  --verbose               model facts and timings on stderr\n"
            "  --help, --version\n"
            "\n"
            "--tokenize recognises special-token text (\"<|im_start|>\") like HF tokenizers; invalid UTF-8\n"
            "is replaced by U+FFFD (noted on stderr). Prompts for generation and --enhance are encoded\n"
            "as plain text: control tokens come only from the template.\n"
            "Exit codes: 0 done (an enhancement that fell back to the original prompt says so on\n"
            "stderr and in --json), 1 failure (model, generation), 2 bad usage or input.\n");
}

typedef struct cli {
    const char *model, *prompt, *prompt_file, *system, *tokenize, *detokenize, *backend;
    int style, enhance_mode, json, verbose, have_prompt;
    int max_tokens, top_k;
    float temperature, top_p, rep;
    uint64_t seed;
    int64_t deadline_ms, ctx;
} cli;

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error: message on stderr, CLI_USAGE. */
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ourvidz-qwen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return CLI_USAGE;
}

static int num_i64(const char *opt, const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t x;
    if (ov_parse_int64(v, &x) != 0 || x < lo || x > hi) {
        char range[64];
        snprintf(range, sizeof range, "%lld..%lld", (long long)lo, (long long)hi);
        fprintf(stderr, "ourvidz-qwen: %s wants an integer in %s (got '%s')\n", opt, range, v);
        return CLI_USAGE;
    }
    *out = x;
    return 0;
}

static int num_f(const char *opt, const char *v, double lo, double hi, float *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || !(d >= lo && d <= hi)) {
        fprintf(stderr, "ourvidz-qwen: %s wants a number in %g..%g (got '%s')\n", opt, lo, hi, v);
        return CLI_USAGE;
    }
    *out = (float)d;
    return 0;
}

static int parse(cli *c, int argc, char **argv)
{
    enum {
        O_MODEL = 256,
        O_PROMPT,
        O_PROMPT_FILE,
        O_SYSTEM,
        O_TEMPLATE,
        O_MAX_TOKENS,
        O_TEMP,
        O_TOP_P,
        O_TOP_K,
        O_REP,
        O_SEED,
        O_DEADLINE,
        O_ENHANCE,
        O_JSON,
        O_BACKEND,
        O_CTX,
        O_VERBOSE,
        O_TOKENIZE,
        O_DETOKENIZE,
        O_HELP,
        O_VERSION
    };
    static const struct option opts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"prompt", required_argument, NULL, O_PROMPT},
        {"prompt-file", required_argument, NULL, O_PROMPT_FILE},
        {"system", required_argument, NULL, O_SYSTEM},
        {"template", required_argument, NULL, O_TEMPLATE},
        {"max-tokens", required_argument, NULL, O_MAX_TOKENS},
        {"temperature", required_argument, NULL, O_TEMP},
        {"top-p", required_argument, NULL, O_TOP_P},
        {"top-k", required_argument, NULL, O_TOP_K},
        {"repetition-penalty", required_argument, NULL, O_REP},
        {"seed", required_argument, NULL, O_SEED},
        {"deadline-ms", required_argument, NULL, O_DEADLINE},
        {"enhance", required_argument, NULL, O_ENHANCE},
        {"json", no_argument, NULL, O_JSON},
        {"backend", required_argument, NULL, O_BACKEND},
        {"ctx", required_argument, NULL, O_CTX},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"tokenize", required_argument, NULL, O_TOKENIZE},
        {"detokenize", required_argument, NULL, O_DETOKENIZE},
        {"help", no_argument, NULL, O_HELP},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    int64_t v;
    int rc = 0;
    opterr = 0;
    optind = 1;
    for (int o; (o = getopt_long(argc, argv, "h", opts, NULL)) != -1 && !rc;) {
        switch (o) {
        case O_MODEL: c->model = optarg; break;
        case O_PROMPT:
            c->prompt = optarg;
            c->have_prompt = 1;
            break;
        case O_PROMPT_FILE:
            c->prompt_file = optarg;
            c->have_prompt = 1;
            break;
        case O_SYSTEM: c->system = optarg; break;
        case O_TEMPLATE:
            if (ov_prompt_style_parse(optarg, &c->style) != 0)
                rc = bad("--template wants auto, chat or base (got '%s')", optarg);
            break;
        case O_MAX_TOKENS:
            if (!(rc = num_i64("--max-tokens", optarg, 1, 32768, &v)))
                c->max_tokens = (int)v;
            break;
        case O_TEMP: rc = num_f("--temperature", optarg, 0, 10, &c->temperature); break;
        case O_TOP_P: rc = num_f("--top-p", optarg, 0, 1, &c->top_p); break;
        case O_TOP_K:
            if (!(rc = num_i64("--top-k", optarg, 0, 1 << 24, &v)))
                c->top_k = (int)v;
            break;
        case O_REP: rc = num_f("--repetition-penalty", optarg, 0.01, 100, &c->rep); break;
        case O_SEED:
            if (!(rc = num_i64("--seed", optarg, 0, INT64_MAX, &v)))
                c->seed = (uint64_t)v;
            break;
        case O_DEADLINE: rc = num_i64("--deadline-ms", optarg, 1, 86400000, &c->deadline_ms); break;
        case O_ENHANCE:
            if (ov_enhance_mode_parse(optarg, &c->enhance_mode) != 0)
                rc = bad("--enhance wants video or image (got '%s')", optarg);
            break;
        case O_JSON: c->json = 1; break;
        case O_BACKEND: c->backend = optarg; break;
        case O_CTX: rc = num_i64("--ctx", optarg, 16, 1 << 20, &c->ctx); break;
        case O_VERBOSE: c->verbose = 1; break;
        case O_TOKENIZE: c->tokenize = optarg; break;
        case O_DETOKENIZE: c->detokenize = optarg; break;
        case 'h':
        case O_HELP: usage(stdout); return -1;
        case O_VERSION: printf("ourvidz-qwen 0.1.0 (protocol %d)\n", OV_IPC_PROTOCOL_VERSION); return -1;
        default:
            rc = bad("unknown or incomplete option '%s' (see --help)",
                     argv[optind - 1] ? argv[optind - 1] : "");
        }
    }
    if (rc)
        return rc;
    if (optind < argc)
        return bad("unexpected argument '%s' (see --help)", argv[optind]);
    int modes = (c->tokenize != NULL) + (c->detokenize != NULL) + (c->have_prompt != 0);
    if (modes == 0) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (modes > 1)
        return bad("give one of --prompt, --tokenize, --detokenize");
    if (c->prompt && c->prompt_file)
        return bad("give --prompt or --prompt-file, not both");
    if (!c->model || !*c->model)
        return bad("--model PATH is required (a Qwen2/2.5 HF folder or a .gguf file)");
    if (c->json && c->enhance_mode < 0)
        return bad("--json goes with --enhance");
    return 0;
}

/* Read a whole file ('-' = stdin) up to cap bytes. */
static int read_all(const char *path, size_t cap, ov_buf *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "ourvidz-qwen: %s: %s\n", path, strerror(errno));
        return CLI_USAGE;
    }
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (ov_buf_append(out, chunk, n)) {
            fprintf(stderr, "ourvidz-qwen: %s: over %zu bytes\n", path, cap);
            rc = CLI_USAGE;
        }
    if (!rc && ferror(f)) {
        fprintf(stderr, "ourvidz-qwen: %s: read error\n", path);
        rc = CLI_FAIL;
    }
    if (f != stdin)
        fclose(f);
    if (!rc && !out->data)
        ov_buf_append(out, "", 0);
    return rc;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The tokenizer alone: a HF folder's files (no weights read), else the model (GGUF metadata). */
static int open_tokenizer(const cli *c, ov_tok_qwen **tok, ov_qwen **q)
{
    struct stat st;
    if (stat(c->model, &st) != 0) {
        fprintf(stderr, "ourvidz-qwen: model %s: %s\n", c->model, strerror(errno));
        return CLI_FAIL;
    }
    if (is_dir(c->model)) {
        int rc = ov_tok_qwen_load_dir(tok, c->model);
        if (rc) {
            fprintf(stderr,
                    "ourvidz-qwen: cannot load the tokenizer of %s (tokenizer.json, or vocab.json + "
                    "merges.txt): %s\n",
                    c->model, ov_strerror(rc));
            return CLI_FAIL;
        }
        return 0;
    }
    char err[512] = "";
    ov_qwen_opts o = {.backend_kind = 0, .weight_dtype = -1, .ctx_max = 16};
    int rc = ov_qwen_load(c->model, &o, q, err, sizeof err);
    if (rc) {
        fprintf(stderr, "ourvidz-qwen: cannot load %s: %s\n", c->model, err[0] ? err : ov_strerror(rc));
        return CLI_FAIL;
    }
    *tok = ov_qwen_tokenizer(*q);
    return 0;
}

static int do_tokenize(const cli *c)
{
    ov_tok_qwen *tok = NULL;
    ov_qwen *q = NULL;
    int rc = open_tokenizer(c, &tok, &q);
    if (rc)
        return rc;
    ov_tok_ids ids;
    ov_tok_ids_init(&ids, OV_TOK_QWEN_MAX_INPUT + 16);
    size_t replaced = 0;
    int erc = ov_tok_qwen_encode(tok, c->tokenize, strlen(c->tokenize), 0, &ids, &replaced);
    if (erc) {
        fprintf(stderr, "ourvidz-qwen: --tokenize: %s\n", ov_strerror(erc));
        rc = erc == OV_ERANGE ? CLI_USAGE : CLI_FAIL;
    } else {
        if (replaced)
            fprintf(stderr, "ourvidz-qwen: note: %zu invalid UTF-8 sequence(s) replaced by U+FFFD\n",
                    replaced);
        printf("[");
        for (size_t i = 0; i < ids.len; i++)
            printf(i ? ", %d" : "%d", ids.v[i]);
        printf("]\n");
    }
    ov_tok_ids_free(&ids);
    if (q)
        ov_qwen_free(q);
    else
        ov_tok_qwen_free(tok);
    return rc;
}

/* "[1, 2, 3]" or "1,2,3" (blanks allowed) -> ids. */
static int parse_ids(const char *s, ov_tok_ids *ids, char *err, size_t errlen)
{
    const char *p = s;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    int bracket = *p == '[';
    if (bracket)
        p++;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (bracket && *p == ']' && ids->len == 0) {
            p++;
            break;
        }
        if (!bracket && !*p && ids->len == 0)
            break;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            snprintf(err, errlen, "token id %zu is not a non-negative integer (at '%.20s')", ids->len + 1, p);
            return OV_EINVAL;
        }
        if (ov_tok_ids_push(ids, (int32_t)v)) {
            snprintf(err, errlen, "more than %u ids", CLI_IDS_MAX);
            return OV_ERANGE;
        }
        p = end;
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (bracket && *p == ']') {
            p++;
            break;
        }
        if (!bracket && !*p)
            break;
        snprintf(err, errlen, "expected ',' %s after id %zu (at '%.20s')", bracket ? "or ']'" : "", ids->len,
                 p);
        return OV_EINVAL;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (*p) {
        snprintf(err, errlen, "trailing text after the ids: '%.20s'", p);
        return OV_EINVAL;
    }
    return 0;
}

static int do_detokenize(const cli *c)
{
    ov_tok_ids ids;
    ov_tok_ids_init(&ids, CLI_IDS_MAX);
    char err[160];
    if (parse_ids(c->detokenize, &ids, err, sizeof err) != 0) {
        fprintf(stderr, "ourvidz-qwen: --detokenize: %s\n", err);
        ov_tok_ids_free(&ids);
        return CLI_USAGE;
    }
    ov_tok_qwen *tok = NULL;
    ov_qwen *q = NULL;
    int rc = open_tokenizer(c, &tok, &q);
    if (rc) {
        ov_tok_ids_free(&ids);
        return rc;
    }
    size_t vocab = ov_tok_qwen_vocab_size(tok);
    for (size_t i = 0; i < ids.len && !rc; i++)
        if ((size_t)ids.v[i] >= vocab) {
            fprintf(stderr, "ourvidz-qwen: --detokenize: id %d is outside the vocabulary (0..%zu)\n",
                    ids.v[i], vocab - 1);
            rc = CLI_USAGE;
        }
    ov_buf out;
    ov_buf_init(&out, (size_t)CLI_IDS_MAX * 64);
    if (!rc) {
        int drc = ov_tok_qwen_decode(tok, ids.v, ids.len, 0, &out);
        if (drc) {
            fprintf(stderr, "ourvidz-qwen: --detokenize: %s\n", ov_strerror(drc));
            rc = drc == OV_ENOENT ? CLI_USAGE : CLI_FAIL;
        } else {
            if (out.len)
                fwrite(out.data, 1, out.len, stdout);
            fputc('\n', stdout);
        }
    }
    ov_buf_free(&out);
    ov_tok_ids_free(&ids);
    if (q)
        ov_qwen_free(q);
    else
        ov_tok_qwen_free(tok);
    return rc;
}

static int load_model(const cli *c, ov_qwen **q)
{
    char err[512] = "";
    int kind;
    if (ov_backend_pick(c->backend, &kind, err, sizeof err) != 0) {
        fprintf(stderr, "ourvidz-qwen: %s\n", err);
        return CLI_USAGE;
    }
    ov_qwen_opts o = {.backend_kind = kind, .device = 0, .ctx_max = c->ctx, .weight_dtype = -1};
    int rc = ov_qwen_load(c->model, &o, q, err, sizeof err);
    if (rc) {
        fprintf(stderr, "ourvidz-qwen: cannot load %s: %s\n", c->model, err[0] ? err : ov_strerror(rc));
        return CLI_FAIL;
    }
    if (c->verbose) {
        const ov_qwen_info *i = ov_qwen_get_info(*q);
        fprintf(stderr,
                "ourvidz-qwen: %s (%s): %d layers, hidden %d, heads %d/%d, vocab %lld, ctx %lld, chat "
                "template %s, "
                "loaded in %.2f s\n",
                i->model_id, i->format, i->n_layers, i->hidden, i->n_heads, i->n_kv_heads,
                (long long)i->vocab, (long long)i->ctx_max, i->has_chat_template ? "yes" : "no",
                i->load_seconds);
    }
    return 0;
}

static int print_piece(void *ctx, int32_t id, const char *piece, size_t n)
{
    (void)ctx;
    (void)id;
    if (n)
        fwrite(piece, 1, n, stdout);
    fflush(stdout);
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int do_generate(const cli *c, ov_qwen *q, const char *prompt, size_t plen)
{
    const ov_qwen_info *info = ov_qwen_get_info(q);
    ov_tok_qwen *tok = ov_qwen_tokenizer(q);
    int max_new = c->max_tokens > 0 ? c->max_tokens : 256;
    if (max_new >= info->ctx_max)
        max_new = (int)(info->ctx_max / 2);
    ov_prompt_parts pp = {.style = ov_prompt_style_resolve(c->style, info->has_chat_template),
                          .system = c->system,
                          .user = prompt,
                          .user_len = plen};
    ov_tok_ids ids;
    ov_tok_ids_init(&ids, (size_t)info->ctx_max + 16);
    ov_prompt_info pi;
    int rc = ov_prompt_build(tok, &pp, 0, (size_t)(info->ctx_max - max_new), &ids, &pi);
    if (rc) {
        fprintf(stderr, "ourvidz-qwen: cannot build the prompt: %s\n", ov_strerror(rc));
        ov_tok_ids_free(&ids);
        return rc == OV_ERANGE ? CLI_USAGE : CLI_FAIL;
    }
    if (pi.truncated)
        fprintf(stderr,
                "ourvidz-qwen: note: prompt cut to its first %zu of %zu tokens to fit the context (%lld)\n",
                pi.user_tokens_kept, pi.user_tokens, (long long)info->ctx_max);
    int32_t stops[3];
    size_t ns = 0;
    const char *st[] = {"<|im_end|>", "<|endoftext|>", "<|im_start|>"};
    for (int i = 0; i < 3; i++) {
        int32_t id = ov_tok_qwen_token_id(tok, st[i]);
        if (id >= 0)
            stops[ns++] = id;
    }
    ov_gen_params gp = {.temperature = c->temperature,
                        .top_k = c->top_k,
                        .top_p = c->top_p,
                        .repetition_penalty = c->rep,
                        .seed = c->seed,
                        .max_new_tokens = max_new,
                        .deadline_ms = c->deadline_ms ? mono_ms() + c->deadline_ms : 0,
                        .stop_ids = stops,
                        .n_stop_ids = ns};
    ov_gen_result r = {0};
    rc = ov_qwen_generate(q, ids.v, ids.len, &gp, print_piece, NULL, &r);
    ov_tok_ids_free(&ids);
    if (rc) {
        fprintf(stderr, "\nourvidz-qwen: generation failed: %s\n", ov_strerror(rc));
        return CLI_FAIL;
    }
    if (!r.text_len || r.text[r.text_len - 1] != '\n')
        fputc('\n', stdout);
    fflush(stdout);
    if (c->verbose)
        fprintf(stderr,
                "ourvidz-qwen: %zu prompt tokens (%.1f ms), %zu new tokens (%.1f ms, %.1f tok/s), stop %s\n",
                r.prompt_tokens, r.prefill_ms, r.n_ids, r.decode_ms,
                r.decode_ms > 0 ? (double)r.n_ids * 1000.0 / r.decode_ms : 0.0, ov_enhance_stop_name(r.stop));
    if (r.stop == OV_GEN_STOP_DEADLINE)
        fprintf(stderr, "ourvidz-qwen: note: stopped at the deadline (%lld ms)\n", (long long)c->deadline_ms);
    ov_gen_result_free(&r);
    return CLI_OK;
}

static int do_enhance(const cli *c, ov_qwen *q, const char *prompt, size_t plen)
{
    ov_enhance_cfg cfg;
    char err[512] = "";
    int rc = ov_enhance_cfg_load_default(&cfg, err, sizeof err);
    if (rc) {
        fprintf(stderr, "ourvidz-qwen: enhancement settings: %s\n", err[0] ? err : ov_strerror(rc));
        return CLI_FAIL;
    }
    if (c->system) {
        free(cfg.system[c->enhance_mode]);
        cfg.system[c->enhance_mode] = strdup(c->system);
        snprintf(cfg.source[c->enhance_mode], sizeof cfg.source[c->enhance_mode], "--system");
        if (!cfg.system[c->enhance_mode]) {
            ov_enhance_cfg_free(&cfg);
            return CLI_FAIL;
        }
    }
    /* Explicit sampling flags override enhance.conf. */
    if (c->top_k >= 0)
        cfg.top_k = c->top_k;
    if (c->top_p >= 0)
        cfg.top_p = c->top_p;
    if (c->rep > 0)
        cfg.repetition_penalty = c->rep;
    ov_enhance_req req = {.prompt = prompt,
                          .prompt_len = plen,
                          .mode = c->enhance_mode,
                          .style = c->style,
                          .deadline_ms = c->deadline_ms,
                          .max_new_tokens = c->max_tokens,
                          .seed = c->seed,
                          .temperature = c->temperature};
    ov_enhance_result r;
    rc = ov_enhance_run(q, &cfg, &req, &r, err, sizeof err);
    if (rc) {
        fprintf(stderr, "ourvidz-qwen: %s\n", err[0] ? err : ov_strerror(rc));
        ov_enhance_result_free(&r);
        ov_enhance_cfg_free(&cfg);
        return rc == OV_EINVAL ? CLI_USAGE : CLI_FAIL;
    }
    if (c->json) {
        ov_buf j;
        ov_buf_init(&j, 1u << 24);
        int e = 0;
        e |= ov_buf_puts(&j, "{") | ov_json_key(&j, "enhanced") | ov_json_bool(&j, r.enhanced);
        e |= ov_buf_puts(&j, ",") | ov_json_key(&j, "prompt") | ov_json_str(&j, r.text);
        e |= ov_buf_puts(&j, ",") | ov_json_key(&j, "fallback_reason");
        e |= r.enhanced ? ov_buf_puts(&j, "null") : ov_json_str(&j, r.reason);
        e |= ov_buf_puts(&j, ",") | ov_json_key(&j, "raw") | ov_json_str(&j, r.raw);
        e |= ov_buf_puts(&j, ",") | ov_json_key(&j, "mode") | ov_json_str(&j, ov_enhance_mode_name(r.mode));
        e |= ov_buf_puts(&j, ",") | ov_json_key(&j, "template") |
             ov_json_str(&j, ov_prompt_style_name(r.style));
        e |= ov_buf_puts(&j, ",") | ov_json_key(&j, "prompt_source") | ov_json_str(&j, cfg.source[r.mode]);
        e |= ov_buf_puts(&j, ",") | ov_json_key(&j, "seed") | ov_json_int(&j, (int64_t)c->seed);
        e |=
            ov_buf_puts(&j, ",") | ov_json_key(&j, "input_tokens") | ov_json_int(&j, (int64_t)r.input_tokens);
        e |= ov_buf_puts(&j, ",") | ov_json_key(&j, "input_tokens_used") |
             ov_json_int(&j, (int64_t)r.input_tokens_used);
        e |= ov_buf_puts(&j, ",") | ov_json_key(&j, "input_truncated") | ov_json_bool(&j, r.input_truncated);
        e |= ov_buf_puts(&j, ",") | ov_json_key(&j, "prompt_tokens") |
             ov_json_int(&j, (int64_t)r.prompt_tokens);
        e |= ov_buf_puts(&j, ",") | ov_json_key(&j, "new_tokens") | ov_json_int(&j, (int64_t)r.new_tokens);
        e |= ov_buf_puts(&j, ",") | ov_json_key(&j, "stop") | ov_json_str(&j, ov_enhance_stop_name(r.stop));
        e |= ov_buf_puts(&j, ",") | ov_json_key(&j, "generation_time") |
             ov_json_double(&j, r.total_ms / 1000.0);
        e |= ov_buf_puts(&j, "}\n");
        if (e)
            rc = CLI_FAIL;
        else
            fwrite(j.data, 1, j.len, stdout);
        ov_buf_free(&j);
    } else {
        printf("%s\n", r.text);
    }
    if (!r.enhanced)
        fprintf(stderr, "ourvidz-qwen: enhancement fell back to the original prompt: %s\n", r.reason);
    else if (r.input_truncated)
        fprintf(stderr, "ourvidz-qwen: note: prompt cut to its first %zu of %zu tokens\n",
                r.input_tokens_used, r.input_tokens);
    ov_enhance_result_free(&r);
    ov_enhance_cfg_free(&cfg);
    return rc;
}

int ov_qwen_cli_main(int argc, char **argv)
{
    cli c = {
        .style = OV_PROMPT_AUTO, .enhance_mode = -1, .top_k = -1, .temperature = -1, .top_p = -1, .rep = -1};
    int rc = parse(&c, argc, argv);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if (c.tokenize)
        return do_tokenize(&c);
    if (c.detokenize)
        return do_detokenize(&c);
    ov_buf text;
    ov_buf_init(&text, CLI_PROMPT_MAX);
    const char *prompt = c.prompt;
    size_t plen = prompt ? strlen(prompt) : 0;
    if (c.prompt_file || (prompt && strcmp(prompt, "-") == 0)) {
        if ((rc = read_all(c.prompt_file ? c.prompt_file : "-", CLI_PROMPT_MAX, &text))) {
            ov_buf_free(&text);
            return rc;
        }
        prompt = text.data;
        plen = text.len;
    }
    size_t k = 0;
    while (k < plen && (prompt[k] == ' ' || prompt[k] == '\n' || prompt[k] == '\t' || prompt[k] == '\r'))
        k++;
    if (k == plen) {
        fprintf(stderr, "ourvidz-qwen: the prompt is empty\n");
        ov_buf_free(&text);
        return CLI_USAGE;
    }
    if (!ov_utf8_valid((const uint8_t *)prompt, plen) || memchr(prompt, '\0', plen)) {
        fprintf(stderr, "ourvidz-qwen: the prompt is not valid UTF-8 text\n"); /* checked before the load */
        ov_buf_free(&text);
        return CLI_USAGE;
    }
    ov_qwen *q = NULL;
    if ((rc = load_model(&c, &q))) {
        ov_buf_free(&text);
        return rc;
    }
    if (c.enhance_mode >= 0) {
        rc = do_enhance(&c, q, prompt, plen);
    } else {
        /* Plain generation defaults: Qwen2.5-Instruct generation_config.json (REFERENCE-MODELS.md C.7). */
        if (c.temperature < 0)
            c.temperature = 0.7f;
        if (c.top_p < 0)
            c.top_p = 0.8f;
        if (c.top_k < 0)
            c.top_k = 20;
        if (c.rep < 0)
            c.rep = 1.05f;
        rc = do_generate(&c, q, prompt, plen);
    }
    ov_qwen_free(q);
    ov_buf_free(&text);
    return rc;
}
