/* cuDNN loaded at run time (see cudnn_loader.h): dlopen once per process, every function conv_cuda.cu
 * uses resolved with dlsym into one table; any failure leaves the table unset (conv2d keeps im2col).
 * Reference: the cuDNN 9 legacy convolution API (cudnn_cnn.h / cudnn_ops.h of the toolkit). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/tensor/cuda/backend_cuda.h"
#include "common/tensor/cuda/cudnn_loader.h"

#ifdef OV_HAVE_CUDNN

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static ov_cudnn_api g_api;
static int g_ok;

/* dlsym into a typed slot; 0 or -1 (name missing). */
template <typename F> static int sym(void *lib, F *slot, const char *name)
{
    void *p = dlsym(lib, name);
    *slot = (F)p;
    return p ? 0 : -1;
}

/* The first library of the list that opens; NULL (and why in err) when none does. */
static void *open_lib(char *path, size_t path_n, char *err, size_t err_n)
{
    const char *names[3] = {getenv("OURVIDZ_CUDNN_LIB"), "libcudnn.so.9", "libcudnn.so"};
    err[0] = '\0';
    for (int i = 0; i < 3; i++) {
        if (!names[i] || !names[i][0])
            continue;
        void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (lib) {
            snprintf(path, path_n, "%s", names[i]);
            return lib;
        }
        const char *e = dlerror();
        if (!err[0]) /* the first reason is the telling one ($OURVIDZ_CUDNN_LIB or libcudnn.so.9) */
            snprintf(err, err_n, "%s", e ? e : names[i]);
    }
    return NULL;
}

static void load(void)
{
    char path[256], err[256];
    void *lib = open_lib(path, sizeof path, err, sizeof err);
    if (!lib) {
        fprintf(stderr, "cuda: cuDNN not available (%s), conv2d uses im2col\n", err);
        return;
    }
    ov_cudnn_api a;
    const char *missing = NULL;
#define SYM(field, name)                                                                                     \
    if (!missing && sym(lib, &a.field, name))                                                                \
        missing = name;
    SYM(GetVersion, "cudnnGetVersion")
    SYM(GetErrorString, "cudnnGetErrorString")
    SYM(Create, "cudnnCreate")
    SYM(Destroy, "cudnnDestroy")
    SYM(SetStream, "cudnnSetStream")
    SYM(CreateTensorDescriptor, "cudnnCreateTensorDescriptor")
    SYM(SetTensor4dDescriptor, "cudnnSetTensor4dDescriptor")
    SYM(DestroyTensorDescriptor, "cudnnDestroyTensorDescriptor")
    SYM(CreateFilterDescriptor, "cudnnCreateFilterDescriptor")
    SYM(SetFilter4dDescriptor, "cudnnSetFilter4dDescriptor")
    SYM(DestroyFilterDescriptor, "cudnnDestroyFilterDescriptor")
    SYM(CreateConvolutionDescriptor, "cudnnCreateConvolutionDescriptor")
    SYM(SetConvolution2dDescriptor, "cudnnSetConvolution2dDescriptor")
    SYM(SetConvolutionGroupCount, "cudnnSetConvolutionGroupCount")
    SYM(SetConvolutionMathType, "cudnnSetConvolutionMathType")
    SYM(GetConvolution2dForwardOutputDim, "cudnnGetConvolution2dForwardOutputDim")
    SYM(DestroyConvolutionDescriptor, "cudnnDestroyConvolutionDescriptor")
    SYM(GetConvolutionForwardAlgorithm_v7, "cudnnGetConvolutionForwardAlgorithm_v7")
    SYM(FindConvolutionForwardAlgorithmEx, "cudnnFindConvolutionForwardAlgorithmEx")
    SYM(GetConvolutionForwardWorkspaceSize, "cudnnGetConvolutionForwardWorkspaceSize")
    SYM(ConvolutionForward, "cudnnConvolutionForward")
#undef SYM
    /* optional: the graph API (fused attention); all or none */
    const int graph = !sym(lib, &a.BackendCreateDescriptor, "cudnnBackendCreateDescriptor") &&
                      !sym(lib, &a.BackendDestroyDescriptor, "cudnnBackendDestroyDescriptor") &&
                      !sym(lib, &a.BackendSetAttribute, "cudnnBackendSetAttribute") &&
                      !sym(lib, &a.BackendGetAttribute, "cudnnBackendGetAttribute") &&
                      !sym(lib, &a.BackendFinalize, "cudnnBackendFinalize") &&
                      !sym(lib, &a.BackendExecute, "cudnnBackendExecute");
    if (!graph)
        a.BackendCreateDescriptor = NULL;
    if (missing) {
        fprintf(stderr, "cuda: cuDNN not available (%s lacks %s), conv2d uses im2col\n", path, missing);
        dlclose(lib);
        return;
    }
    a.version = a.GetVersion();
    /* the table's types (perf structs, enums) are cuDNN 9's: another major is refused */
    if (a.version / 10000 != CUDNN_MAJOR) {
        fprintf(stderr, "cuda: cuDNN not available (%s is version %zu, built for %d.x), conv2d uses im2col\n",
                path, a.version, CUDNN_MAJOR);
        dlclose(lib);
        return;
    }
    g_api = a;
    g_ok = 1; /* the library stays loaded for the process */
    fprintf(stderr, "cuda: cuDNN %zu.%zu.%zu loaded for conv2d (%s)\n", a.version / 10000,
            a.version / 100 % 100, a.version % 100, path);
}

const ov_cudnn_api *ov_cudnn_get(void)
{
    if (pthread_once(&g_once, load) != 0)
        return NULL;
    return g_ok ? &g_api : NULL;
}

int ov_cudnn_available(void)
{
    return ov_cudnn_get() != NULL;
}

#else

static void say_unavailable(void)
{
    fprintf(stderr, "cuda: cuDNN not available (built without <cudnn.h> 9), conv2d uses im2col\n");
}

int ov_cudnn_available(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    (void)pthread_once(&once, say_unavailable);
    return 0;
}

#endif

extern "C" int ov_backend_cuda_cudnn_available(void)
{
    return ov_cudnn_available();
}
