/* SDXL samplers: the discrete schedule and Euler / Euler-a / DPM++ 2M (Karras) steps, as diffusers. */
#include "sampler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define BETA_START 0.00085
#define BETA_END 0.012
#define STEPS_OFFSET 1

static void vp(float sigma, float *alpha_t, float *sigma_t, float *lambda);

static const char *const k_names[OV_SDXL_SAMPLER_COUNT] = {"euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras"};
static const char *const k_a1111[OV_SDXL_SAMPLER_COUNT] = {"Euler", "Euler a", "DPM++ 2M", "DPM++ 2M Karras"};
static const char *const k_diffusers[OV_SDXL_SAMPLER_COUNT] = {
    "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler",
    "DPMSolverMultistepScheduler(use_karras_sigmas=True)"};

/* Aliases after normalisation (lower case, ' ' and '-' -> '_'). */
static const struct {
    const char *name;
    int kind;
} k_aliases[] = {
    {"euler", OV_SDXL_EULER},
    {"k_euler", OV_SDXL_EULER},
    {"eulerdiscretescheduler", OV_SDXL_EULER},
    {"euler_a", OV_SDXL_EULER_A},
    {"euler_ancestral", OV_SDXL_EULER_A},
    {"k_euler_a", OV_SDXL_EULER_A},
    {"k_euler_ancestral", OV_SDXL_EULER_A},
    {"eulerancestraldiscretescheduler", OV_SDXL_EULER_A},
    {"dpmpp_2m", OV_SDXL_DPMPP_2M},
    {"dpm++_2m", OV_SDXL_DPMPP_2M},
    {"k_dpmpp_2m", OV_SDXL_DPMPP_2M},
    {"dpmsolvermultistepscheduler", OV_SDXL_DPMPP_2M},
    {"dpmpp_2m_karras", OV_SDXL_DPMPP_2M_KARRAS},
    {"dpm++_2m_karras", OV_SDXL_DPMPP_2M_KARRAS},
    {"k_dpmpp_2m_karras", OV_SDXL_DPMPP_2M_KARRAS},
};

int ov_sdxl_sampler_parse(const char *name, int *kind, char *err, size_t errlen)
{
    if (!name || !name[0]) {
        *kind = OV_SDXL_EULER;
        return 0;
    }
    char low[48];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof low; i++) {
        char c = name[i];
        low[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : (c == ' ' || c == '-') ? '_' : c);
    }
    low[i] = '\0';
    if (!name[i]) {
        for (size_t k = 0; k < sizeof k_aliases / sizeof k_aliases[0]; k++) {
            if (strcmp(low, k_aliases[k].name) == 0) {
                *kind = k_aliases[k].kind;
                return 0;
            }
        }
    }
    if (err && errlen)
        snprintf(
            err, errlen,
            "unknown sampler \"%.40s\" (use euler, euler_a, dpmpp_2m or dpmpp_2m_karras; A1111 and diffusers "
            "names are accepted too)",
            name);
    return OV_EINVAL;
}

const char *ov_sdxl_sampler_name(int kind)
{
    return kind >= 0 && kind < OV_SDXL_SAMPLER_COUNT ? k_names[kind] : "unknown";
}

const char *ov_sdxl_sampler_a1111_name(int kind)
{
    return kind >= 0 && kind < OV_SDXL_SAMPLER_COUNT ? k_a1111[kind] : "unknown";
}

const char *ov_sdxl_sampler_diffusers_name(int kind)
{
    return kind >= 0 && kind < OV_SDXL_SAMPLER_COUNT ? k_diffusers[kind] : "unknown";
}

/* diffusers __init__: betas = torch.linspace(√start, √end, 1000, dtype=float32) ** 2. torch's CPU
 * linspace computes step = (end − start)/(n − 1) in float and each value as fma(step, i, start) for
 * the first half and fma(−step, n − 1 − i, end) for the second (checked bit for bit against
 * torch 2.15); cumprod accumulates in double (at::acc_type<float, false>) and stores float. */
