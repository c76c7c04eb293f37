/* Benchmark: Qwen2 model load (s, bytes/s), prefill tok/s and decode tok/s on the CPU backend
 * (default) or the GPU (--backend cuda; e.g. on `ourvidz-mkmodel qwen --preset 7b`).
 * Compare with llama.cpp: tests/golden/qwen/bench_llama_cpp.py runs the same prompt ids on the
 * same GGUF at the same thread count (OURVIDZ_CPU_THREADS here, --threads there). */
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "workers/qwen/qwen.h"
#include "common/tensor/backend.h"

/* The prompt both benchmarks feed: deterministic ids spread over the regular vocabulary. */
static void bench_ids(int32_t *ids, int n)
{
    for (int i = 0; i < n; i++)
        ids[i] = (int32_t)(((int64_t)i * 7919 + 13) % 150000);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int make_tiny(const char *self, char *out, size_t cap)
{
    char bin[PATH_MAX];
    const char *bd = getenv("OURVIDZ_BIN_DIR");
    if (bd) {
        snprintf(bin, sizeof bin, "%s/ourvidz-mkmodel", bd);
    } else {
        const char *slash = strrchr(self, '/');
        snprintf(bin, sizeof bin, "%.*s/../bin/ourvidz-mkmodel", slash ? (int)(slash - self) : 1,
                 slash ? self : ".");
    }
    snprintf(out, cap, "/tmp/ov_bench_qwenXXXXXX");
    if (!mkdtemp(out))
        return OV_EIO;
    size_t len = strlen(out);
    snprintf(out + len, cap - len, "/tiny");
    pid_t pid = fork();
    if (pid == 0) {
        execl(bin, bin, "qwen", "--preset", "tiny", "--out", out, "--no-gguf", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "bench_qwen: %s failed (set OURVIDZ_BIN_DIR)\n", bin);
        return OV_EIO;
    }
    return 0;
}

/* Logits of the first 16 bench ids, [16, vocab] f32 raw, for tests/golden/qwen/check_model.py. */
static int dump_logits(ov_qwen *q, const char *file)
{
    enum { N = 16 };
    int32_t ids[N];
    bench_ids(ids, N);
    int64_t V = ov_qwen_get_info(q)->vocab;
    float *lg = malloc((size_t)(N * V) * sizeof *lg);
    int rc = lg ? ov_qwen_logits(q, ids, N, lg) : OV_ENOMEM;
    FILE *f = rc ? NULL : fopen(file, "wb");
    if (!rc && (!f || fwrite(lg, sizeof *lg, (size_t)(N * V), f) != (size_t)(N * V)))
        rc = OV_EIO;
    if (f && fclose(f))
        rc = OV_EIO;
    free(lg);
    if (!rc)
        printf("  logits of %d tokens written to %s\n", N, file);
    return rc;
}

static const char *g_logits_file;
static int g_backend_kind; /* enum ov_backend_kind */

static int bench_one(const char *path, int prompt_tokens, int decode_tokens, int reps)
{
    char err[512];
    ov_qwen *q = NULL;
    ov_qwen_opts o = {
        .backend_kind = g_backend_kind, .ctx_max = prompt_tokens + decode_tokens + 8, .weight_dtype = -1};
    int rc = ov_qwen_load(path, &o, &q, err, sizeof err);
    if (rc) {
        fprintf(stderr, "bench_qwen: %s\n", err);
        return rc;
    }
    const ov_qwen_info *in = ov_qwen_get_info(q);
    printf("model %s: %d layers, hidden %d, %d/%d heads, weights %.1f MB on the backend\n", in->model_id,
           in->n_layers, in->hidden, in->n_heads, in->n_kv_heads, (double)in->weight_bytes / 1e6);
    printf("  load %.2f s, %.0f MB/s read\n", in->load_seconds, in->load_bytes_per_s / 1e6);
    if (g_logits_file && (rc = dump_logits(q, g_logits_file))) {
        ov_qwen_free(q);
        return rc;
    }
    int32_t *ids = malloc((size_t)prompt_tokens * sizeof *ids);
    bench_ids(ids, prompt_tokens);
    double best_pf = 0, best_dec = 0, *all_dec = calloc((size_t)(reps > 0 ? reps : 1), sizeof *all_dec);
    size_t n_dec = 0;
    int n_runs = 0;
    for (int r = 0; r < reps && !rc; r++) {
        ov_gen_params p = {
            .temperature = 0, .top_p = 1, .repetition_penalty = 1, .max_new_tokens = decode_tokens};
        int32_t none = -1;
        p.stop_ids = &none;
        ov_gen_result res;
        if ((rc = ov_qwen_generate(q, ids, (size_t)prompt_tokens, &p, NULL, NULL, &res))) {
            fprintf(stderr, "bench_qwen: generate: %d\n", rc);
            break;
        }
        double pf = prompt_tokens / (res.prefill_ms / 1e3);
        double dec = res.n_ids > 1 ? (double)(res.n_ids - 1) / (res.decode_ms / 1e3) : 0;
        if (pf > best_pf)
            best_pf = pf;
        if (dec > best_dec)
            best_dec = dec;
        if (all_dec)
            all_dec[n_runs] = dec;
        n_runs++;
        n_dec = res.n_ids;
        ov_gen_result_free(&res);
    }
    if (!rc) {
        /* the decode median too (the lower middle run for an even count) */
        double med = 0;
        if (all_dec && n_runs > 0) {
            for (int a = 1; a < n_runs; a++)
                for (int b = a; b > 0 && all_dec[b - 1] > all_dec[b]; b--) {
                    double t = all_dec[b];
                    all_dec[b] = all_dec[b - 1];
                    all_dec[b - 1] = t;
                }
            med = all_dec[(n_runs - 1) / 2];
        }
        printf("  prefill %d tokens: %.1f tok/s; decode %zu tokens: %.2f tok/s (best of %d; decode median %.2f)\n",
               prompt_tokens, best_pf, n_dec, best_dec, reps, med);
    }
    free(all_dec);
    free(ids);
    ov_qwen_free(q);
    return rc;
}

int main(int argc, char **argv)
{
    int prompt_tokens = 128, decode_tokens = 32, reps = 3, n_paths = 0;
    const char *paths[16], *backend = "cpu";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--prompt") && i + 1 < argc)
            prompt_tokens = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--decode") && i + 1 < argc)
            decode_tokens = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--logits") && i + 1 < argc)
            g_logits_file = argv[++i];
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc)
            backend = argv[++i];
        else if (!strcmp(argv[i], "--help")) {
            printf(
                "usage: bench_qwen [--prompt N] [--decode N] [--reps N] [--backend cpu|cuda|auto] [--logits FILE]\n"
                "                  [MODEL (HF folder or .gguf)...]\n"
                "Without MODEL: a tiny model from ourvidz-mkmodel, plus $OURVIDZ_QWEN_BENCH_MODEL if set.\n"
                "Threads: OURVIDZ_CPU_THREADS (default: online CPUs).\n");
            return 0;
        } else if (n_paths < 16)
            paths[n_paths++] = argv[i];
    }
    if (prompt_tokens < 1 || decode_tokens < 2 || reps < 1)
        return 2;
    char berr[256];
    if (ov_backend_pick(backend, &g_backend_kind, berr, sizeof berr)) {
        fprintf(stderr, "bench_qwen: %s\n", berr);
        return 2;
    }
    static char tiny[PATH_MAX];
    if (!n_paths) {
        if (make_tiny(argv[0], tiny, sizeof tiny))
            return 1;
        paths[n_paths++] = tiny;
        if (getenv("OURVIDZ_QWEN_BENCH_MODEL"))
            paths[n_paths++] = getenv("OURVIDZ_QWEN_BENCH_MODEL");
    }
    if (g_backend_kind == OV_BACKEND_CPU)
        printf("bench_qwen: CPU backend, threads %s; %s\n",
               getenv("OURVIDZ_CPU_THREADS") ? getenv("OURVIDZ_CPU_THREADS") : "(online CPUs)", ov_cpu_blas_info());
    else
        printf("bench_qwen: %s backend\n", backend);
    int rc = 0;
    for (int i = 0; i < n_paths && !rc; i++)
        rc = bench_one(paths[i], prompt_tokens, decode_tokens, reps);
    if (tiny[0]) { /* the temp folder mkdtemp made above tiny/ */
        char *slash = strrchr(tiny, '/');
        *slash = '\0';
        nftw(tiny, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    }
    return rc ? 1 : 0;
}
