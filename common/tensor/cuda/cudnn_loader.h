/* cuDNN 9 loaded at run time (dlopen), for conv2d (conv_cuda.cu): no link-time dependency, so a
 * machine without cuDNN still runs every op (conv2d then uses im2col + cuBLAS). Compiled only
 * where <cudnn.h> (major 9) is found; elsewhere ov_cudnn_available() says 0.
 * Library tried in order: $OURVIDZ_CUDNN_LIB (when set), "libcudnn.so.9", "libcudnn.so". cuDNN 9
 * dlopens its own sub-libraries (libcudnn_cnn.so.9, libcudnn_engines_*.so.9) by name, so their
 * folder must be on LD_LIBRARY_PATH (scripts/gpu-check.sh adds pip's nvidia/cudnn/lib). */
#ifndef OV_CUDNN_LOADER_H
#define OV_CUDNN_LOADER_H

#if __has_include(<cudnn.h>)
#include <cudnn.h>
#endif

#include "common/tensor/backend.h"

#if defined(CUDNN_MAJOR) && CUDNN_MAJOR == 9
#define OV_HAVE_CUDNN 1

/* The functions conv_cuda.cu calls, resolved with dlsym (types taken from the header). */
typedef struct ov_cudnn_api {
    size_t version; /* cudnnGetVersion(): 9xxyy */
    decltype(&cudnnGetVersion) GetVersion;
    decltype(&cudnnGetErrorString) GetErrorString;
    decltype(&cudnnCreate) Create;
    decltype(&cudnnDestroy) Destroy;
    decltype(&cudnnSetStream) SetStream;
    decltype(&cudnnCreateTensorDescriptor) CreateTensorDescriptor;
    decltype(&cudnnSetTensor4dDescriptor) SetTensor4dDescriptor;
    decltype(&cudnnDestroyTensorDescriptor) DestroyTensorDescriptor;
    decltype(&cudnnCreateFilterDescriptor) CreateFilterDescriptor;
    decltype(&cudnnSetFilter4dDescriptor) SetFilter4dDescriptor;
    decltype(&cudnnDestroyFilterDescriptor) DestroyFilterDescriptor;
    decltype(&cudnnCreateConvolutionDescriptor) CreateConvolutionDescriptor;
    decltype(&cudnnSetConvolution2dDescriptor) SetConvolution2dDescriptor;
    decltype(&cudnnSetConvolutionGroupCount) SetConvolutionGroupCount;
    decltype(&cudnnSetConvolutionMathType) SetConvolutionMathType;
    decltype(&cudnnGetConvolution2dForwardOutputDim) GetConvolution2dForwardOutputDim;
    decltype(&cudnnDestroyConvolutionDescriptor) DestroyConvolutionDescriptor;
    decltype(&cudnnGetConvolutionForwardAlgorithm_v7) GetConvolutionForwardAlgorithm_v7;
    decltype(&cudnnFindConvolutionForwardAlgorithmEx) FindConvolutionForwardAlgorithmEx;
    decltype(&cudnnGetConvolutionForwardWorkspaceSize) GetConvolutionForwardWorkspaceSize;
    decltype(&cudnnConvolutionForward) ConvolutionForward;
    /* The graph (backend) API, for fused attention (sdpa_cudnn.cu); NULL when the library lacks it
     * (conv2d does not need it). */
    decltype(&cudnnBackendCreateDescriptor) BackendCreateDescriptor;
    decltype(&cudnnBackendDestroyDescriptor) BackendDestroyDescriptor;
    decltype(&cudnnBackendSetAttribute) BackendSetAttribute;
    decltype(&cudnnBackendGetAttribute) BackendGetAttribute;
    decltype(&cudnnBackendFinalize) BackendFinalize;
    decltype(&cudnnBackendExecute) BackendExecute;
} ov_cudnn_api;

/* The process-wide table: loaded on the first call (pthread_once; one stderr line saying which
 * library was loaded or why none was), NULL when cuDNN is unavailable. */
const ov_cudnn_api *ov_cudnn_get(void);

/* conv_cuda.cu: be's cuDNN handle on its stream (made at the first use; NULL when cuDNN is off for
 * be), and the cuDNN workspace of at least `bytes` (0, 1 = no memory: fall back, or a sticky
 * error). One stream: conv2d and attention never use them at the same time. */
const ov_cudnn_api *ov_cuda_cudnn_ready(ov_backend *be);
int ov_cuda_cudnn_ws(ov_backend *be, const char *op, size_t bytes, void **ws);
#endif

/* 1 when the table above loads (loads it on the first call), else 0. */
int ov_cudnn_available(void);

#endif