void ov_sdxl_train_schedule(float alphas_cumprod[OV_SDXL_TRAIN_STEPS], float sigmas[OV_SDXL_TRAIN_STEPS])
{
    const int n = OV_SDXL_TRAIN_STEPS;
    const float start = (float)sqrt(BETA_START), end = (float)sqrt(BETA_END);
    const float step = (end - start) / (float)(n - 1);
    double acc = 1.0;
    for (int i = 0; i < n; i++) {
        float b = i < n / 2 ? fmaf(step, (float)i, start) : fmaf(-step, (float)(n - 1 - i), end);
        float beta = b * b;
        float alpha = 1.0f - beta;
        acc *= (double)alpha;
        float ac = (float)acc;
        if (alphas_cumprod)
            alphas_cumprod[i] = ac;
        if (sigmas)
            sigmas[i] = sqrtf((1.0f - ac) / ac);
    }
}

/* diffusers _sigma_to_t: the (fractional) training step whose log-sigma brackets log(sigma),
 * linearly interpolated in log space. log_sigmas is np.log of the float32 table (float32). */
static double sigma_to_t(double sigma, const float *log_sigmas)
{
    double ls = log(sigma > 1e-10 ? sigma : 1e-10);
    int low = 0;
    for (int i = 0; i < OV_SDXL_TRAIN_STEPS; i++)
        if (ls - (double)log_sigmas[i] >= 0)
            low = i; /* cumsum(dists >= 0).argmax(): the last index with log_sigmas[i] <= ls */
    if (low > OV_SDXL_TRAIN_STEPS - 2)
        low = OV_SDXL_TRAIN_STEPS - 2;
    int high = low + 1;
    double lo = log_sigmas[low], hi = log_sigmas[high];
    double w = (lo - ls) / (lo - hi);
    w = w < 0 ? 0 : w > 1 ? 1 : w;
    return (1 - w) * low + w * high;
}

int ov_sdxl_schedule_init(ov_sdxl_schedule *s, int kind, int steps)
{
    if (kind < 0 || kind >= OV_SDXL_SAMPLER_COUNT || steps < 1 || steps > OV_SDXL_STEPS_MAX)
        return OV_EINVAL;
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->steps = steps;
    float table[OV_SDXL_TRAIN_STEPS];
    ov_sdxl_train_schedule(NULL, table);
    if (kind == OV_SDXL_EULER || kind == OV_SDXL_EULER_A) {
        /* "leading": (arange(n) * (1000 // n)).round()[::-1] + steps_offset; sigmas interpolated
         * linearly at those integer timesteps (= the table entries), then 0. */
        int ratio = OV_SDXL_TRAIN_STEPS / steps;
        for (int i = 0; i < steps; i++) {
            int t = (steps - 1 - i) * ratio + STEPS_OFFSET;
            s->timesteps[i] = (float)t;
            s->sigmas[i] = table[t];
        }
        s->sigmas[steps] = 0.0f;
        float smax = s->sigmas[0];
        s->init_noise_sigma = sqrtf(smax * smax + 1.0f);
        return 0;
    }
    s->init_noise_sigma = 1.0f;
    if (kind == OV_SDXL_DPMPP_2M) {
        /* DPMSolverMultistepScheduler "leading": step_ratio = 1000 // (n + 1),
         * (arange(n + 1) * ratio).round()[::-1][:-1] + steps_offset. */
        int ratio = OV_SDXL_TRAIN_STEPS / (steps + 1);
        for (int i = 0; i < steps; i++) {
            int t = (steps - i) * ratio + STEPS_OFFSET;
            s->timesteps[i] = (float)t;
            s->sigmas[i] = table[t];
        }
        s->sigmas[steps] = 0.0f;
        return 0;
    }
    /* Karras (EDM) sigmas between the table's ends, rho 7, computed in double
     * (_convert_to_karras); timesteps = round(_sigma_to_t(sigma)) (numpy rounds half to even). */
    float log_sigmas[OV_SDXL_TRAIN_STEPS];
    for (int i = 0; i < OV_SDXL_TRAIN_STEPS; i++)
        log_sigmas[i] = (float)log((double)table[i]);
    const double rho = 7.0;
    double sigma_min = table[0], sigma_max = table[OV_SDXL_TRAIN_STEPS - 1];
    double min_inv = pow(sigma_min, 1.0 / rho), max_inv = pow(sigma_max, 1.0 / rho);
    for (int i = 0; i < steps; i++) {
        /* np.linspace(0, 1, n): i * (1 / (n − 1)), last exactly 1; [0] for n = 1. */
        double ramp = steps == 1 ? 0.0 : (i == steps - 1 ? 1.0 : (double)i * (1.0 / (double)(steps - 1)));
        double sigma = pow(max_inv + ramp * (min_inv - max_inv), rho);
        s->sigmas[i] = (float)sigma;
        s->timesteps[i] = (float)nearbyint(sigma_to_t(sigma, log_sigmas));
    }
    s->sigmas[steps] = 0.0f;
    return 0;
}

float ov_sdxl_schedule_input_divisor(const ov_sdxl_schedule *s, int i)
{
    if (s->kind == OV_SDXL_DPMPP_2M || s->kind == OV_SDXL_DPMPP_2M_KARRAS)
        return 1.0f;
    float sigma = s->sigmas[i];
    return sqrtf(sigma * sigma + 1.0f);
}

int ov_sdxl_img2img_begin(int steps, double strength)
{
    if (steps < 1 || steps > OV_SDXL_STEPS_MAX || !(strength >= 0.0) || !(strength <= 1.0))
        return -1;
    int init = (int)((double)steps * strength); /* Python int(): truncation toward zero */
    if (init > steps)
        init = steps;
    if (init < 1)
        init = 1;
    return steps - init;
}

void ov_sdxl_schedule_add_noise(const ov_sdxl_schedule *s, int i, const float *x0, const float *noise, float *out,
                                size_t n)
{
    const float sigma = s->sigmas[i];
    if (s->kind == OV_SDXL_DPMPP_2M || s->kind == OV_SDXL_DPMPP_2M_KARRAS) {
        float alpha_t, sigma_t, lambda;
        vp(sigma, &alpha_t, &sigma_t, &lambda);
        for (size_t k = 0; k < n; k++)
            out[k] = alpha_t * x0[k] + sigma_t * noise[k];
        return;
    }
    for (size_t k = 0; k < n; k++)
        out[k] = x0[k] + noise[k] * sigma;
}

int ov_sdxl_sampler_needs_noise(int kind)
{
    return kind == OV_SDXL_EULER_A;
}

int ov_sdxl_sampler_init(ov_sdxl_sampler *sp, const ov_sdxl_schedule *s, size_t n)
{
    memset(sp, 0, sizeof *sp);
    if (!s || n == 0)
        return OV_EINVAL;
    sp->sch = s;
    sp->n = n;
    if (s->kind == OV_SDXL_DPMPP_2M || s->kind == OV_SDXL_DPMPP_2M_KARRAS) {
        sp->prev_x0 = malloc(n * sizeof(float));
        if (!sp->prev_x0)
            return OV_ENOMEM;
    }
    return 0;
}

void ov_sdxl_sampler_free(ov_sdxl_sampler *sp)
{
    free(sp->prev_x0);
    memset(sp, 0, sizeof *sp);
}

int ov_sdxl_sampler_begin_at(ov_sdxl_sampler *sp, int begin)
{
    if (!sp->sch || sp->next_step != 0 || sp->lower_order_nums != 0 || begin < 0 || begin >= sp->sch->steps)
        return OV_EINVAL;
    sp->next_step = begin;
    return 0;
}

/* EulerDiscreteScheduler.step with s_churn 0 (gamma 0, sigma_hat = sigma). */
static void step_euler(const ov_sdxl_schedule *s, int i, const float *eps, float *x, size_t n)
{
    const float sigma = s->sigmas[i];
    const float dt = s->sigmas[i + 1] - sigma;
    for (size_t k = 0; k < n; k++) {
        float pred = x[k] - sigma * eps[k];
        float derivative = (x[k] - pred) / sigma;
        x[k] = x[k] + derivative * dt;
    }
}

/* EulerAncestralDiscreteScheduler.step: to sigma_down deterministically, then noise · sigma_up. */
static void step_euler_a(const ov_sdxl_schedule *s, int i, const float *eps, float *x, const float *noise,
                         size_t n)
{
    const float sigma = s->sigmas[i];
    const float from = sigma, to = s->sigmas[i + 1];
    const float up = sqrtf(to * to * (from * from - to * to) / (from * from));
    const float down = sqrtf(to * to - up * up);
    const float dt = down - sigma;
    for (size_t k = 0; k < n; k++) {
        float pred = x[k] - sigma * eps[k];
        float derivative = (x[k] - pred) / sigma;
        float prev = x[k] + derivative * dt;
        x[k] = prev + noise[k] * up;
    }
}

/* _sigma_to_alpha_sigma_t and lambda = log(alpha) − log(sigma), in float32 like the 0-d tensors
 * diffusers uses. sigma 0 gives lambda +inf, which the first-order update turns into x = x0. */
static void vp(float sigma, float *alpha_t, float *sigma_t, float *lambda)
{
    float a = 1.0f / sqrtf(sigma * sigma + 1.0f);
    float st = sigma * a;
    *alpha_t = a;
    *sigma_t = st;
    *lambda = logf(a) - logf(st);
}

/* DPMSolverMultistepScheduler.step, algorithm dpmsolver++, solver_order 2, midpoint,
 * lower_order_final True, euler_at_final False, final_sigmas_type "zero": the first step and
 * the last step are first order (the last because the final sigma is zero), the others second
 * order from this and the previous x0 prediction. */
static void step_dpmpp_2m(ov_sdxl_sampler *sp, int i, const float *eps, float *x)
{
    const ov_sdxl_schedule *s = sp->sch;
    const size_t n = sp->n;
    float alpha_s0, sigma_s0, lambda_s0, alpha_t, sigma_t, lambda_t;
    vp(s->sigmas[i], &alpha_s0, &sigma_s0, &lambda_s0);
    vp(s->sigmas[i + 1], &alpha_t, &sigma_t, &lambda_t);
    const int last = i == s->steps - 1;
    const float h = lambda_t - lambda_s0;
    const float c_x = sigma_t / sigma_s0;
    const float c_d0 = alpha_t * (expf(-h) - 1.0f);
    if (sp->lower_order_nums < 1 || last) {
        for (size_t k = 0; k < n; k++) {
            float x0 = (x[k] - sigma_s0 * eps[k]) / alpha_s0; /* convert_model_output */
            sp->prev_x0[k] = x0;
            x[k] = c_x * x[k] - c_d0 * x0;
        }
    } else {
        float alpha_s1, sigma_s1, lambda_s1;
        vp(s->sigmas[i - 1], &alpha_s1, &sigma_s1, &lambda_s1);
        const float h_0 = lambda_s0 - lambda_s1;
        const float r0 = h_0 / h;
        const float inv_r0 = 1.0f / r0;
        const float c_d1 = 0.5f * c_d0;
        for (size_t k = 0; k < n; k++) {
            float m0 = (x[k] - sigma_s0 * eps[k]) / alpha_s0;
            float d1 = inv_r0 * (m0 - sp->prev_x0[k]);
            sp->prev_x0[k] = m0;
            x[k] = c_x * x[k] - c_d0 * m0 - c_d1 * d1;
        }
    }
    if (sp->lower_order_nums < 2)
        sp->lower_order_nums++;
}

int ov_sdxl_sampler_step(ov_sdxl_sampler *sp, int i, const float *eps, float *x, const float *noise)
{
    const ov_sdxl_schedule *s = sp->sch;
    if (!s || i != sp->next_step || i < 0 || i >= s->steps || !eps || !x)
        return OV_EINVAL;
    switch (s->kind) {
    case OV_SDXL_EULER: step_euler(s, i, eps, x, sp->n); break;
    case OV_SDXL_EULER_A:
        if (!noise)
            return OV_EINVAL;
        step_euler_a(s, i, eps, x, noise, sp->n);
        break;
    case OV_SDXL_DPMPP_2M:
    case OV_SDXL_DPMPP_2M_KARRAS: step_dpmpp_2m(sp, i, eps, x); break;
    default: return OV_EINVAL;
    }
    sp->next_step++;
    return 0;
}
